// Node's global fetch: the undici bundled with Node itself, on its default
// global dispatcher, as code that calls fetch() with no options gets it. There
// is no connection limit to set without importing undici, but C workers with
// one request each in flight never need more than C connections; the runner's
// connection count shows it.
import { checkResponse, countBytes, main, measurePromise } from "./harness.js"

main("node-fetch-global", async (config) => {
  const url = config.url.href
  // A copy typed as ArrayBuffer-backed, which is what DOM's BodyInit accepts.
  const payload = new Uint8Array(config.payload)
  const init: RequestInit = config.workload.requestBytes > 0
    ? { method: config.workload.method, body: payload, headers: { "content-type": "application/octet-stream" } }
    : { method: config.workload.method }
  const download = config.workload.mode === "download"
  return await measurePromise("node-fetch-global", config, async () => {
    const response = await globalThis.fetch(url, init)
    const bytes = download && response.body !== null
      ? await countBytes(response.body as unknown as AsyncIterable<Uint8Array>)
      : (await response.arrayBuffer()).byteLength
    checkResponse(config, response.status, bytes)
  })
})
