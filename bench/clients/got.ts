// got with its defaults, given a keep-alive Agent (got's own default agent is
// Node's global one, which keeps connections alive since Node 19 but has no
// socket limit) and no retries, so that every request is sent exactly once.
import { Agent } from "node:http"
import got from "got"
import { checkResponse, countBytes, main, measurePromise } from "./harness.js"

main("got", async (config) => {
  const agent = new Agent({ keepAlive: true, maxSockets: config.concurrency })
  const client = got.extend({
    agent: { http: agent },
    retry: { limit: 0 },
    // A status other than 2xx must reach checkResponse, not throw elsewhere.
    throwHttpErrors: false
  })
  const url = config.url.href
  const post = config.workload.method === "POST"
  // got takes a Buffer (not any Uint8Array) as a body of known length.
  const payload = Buffer.from(config.payload)
  try {
    return await measurePromise("got", config, async () => {
      if (config.workload.mode === "download") {
        const stream = client.stream(url)
        let status = 0
        stream.once("response", (response: { statusCode: number }) => {
          status = response.statusCode
        })
        const bytes = await countBytes(stream)
        checkResponse(config, status, bytes)
        return
      }
      const response = await client(url, {
        method: config.workload.method,
        ...(post ? { body: payload, headers: { "content-type": "application/octet-stream" } } : {}),
        responseType: "buffer"
      })
      checkResponse(config, response.statusCode, response.body.length)
    })
  } finally {
    agent.destroy()
  }
})
