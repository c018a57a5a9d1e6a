/**
 * Platform.layerWebSocketConstructor as a drop-in for @effect/platform-node's NodeSocket.layerWebSocketConstructor:
 * the same platform programs (Socket.makeWebSocket, RPC over WebSockets) run once on each, against one `ws` server,
 * and must see the same thing.
 */
import { HttpRouter, HttpServer } from "@effect/platform"
import * as Socket from "@effect/platform/Socket"
import { NodeHttpServer, NodeSocket } from "@effect/platform-node"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Layer, Queue, Schema, Stream } from "effect"
import { Platform } from "httpfx"
import * as http from "node:http"
import type * as net from "node:net"
import { wsServer } from "../websocket/peers.js"

const implementations: ReadonlyArray<readonly [string, Layer.Layer<Socket.WebSocketConstructor>]> = [
  ["platform-node", NodeSocket.layerWebSocketConstructor],
  ["httpfx", Platform.layerWebSocketConstructor()]
]

/** Runs `f` with each constructor and returns what each gave, in order. */
const onBoth = <A, E>(
  f: () => Effect.Effect<A, E, Socket.WebSocketConstructor>
): Effect.Effect<Array<Either.Either<A, E>>> =>
  Effect.forEach(implementations, ([, layer]) => Effect.either(Effect.provide(f(), layer)))

/** Sends `outgoing` over a platform Socket and collects `count` messages as they arrive, then closes (1000). */
const echo = (url: string, outgoing: ReadonlyArray<string | Uint8Array>, count: number) =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* Socket.makeWebSocket(url)
    const write = yield* socket.writer
    const received = yield* Queue.unbounded<string | Uint8Array>()
    yield* Effect.forkScoped(socket.runRaw((message) => Queue.offer(received, message)))
    for (const message of outgoing) yield* write(message)
    const messages = yield* Queue.takeBetween(received, count, count)
    return Chunk.toReadonlyArray(messages).map((m) => typeof m === "string" ? m : Array.from(new Uint8Array(m)))
  })).pipe(Effect.timeout("5 seconds"))

/** Writes one message and runs the socket until it ends (the servers below close it when they get the message). */
const sayByeAndRun = (url: string) =>
  Effect.scoped(Effect.gen(function*() {
    const socket = yield* Socket.makeWebSocket(url)
    const write = yield* socket.writer
    yield* Effect.forkScoped(write("bye"))
    return yield* socket.runRaw(() => {})
  })).pipe(Effect.timeout("5 seconds"))

