/**
 * Server-sent events: `client.sse` reads a stream of events and, when the server closes it, reconnects after the
 * server's `retry:` with `Last-Event-ID`, so the server resumes where the client left off. Taking the events you want
 * (`Stream.take`) closes the connection.
 *
 * It starts its own event stream server on loopback, so it needs no network:
 * `npx tsx --conditions=httpfx-source examples/sse.ts`.
 */
import { Console, Effect, Stream } from "effect"
import * as http from "node:http"
import type * as net from "node:net"
import { Client } from "httpfx"

const TICKS = ["first", "second", "third", "fourth", "fifth"]

/**
 * Sends the ticks after the one named by Last-Event-ID, two per connection, then closes the connection: the client
 * has to reconnect to hear the rest.
 */
const startServer = Effect.acquireRelease(
  Effect.async<http.Server>((resume) => {
    const server = http.createServer((request, response) => {
      const lastId = request.headers["last-event-id"]
      const from = lastId === undefined ? 0 : Number(lastId) + 1
      console.log(`server: connection with Last-Event-ID ${lastId ?? "(none)"}`)
      response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" })
      // Reconnect after 200 ms rather than the default 3 seconds; comments (":") are ignored by the client.
      response.write("retry: 200\n: ticks follow\n\n")
      for (const id of [from, from + 1]) {
        if (id >= TICKS.length) break
        response.write(`id: ${id}\nevent: tick\ndata: ${TICKS[id]}\n\n`)
      }
      response.end()
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

const main = Effect.gen(function*() {
  const server = yield* startServer
  const { port } = server.address() as net.AddressInfo
  const client = yield* Client.make()

  yield* client.sse(`http://127.0.0.1:${port}/ticks`).pipe(
    Stream.take(TICKS.length),
    Stream.runForEach((event) => Console.log(`client: ${event.event} #${event.id}: ${event.data}`))
  )
  yield* Console.log("client: done")
})

Effect.runPromise(Effect.scoped(main)).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
