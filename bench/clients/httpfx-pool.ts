// httpfx's own pool: the client this benchmark exists for.
import { Effect } from "effect"
import { Pool } from "../../src/index.js"
import { checkResponse, main, measureEffect } from "./harness.js"

main("httpfx-pool", (config) => {
  const url = config.url.href
  const { method } = config.workload
  // Same shape as the other clients: one connection per fiber, all kept alive.
  const options = config.workload.requestBytes > 0
    ? { content: config.payload, headers: { "content-type": "application/octet-stream" } }
    : undefined
  const program = Effect.gen(function*() {
    const pool = yield* Pool.make({ maxConnections: config.concurrency, maxKeepaliveConnections: config.concurrency })
    const send = () =>
      Effect.flatMap(pool.request(method, url, options), (response) =>
        Effect.sync(() => checkResponse(config, response.status, response.content.length)))
    return yield* measureEffect("httpfx-pool", config, send)
  })
  return Effect.runPromise(Effect.scoped(program))
})
