// httpfx's high-level Client: what most users call (`client.get` / `client.post`), over the same pool.
import { Effect } from "effect"
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
      maxKeepaliveConnections: config.concurrency
    })
    const send = () =>
      Effect.flatMap(client.request(method, url, options), (response) =>
        Effect.sync(() => checkResponse(config, response.status, response.content.length)))
    return yield* measureEffect("httpfx-client", config, send)
  })
  return Effect.runPromise(Effect.scoped(program))
})
