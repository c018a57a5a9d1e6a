/**
 * Forwarding a streamed response: an @effect/platform-node server whose `/forward` endpoint fetches an upstream
 * response with httpfx's `Client.stream` and passes its body on, chunk by chunk, as its own streamed response.
 *
 * Nothing is buffered, and nothing needs closing by hand: the upstream body belongs to the Scope of the request being
 * served, which platform keeps open until the forwarded stream has been written. When the last byte is through, the
 * upstream connection goes back to the pool; if the downstream client goes away first, platform interrupts the
 * handler, the scope closes, and the upstream connection is closed with it.
 *
 * It starts its own upstream server and the forwarding server on 127.0.0.1, makes one request through them, prints
 * what arrived, and exits: `npx tsx --conditions=httpfx-source examples/forward-stream.ts`.
 */
import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Console, Context, Effect, Layer, Stream } from "effect"
import * as http from "node:http"
import { Client } from "httpfx"

/** The upstream: a slow producer that sends one line every 50 ms. */
const upstreamServer = Effect.acquireRelease(
  Effect.async<http.Server>((resume) => {
    const server = http.createServer((_request, response) => {
      response.setHeader("content-type", "text/plain; charset=utf-8")
      let line = 0
      const timer = setInterval(() => {
        line++
        response.write(`line ${line} from upstream at +${line * 50} ms\n`)
        if (line === 5) {
          clearInterval(timer)
          response.end()
        }
      }, 50)
      response.on("close", () => clearInterval(timer))
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

/** The forwarding endpoint: the upstream response's status, type and body, streamed as they come. */
const forward = (upstreamUrl: string) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    // Client.stream needs a Scope: the one platform opens for this request, closed after the response is written.
    const upstream = yield* client.stream("GET", upstreamUrl)
    return HttpServerResponse.stream(upstream.stream, {
      status: upstream.status,
      contentType: upstream.headers["content-type"]
    })
  })

const forwardingServer = (upstreamUrl: string) =>
  HttpRouter.empty.pipe(
    HttpRouter.get("/forward", forward(upstreamUrl)),
    HttpServer.serve(),
    Layer.provideMerge(Client.layer()),
    Layer.provideMerge(NodeHttpServer.layer(() => http.createServer(), { port: 0, host: "127.0.0.1" }))
  )

const main = Effect.gen(function*() {
  const upstream = yield* upstreamServer
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}/numbers`

  const context = yield* Layer.build(forwardingServer(upstreamUrl))
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
  const forwardUrl = `http://127.0.0.1:${address.port}/forward`

  // One request through the forwarder, read as a stream so each line shows up as it arrives.
  const client = yield* Client.make()
  const started = performance.now()
  const response = yield* client.stream("GET", forwardUrl)
  yield* Console.log(`GET ${forwardUrl} -> ${response.status} ${response.headers["content-type"]}`)
  yield* response.lines.pipe(
    Stream.runForEach((line) => Console.log(`  +${Math.round(performance.now() - started)} ms  ${line}`))
  )
  yield* Console.log("done: every line arrived as the upstream sent it")

  // The forwarder's upstream connection went back to its pool at the upstream body's last byte.
  for (const connection of yield* Context.get(context, Client.Client).pool) {
    yield* Console.log(`forwarder's pool: ${connection}`)
  }
})

// Everything (both servers, both pools) belongs to this scope, so the process exits when main is done.
Effect.runPromise(Effect.scoped(main)).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
