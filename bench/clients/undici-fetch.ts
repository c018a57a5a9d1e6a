// undici's fetch (the WHATWG API, same engine Node's global fetch uses), on an
// explicit Agent so the connection count matches the other clients.
import { Agent, fetch } from "undici"
import { checkResponse, countBytes, main, measurePromise } from "./harness.js"

main("undici-fetch", async (config) => {
  const dispatcher = new Agent({ connections: config.concurrency })
  const url = config.url.href
  const init = config.workload.requestBytes > 0
    ? {
      method: config.workload.method,
      body: config.payload,
      headers: { "content-type": "application/octet-stream" },
      dispatcher
    }
    : { method: config.workload.method, dispatcher }
  const download = config.workload.mode === "download"
  try {
    return await measurePromise("undici-fetch", config, async () => {
      const response = await fetch(url, init)
      const bytes = download && response.body !== null
        ? await countBytes(response.body)
        : (await response.arrayBuffer()).byteLength
      checkResponse(config, response.status, bytes)
    })
  } finally {
    await dispatcher.close()
  }
})
