// axios with its defaults (its node:http adapter, through follow-redirects),
// given a keep-alive Agent: without one every request would pay for a new TCP
// connection and the run would measure the kernel, not the client.
import { Agent } from "node:http"
import axios from "axios"
import { checkResponse, countBytes, main, measurePromise } from "./harness.js"

main("axios", async (config) => {
  const agent = new Agent({ keepAlive: true, maxSockets: config.concurrency })
  const download = config.workload.mode === "download"
  const instance = axios.create({
    httpAgent: agent,
    // A status other than 2xx must reach checkResponse, not throw elsewhere.
    validateStatus: () => true
  })
  const url = config.url.href
  const post = config.workload.method === "POST"
  const headers = post ? { "content-type": "application/octet-stream" } : undefined
  try {
    return await measurePromise("axios", config, async () => {
      if (download) {
        const response = await instance.get<AsyncIterable<Uint8Array>>(url, { responseType: "stream" })
        checkResponse(config, response.status, await countBytes(response.data))
        return
      }
      const response = await instance.request<ArrayBuffer>({
        url,
        method: config.workload.method,
        data: post ? config.payload : undefined,
        headers,
        responseType: "arraybuffer"
      })
      checkResponse(config, response.status, response.data.byteLength)
    })
  } finally {
    agent.destroy()
  }
})
