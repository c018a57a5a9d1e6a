/**
 * The concurrent download from httpcore's async docs, the Effect way, three times over: twenty pages fetched at
 * once through one scoped pool — with Effect.all (asyncio.gather), with a Nursery (trio's nursery, anyio's task
 * group), and as a stream of results in completion order (httpx's old client.parallel()) — each followed by the
 * pool's connections, printed the way httpcore prints them, and the time taken.
 *
 * It starts its own server on loopback, so it needs no network: `npm start`.
 */
import { Console, Effect, Stream } from "effect"
import * as http from "node:http"
import { Concurrent, Nursery, Pool } from "httpfx"

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

const years = Array.from({ length: 20 }, (_, i) => 2000 + i)

/** One run: a fresh pool, the downloads, then the connections and the time, as in the seed. */
const timed = (title: string, download: (pool: Pool.Pool) => Effect.Effect<void, unknown>) =>
  Effect.scoped(Effect.gen(function*() {
    yield* Console.log(`\n${title}`)
    const pool = yield* Pool.make()
    const started = performance.now()
    yield* download(pool)
    const complete = performance.now()
    for (const connection of yield* pool.connections) yield* Console.log(String(connection))
    yield* Console.log(`Complete in ${((complete - started) / 1000).toFixed(3)} seconds`)
  }))

const main = Effect.gen(function*() {
  const server = yield* startServer
  const { port } = server.address() as { port: number }
  const page = (pool: Pool.Pool, year: number) => pool.request("GET", `http://127.0.0.1:${port}/wiki/${year}`)

  // asyncio.gather(*tasks)
  yield* timed(
    "Effect.all — asyncio.gather",
    (pool) => Effect.all(years.map((year) => page(pool, year)), { concurrency: "unbounded", discard: true })
  )

  // async with trio.open_nursery() as nursery: nursery.start_soon(download, http, year)
  yield* timed(
    "Nursery — trio's nursery, anyio's task group",
    (pool) =>
      Nursery.open((nursery) => Effect.forEach(years, (year) => nursery.startSoon(page(pool, year)), { discard: true }))
  )

  // for response in client.parallel(): results as they complete
  yield* timed(
    "Concurrent.asCompleted — results in completion order",
    (pool) =>
      Concurrent.asCompleted(years.map((year) => page(pool, year)), { concurrency: "unbounded" }).pipe(
        Stream.runForEach((response) => Effect.sync(() => process.stdout.write(`${response.url.split("/").pop()} `))),
        Effect.zipRight(Console.log(""))
      )
  )
})

Effect.runPromise(Effect.scoped(main)).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
