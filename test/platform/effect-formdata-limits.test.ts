/**
 * @effect/platform's own "formData withMaxFileSize" and "formData withMaxFieldSize" tests (packages/platform-node/
 * test/HttpServer.test.ts of Effect-TS/effect, v3, @effect/platform-node 0.108), with Platform.layer as the client
 * in place of NodeHttpClient.layerUndici: the server is platform's NodeHttpServer, its multipart limits answer 413.
 *
 * They need the multipart body sent as undici writes it, one chunk per part and the closing delimiter apart: the
 * server's parser (multipasta) loses a limit error raised by the same write that reaches the closing delimiter, and
 * then answers 204. A buffered body, or one chunk, gave exactly that.
 */
import {
  HttpBody,
  HttpClient,
  HttpRouter,
  HttpServer,
  HttpServerRequest,
  HttpServerResponse,
  Multipart
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { Platform } from "httpfx"
import * as http from "node:http"

// NodeHttpServer.layerTest, with httpfx as the client under HttpServer.layerTestClient.
const layerTest = HttpServer.layerTestClient.pipe(
  Layer.provide(Platform.layer()),
  Layer.provideMerge(NodeHttpServer.layer(() => http.createServer(), { port: 0, host: "127.0.0.1" }))
)

describe("@effect/platform's HttpServer formData limit tests, over Platform.layer", () => {
  it.scoped("formData withMaxFileSize", () =>
    Effect.gen(function*() {
      yield* HttpRouter.empty.pipe(
        HttpRouter.post(
          "/upload",
          Effect.gen(function*() {
            const request = yield* HttpServerRequest.HttpServerRequest
            yield* request.multipart
            return HttpServerResponse.empty()
          })
        ),
        Effect.catchTag("MultipartError", (error) =>
          error.reason === "FileTooLarge" ?
            HttpServerResponse.empty({ status: 413 }) :
            Effect.fail(error)),
        HttpServer.serveEffect(),
        Multipart.withMaxFileSize(Option.some(100))
      )
      const client = yield* HttpClient.HttpClient
      const formData = new FormData()
      const data = new Uint8Array(1000)
      formData.append("file", new Blob([data], { type: "text/plain" }), "test.txt")
      const response = yield* client.post("/upload", { body: HttpBody.formData(formData) })
      expect(response.status).toEqual(413)
    }).pipe(Effect.provide(layerTest)))

  it.scoped("formData withMaxFieldSize", () =>
    Effect.gen(function*() {
      yield* HttpRouter.empty.pipe(
        HttpRouter.post(
          "/upload",
          Effect.gen(function*() {
            const request = yield* HttpServerRequest.HttpServerRequest
            yield* request.multipart
            return HttpServerResponse.empty()
          })
        ),
        Effect.catchTag("MultipartError", (error) =>
          error.reason === "FieldTooLarge" ?
            HttpServerResponse.empty({ status: 413 }) :
            Effect.fail(error)),
        HttpServer.serveEffect(),
        Multipart.withMaxFieldSize(100)
      )
      const client = yield* HttpClient.HttpClient
      const formData = new FormData()
      const data = new Uint8Array(1000).fill(1)
      formData.append("file", new TextDecoder().decode(data))
      const response = yield* client.post("/upload", { body: HttpBody.formData(formData) })
      expect(response.status).toEqual(413)
    }).pipe(Effect.provide(layerTest)))
})
