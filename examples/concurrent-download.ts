/**
 * The concurrent download from httpcore's async docs, the Effect way: twenty pages fetched at once through one
 * scoped pool, then every connection printed the way httpcore prints them.
 *
 * It starts its own server on loopback, so it needs no network: `npm start`.
 */
import { Console, Effect } from "effect"
import * as http from "node:http"
import { Pool } from "httpfx"

/** A stand-in for Wikipedia: each page takes a little while, as a real one would. */
const startServer = Effect.acquireRelease(
  Effect.async<http.Server>((resume) => {
    const server = http.createServer((request, response) => {
      setTimeout(() => {
        response.setHeader("content-type", "text/html; charset=utf-8")
        response.end(`<html><body><h1>${request.url}</h1>${"<p>Lorem ipsum dolor sit amet.</p>".repeat(200)}</body></html>`)
      }, 50)
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

const download = (pool: Pool.Pool, base: string, year: number) =>
  pool.request("GET", `${base}/wiki/${year}`)

const main = Effect.gen(function*() {
  const server = yield* startServer
  const { port } = server.address() as { port: number }
  const base = `http://127.0.0.1:${port}`

  const pool = yield* Pool.make()
  const started = performance.now()
  // Effect.all with unbounded concurrency is asyncio.gather: every download runs at once.
  yield* Effect.all(
    Array.from({ length: 20 }, (_, i) => download(pool, base, 2000 + i)),
    { concurrency: "unbounded", discard: true }
  )
  const complete = performance.now()
  for (const connection of yield* pool.connections) {
    yield* Console.log(String(connection))
  }
  yield* Console.log(`Complete in ${((complete - started) / 1000).toFixed(3)} seconds`)
})

Effect.runPromise(Effect.scoped(main)).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
