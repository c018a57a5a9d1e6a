// The measurement loop for every client reached through @effect/platform's
// HttpClient API, shared so that @effect/platform-node's layers and httpfx's
// Platform.layer run exactly the same application code and only the layer
// providing HttpClient.HttpClient differs.
import { HttpBody, HttpClient } from "@effect/platform"
import { Effect } from "effect"
import type { Layer } from "effect"
import type { BenchResult } from "../shared.js"
import { checkResponse, countStream, measureEffect } from "./harness.js"
import type { ClientConfig } from "./harness.js"

export const runPlatform = (
  name: string,
  config: ClientConfig,
  layer: Layer.Layer<HttpClient.HttpClient>
): Promise<BenchResult> => {
  const url = config.url.href
  const body = HttpBody.uint8Array(config.payload, "application/octet-stream")
  const download = config.workload.mode === "download"
  const program = Effect.gen(function*() {
    // Resolved once, as a service would; the loop then measures the client
    // itself rather than a context lookup per request.
    const client = yield* HttpClient.HttpClient
    const post = config.workload.method === "POST"
    // No Effect.scoped here: since @effect/platform 0.7x a response does not
    // need a Scope; its connection is released once the body has been read.
    const send = () =>
      Effect.flatMap(post ? client.post(url, { body }) : client.get(url), (response) => {
        if (download) return countStream(config, response.status, response.stream)
        return Effect.flatMap(response.arrayBuffer, (content) =>
          Effect.sync(() => checkResponse(config, response.status, content.byteLength)))
      })
    return yield* measureEffect(name, config, send)
  })
  return Effect.runPromise(program.pipe(Effect.provide(layer)))
}
