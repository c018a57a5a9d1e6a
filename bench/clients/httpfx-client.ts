// httpfx's high-level Client: what most users call (`client.get` / `client.post`,
// `client.stream` for large bodies), over the same pool.
import { Effect, Stream } from "effect"
import { Client } from "../../src/index.js"
import { checkResponse, main, measureEffect } from "./harness.js"

main("httpfx-client", (config) => {
  const url = config.url.href
  const { method } = config.workload
  const options = config.workload.requestBytes > 0
    ? { content: config.payload, headers: { "content-type": "application/octet-stream" } }
    : undefined
  const program = Effect.gen(function*() {
    const client = yield* Client.make({
      maxConnections: config.concurrency,
      maxKeepaliveConnections: config.concurrency,
      // A burst queues 10,000 requests for 100 connections: waiting longer
      // than the default 5 s pool timeout is the point there, not a failure.
      ...(config.workload.mode === "burst" ? { timeout: { pool: null } } : {})
    })
    const buffered = () =>
      Effect.flatMap(client.request(method, url, options), (response) =>
        Effect.sync(() => checkResponse(config, response.status, response.content.length)))
    // The body is counted as it streams and never held whole.
    const streamed = () =>
      Effect.scoped(
        Effect.flatMap(client.stream(method, url, options), (response) => {
          let bytes = 0
          return Effect.flatMap(
            Stream.runForEach(response.stream, (chunk) =>
              Effect.sync(() => {
                bytes += chunk.byteLength
              })),
            () => Effect.sync(() => checkResponse(config, response.status, bytes))
          )
        })
      )
    return yield* measureEffect("httpfx-client", config, config.workload.mode === "download" ? streamed : buffered)
  })
  return Effect.runPromise(Effect.scoped(program))
})
