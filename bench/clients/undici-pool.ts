// undici's Pool: the reference every other client is compared against
// (undici-pool = 1.00× in the table).
import { Pool } from "undici"
import { checkResponse, countBytes, main, measurePromise } from "./harness.js"

main("undici-pool", async (config) => {
  // One connection per worker and no pipelining, like every other client here.
  const pool = new Pool(config.origin, { connections: config.concurrency, pipelining: 1 })
  const { method, path } = config.workload
  const body = config.workload.requestBytes > 0 ? config.payload : null
  const headers = body === null ? undefined : { "content-type": "application/octet-stream" }
  const download = config.workload.mode === "download"
  try {
    return await measurePromise("undici-pool", config, async () => {
      const response = await pool.request({ origin: config.origin, path, method, body, headers })
      // The body is a Readable: counted chunk by chunk for a download,
      // collected whole otherwise, as an application would.
      const bytes = download ? await countBytes(response.body) : (await response.body.arrayBuffer()).byteLength
      checkResponse(config, response.statusCode, bytes)
    })
  } finally {
    await pool.close()
  }
})
