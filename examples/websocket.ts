/**
 * A WebSocket on the client's own connections: it starts an echo server on loopback (the `ws` package's), opens a
 * WebSocket to it, sends text and bytes, reads the echoes, and closes; the scope would close it too.
 *
 * `npx tsx --conditions=httpfx-source examples/websocket.ts`
 */
import { Console, Effect, Stream } from "effect"
import type * as net from "node:net"
import { Client } from "httpfx"
import { WebSocketServer } from "ws"

// ---- a loopback echo server ----------------------------------------------------------------------------------------

const echoServer = Effect.acquireRelease(
  Effect.async<WebSocketServer>((resume) => {
    const server = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: () => "echo" })
    server.on("connection", (socket) => {
      socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }))
    })
    server.on("listening", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.async<void>((resume) => server.close(() => resume(Effect.void)))
)

// ---- the client ----------------------------------------------------------------------------------------------------

const program = Effect.gen(function*() {
  const server = yield* echoServer
  const url = `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/chat`

  const socket = yield* Client.websocket(url, { protocols: ["echo"], headers: { "x-room": "lobby" } })
  yield* Console.log(`connected, subprotocol ${JSON.stringify(socket.protocol)}`)

  yield* socket.send("hello")
  yield* socket.send("héllo wörld")
  yield* socket.send(new Uint8Array([1, 2, 3]))

  yield* socket.messages.pipe(
    Stream.take(3),
    Stream.runForEach((message) =>
      Console.log(typeof message === "string" ? `text: ${message}` : `bytes: ${[...message].join(",")}`)
    )
  )

  // A close code and reason of our own; without this, closing the scope sends 1000.
  yield* socket.close(1000, "done")
  yield* Console.log("closed")
})

Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(Client.layer())))