describe("Platform.layerWebSocketConstructor", () => {
  it.scoped("echoes text messages through Socket.makeWebSocket as platform-node does", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const results = yield* onBoth(() => echo(peer.url, ["hello", "wörld"], 2))
      expect(results).toEqual([Either.right(["hello", "wörld"]), Either.right(["hello", "wörld"])])
    }))

  it.scoped("echoes binary messages as bytes through Socket.run as platform-node does", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const payload = new Uint8Array([0, 1, 2, 254, 255])
      const results = yield* onBoth(() =>
        Effect.scoped(Effect.gen(function*() {
          const socket = yield* Socket.makeWebSocket(peer.url)
          const write = yield* socket.writer
          const received = yield* Queue.unbounded<Uint8Array>()
          yield* Effect.forkScoped(socket.run((bytes) => Queue.offer(received, bytes)))
          yield* write(payload)
          yield* write("text as bytes")
          // platform-node's own Socket does not always deliver a binary and a text echo in the order they were
          // written (seen on Node 22): compare what came, not its order.
          const both = Chunk.toReadonlyArray(yield* Queue.takeBetween(received, 2, 2))
          const binary = both.find((bytes) => bytes[0] === 0)
          const text = both.find((bytes) => bytes[0] !== 0)
          return [binary && Array.from(binary), text && new TextDecoder().decode(text)]
        })).pipe(Effect.timeout("5 seconds"))
      )
      const expected = Either.right([[0, 1, 2, 254, 255], "text as bytes"])
      expect(results).toEqual([expected, expected])
    }))

  it.scoped("keeps the order of many messages written in a row", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const outgoing = Array.from({ length: 200 }, (_, i) => `message ${i}`)
      const results = yield* onBoth(() => echo(peer.url, outgoing, outgoing.length))
      expect(results).toEqual([Either.right(outgoing), Either.right(outgoing)])
    }))

  it.scoped("fails run with SocketCloseError carrying the server's close code 4000 and reason", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ onConnection: (socket) => socket.on("message", () => socket.close(4000, "go away")) })
      const results = yield* onBoth(() => sayByeAndRun(peer.url))
      for (const result of results) {
        expect(Either.isLeft(result)).toBe(true)
        const error = Either.getLeft(result).pipe((o) => o._tag === "Some" ? o.value : undefined)
        expect(error).toMatchObject({ _tag: "SocketError", reason: "Close", code: 4000, closeReason: "go away" })
      }
    }))

  it.scoped("ends run without an error when the server closes with 1000", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ onConnection: (socket) => socket.on("message", () => socket.close(1000, "done")) })
      const results = yield* onBoth(() => sayByeAndRun(peer.url))
      expect(results).toEqual([Either.right(undefined), Either.right(undefined)])
    }))

  it.scoped("sends the close code the program writes as a CloseEvent", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      yield* onBoth(() =>
        Effect.scoped(Effect.gen(function*() {
          const socket = yield* Socket.makeWebSocket(peer.url, { closeCodeIsError: () => false })
          const write = yield* socket.writer
          yield* Effect.forkScoped(write(new Socket.CloseEvent(4001, "leaving")))
          return yield* socket.runRaw(() => {})
        })).pipe(Effect.timeout("5 seconds"))
      )
      expect(peer.closes).toEqual([4001, 4001])
    }))

  it.scoped("fails with SocketGenericError \"Open\" when nothing listens, as platform-node does", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const results = yield* onBoth(() =>
        Effect.scoped(Effect.flatMap(Socket.makeWebSocket(`ws://127.0.0.1:${port}`), (socket) => socket.runRaw(() => {})))
          .pipe(Effect.timeout("5 seconds"))
      )
      for (const result of results) {
        const error = Either.getLeft(result).pipe((o) => o._tag === "Some" ? o.value : undefined)
        expect(error).toMatchObject({ _tag: "SocketError", reason: "Open" })
      }
    }))

  it.scoped("offers the protocols and reports the one the server picked", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({
        handleProtocols: (offered) => offered.has("v2") ? "v2" : false,
        onConnection: (socket) => socket.on("message", () => socket.send("hi"))
      })
      const results = yield* onBoth(() =>
        Effect.scoped(Effect.gen(function*() {
          const socket = yield* Socket.makeWebSocket(peer.url, { protocols: ["v1", "v2"] })
          const write = yield* socket.writer
          const picked = yield* Queue.unbounded<string>()
          // Platform provides the WebSocket to each message's handler; its type does not say so.
          const reportProtocol = Effect.flatMap(Socket.WebSocket, (ws) => Queue.offer(picked, ws.protocol))
          yield* Effect.forkScoped(socket.runRaw(() => reportProtocol as Effect.Effect<boolean>))
          yield* write("which?")
          return yield* Queue.take(picked)
        })).pipe(Effect.timeout("5 seconds"))
      )
      expect(results).toEqual([Either.right("v2"), Either.right("v2")])
      const offered = peer.requests.map((request) => request.headers["sec-websocket-protocol"]?.split(/, */))
      expect(offered).toEqual([["v1", "v2"], ["v1", "v2"]])
    }))

  it.scoped("runs an @effect/rpc client over WebSockets against an RpcServer", () =>
    Effect.gen(function*() {
      const url = yield* rpcServer
      const results = yield* onBoth(() =>
        Effect.scoped(Effect.gen(function*() {
          const client = yield* RpcClient.make(Rpcs)
          const one = yield* client.Greet({ name: "Ada" })
          const many = yield* client.Count({ to: 3 }).pipe(Stream.runCollect)
          return [one, Chunk.toReadonlyArray(many)]
        })).pipe(
          Effect.provide(RpcClient.layerProtocolSocket().pipe(
            Layer.provide(Socket.layerWebSocket(url)),
            Layer.provide(RpcSerialization.layerNdjson)
          )),
          Effect.timeout("5 seconds")
        )
      )
      const expected = Either.right(["hello Ada", [1, 2, 3]])
      expect(results).toEqual([expected, expected])
    }))
})

// ---- helpers -----------------------------------------------------------------------------------------------------

const freePort = Effect.async<number>((resume) => {
  const server = http.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

class Rpcs extends RpcGroup.make(
  Rpc.make("Greet", { payload: { name: Schema.String }, success: Schema.String }),
  Rpc.make("Count", { payload: { to: Schema.Number }, success: Schema.Number, stream: true })
) {}

const handlers = Rpcs.toLayer({
  Greet: ({ name }) => Effect.succeed(`hello ${name}`),
  Count: ({ to }) => Stream.range(1, to)
})

/** An RpcServer over WebSockets on NodeHttpServer at 127.0.0.1, for the scope; its ws:// URL. */
const rpcServer = Effect.gen(function*() {
  const app = yield* RpcServer.toHttpAppWebsocket(Rpcs)
  const server = http.createServer()
  const router = HttpRouter.empty.pipe(HttpRouter.get("/rpc", app))
  yield* Layer.launch(HttpServer.serve(router)).pipe(
    Effect.provide(NodeHttpServer.layer(() => server, { port: 0, host: "127.0.0.1" })),
    Effect.forkScoped
  )
  yield* Effect.async<void>((resume) => {
    if (server.listening) return resume(Effect.void)
    server.once("listening", () => resume(Effect.void))
  })
  return `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/rpc`
}).pipe(Effect.provide(Layer.merge(handlers, RpcSerialization.layerNdjson)))
