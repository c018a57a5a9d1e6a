// httpfx's own pool: the client this benchmark exists for.
import { Effect, Stream } from "effect"
import { Pool } from "../../src/index.js"
import { checkResponse, main, measureEffect } from "./harness.js"

main("httpfx-pool", (config) => {
  const url = config.url.href
  const { method } = config.workload
  const options = config.workload.requestBytes > 0
    ? { content: config.payload, headers: { "content-type": "application/octet-stream" } }
    : undefined
  const program = Effect.gen(function*() {
    // Same shape as the other clients: one connection per fiber, all kept
    // alive. A burst queues 10,000 requests for 100 connections: waiting
    // longer than the default 5 s pool timeout is the point there.
    const pool = yield* Pool.make({
      maxConnections: config.concurrency,
      maxKeepaliveConnections: config.concurrency,
      ...(config.workload.mode === "burst" ? { timeout: { pool: null } } : {})
    })
    const buffered = () =>
      Effect.flatMap(pool.request(method, url, options), (response) =>
        Effect.sync(() => checkResponse(config, response.status, response.content.length)))
    // The body is counted as it streams and never held whole; the scope ends
    // the exchange (the connection is back in the pool once the body is read).
    const streamed = () =>
      Effect.scoped(
        Effect.flatMap(pool.stream(method, url, options), (response) => {
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
    return yield* measureEffect("httpfx-pool", config, config.workload.mode === "download" ? streamed : buffered)
  })
  return Effect.runPromise(Effect.scoped(program))
})
