/**
 * Platform.layer in the places Effect's own platform tests (Effect-TS/effect, packages/platform-node/test and
 * packages/platform/test, @effect/platform-node 0.108) put NodeHttpClient.layer, NodeHttpClient.layerUndici or
 * FetchHttpClient.layer. Those files pass with Platform.layer as the client; what they pin here is the type: a
 * program that names the client layer `Layer.Layer<HttpClient.HttpClient>`, as their layers are, must accept
 * `Platform.layer()` unchanged. `npm run typecheck` compiles this file.
 */
import type { HttpClient } from "@effect/platform"
import { FetchHttpClient } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, it } from "@effect/vitest"
import type { Effect, Layer, Scope } from "effect"
import type { HttpError } from "httpfx"
import { Platform } from "httpfx"
import { expectTypeOf } from "vitest"

type ClientLayer = Layer.Layer<HttpClient.HttpClient>

describe("Platform.layer in Effect's platform tests", () => {
  it("Platform.layer() has the type of NodeHttpClient.layer, layerUndici and FetchHttpClient.layer", () => {
    expectTypeOf(Platform.layer()).toEqualTypeOf<ClientLayer>()
    expectTypeOf(NodeHttpClient.layer).toEqualTypeOf<ClientLayer>()
    expectTypeOf(NodeHttpClient.layerUndici).toEqualTypeOf<ClientLayer>()
    expectTypeOf(FetchHttpClient.layer).toEqualTypeOf<ClientLayer>()
  })

  it("Platform.make() cannot fail either", () => {
    expectTypeOf(Platform.make()).toEqualTypeOf<Effect.Effect<HttpClient.HttpClient, never, Scope.Scope>>()
  })

  it("options that can be wrong keep their typed failures", () => {
    expectTypeOf(Platform.layer({ baseUrl: "http://127.0.0.1:1" })).toEqualTypeOf<
      Layer.Layer<HttpClient.HttpClient, HttpError.InvalidUrl | HttpError.LocalProtocolError>
    >()
    expectTypeOf(Platform.make({ timeout: "1 second" })).toEqualTypeOf<
      Effect.Effect<HttpClient.HttpClient, HttpError.InvalidUrl | HttpError.LocalProtocolError, Scope.Scope>
    >()
  })
})
