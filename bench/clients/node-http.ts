// node:http with a keep-alive Agent: what most Node code uses underneath.
import { Agent, request } from "node:http"
import type { RequestOptions } from "node:http"
import { checkResponse, main, measurePromise } from "./harness.js"
import type { ClientConfig } from "./harness.js"

const send = (config: ClientConfig, options: RequestOptions): Promise<void> =>
  new Promise((resolve, reject) => {
    const req = request(options, (res) => {
      // Collect the body into one buffer, as an application would; a download
      // is only counted, chunk by chunk.
      const download = config.workload.mode === "download"
      const chunks: Array<Buffer> = []
      let bytes = 0
      res.on("data", (chunk: Buffer) => {
        if (download) bytes += chunk.length
        else chunks.push(chunk)
      })
      res.on("error", reject)
      res.on("end", () => {
        try {
          checkResponse(config, res.statusCode ?? 0, download ? bytes : Buffer.concat(chunks).length)
          resolve()
        } catch (error) {
          reject(error)
        }
      })
    })
    req.on("error", reject)
    if (config.workload.requestBytes > 0) req.end(config.payload)
    else req.end()
  })

main("node-http", async (config) => {
  // new Agent() is not keep-alive by default; without it every request would
  // pay for a new TCP connection.
  const agent = new Agent({ keepAlive: true, maxSockets: config.concurrency })
  const options: RequestOptions = {
    agent,
    host: config.origin.hostname,
    port: Number(config.origin.port),
    method: config.workload.method,
    path: config.workload.path,
    headers: config.workload.requestBytes > 0
      ? { "content-type": "application/octet-stream", "content-length": config.workload.requestBytes }
      : {}
  }
  try {
    return await measurePromise("node-http", config, () => send(config, options))
  } finally {
    agent.destroy()
  }
})
