/**
 * `client.websocket` against the `ws` package's server: messages both ways, fragmentation, subprotocols, pings, the
 * closing handshake with codes, TLS, the client's headers and cookies in the handshake, CONNECT and SOCKS5 proxies, and the
 * lifetimes (scope, interruption) seen from the server.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream } from "effect"
import { Client } from "httpfx"
import { microsocks, reportMissing, tinyproxy, which } from "../utils/proxies.js"
import { eventually } from "../utils/servers.js"
import { ca, wsServer } from "./peers.js"

const take = <A, E>(stream: Stream.Stream<A, E>, n: number) =>
  Effect.map(Stream.runCollect(Stream.take(stream, n)), Chunk.toArray)

describe("messages", () => {
  it.live("text and binary messages echo back as strings and bytes", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      yield* socket.send("héllo")
      yield* socket.send(new Uint8Array([0, 1, 255]))
      const [text, bytes] = yield* take(socket.messages, 2)
      expect(text).toBe("héllo")
      expect(bytes).toBeInstanceOf(Uint8Array)
      expect([...(bytes as Uint8Array)]).toEqual([0, 1, 255])
    }).pipe(Effect.scoped))

  it.live("a 1 MiB message goes and comes back whole", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      const big = new Uint8Array(1024 * 1024)
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff
      yield* socket.send(big)
      const [back] = yield* take(socket.messages, 1)
      expect(Buffer.compare(Buffer.from(back as Uint8Array), Buffer.from(big))).toBe(0)
    }).pipe(Effect.scoped))

  it.live("a message the server sends in fragments arrives as one", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({
        onConnection: (socket) => {
          socket.send("one ", { fin: false })
          socket.send("two ", { fin: false })
          socket.send("three", { fin: true })
        }
      })
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      expect(yield* take(socket.messages, 1)).toEqual(["one two three"])
    }).pipe(Effect.scoped))

  it.live("many messages in a row arrive in order", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => String(i)), (m) => socket.send(m))
      const got = yield* take(socket.messages, 200)
      expect(got).toEqual(Array.from({ length: 200 }, (_, i) => String(i)))
    }).pipe(Effect.scoped))

  it.live("binary messages kept by the reader keep their bytes while later reads arrive", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      const kept: Array<Uint8Array> = []
      // One echo per read: each lands where the one before did, unless the WebSocket gives every message its own bytes.
      for (let i = 0; i < 50; i++) {
        yield* socket.send(new Uint8Array(100 + (i % 7)).fill(i))
        kept.push((yield* socket.receive) as Uint8Array)
      }
      kept.forEach((bytes, i) => {
        expect(bytes.length).toBe(100 + (i % 7))
        expect(bytes.every((byte) => byte === i)).toBe(true)
      })
    }).pipe(Effect.scoped))

  it.live("the socket is not in the pool once upgraded", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make()
      yield* client.websocket(peer.url)
      expect(yield* client.pool).toEqual([])
    }).pipe(Effect.scoped))
})

describe("receive", () => {
  it.live("takes the messages one at a time, in order, as strings and bytes", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      yield* Effect.forEach(["a", "b", "c"], (m) => socket.send(m))
      yield* socket.send(new Uint8Array([7]))
      // The four echoes may come in one read: each receive still takes one.
      yield* eventually(() => peer.sockets.length === 1, 2_000, "the connection")
      expect([yield* socket.receive, yield* socket.receive, yield* socket.receive]).toEqual(["a", "b", "c"])
      expect([...(yield* socket.receive) as Uint8Array]).toEqual([7])
    }).pipe(Effect.scoped))

  it.live("fails with the close code once the server closed, after the messages it sent", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ onConnection: (socket) => (socket.send("last"), socket.close(1001)) })
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      expect(yield* socket.receive).toBe("last")
      const error = yield* Effect.flip(socket.receive)
      expect(error._tag).toBe("WebSocketError")
      expect(error.code).toBe(1001)
      expect(error.message).toContain("closed")
      // Once ended, it keeps saying so.
      expect((yield* Effect.flip(socket.receive)).code).toBe(1001)
    }).pipe(Effect.scoped))

  it.live("after our own close it fails with the code we sent", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      yield* socket.close(4000, "done")
      expect((yield* Effect.flip(socket.receive)).code).toBe(4000)
    }).pipe(Effect.scoped))

  it.live("an interrupted receive (a timeout) leaves the WebSocket open and loses no message", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      const timedOut = yield* Effect.timeout(socket.receive, "30 millis").pipe(Effect.option)
      expect(Option.isNone(timedOut)).toBe(true)
      yield* socket.send("still open")
      expect(yield* socket.receive).toBe("still open")
      expect(peer.closes).toEqual([])
    }).pipe(Effect.scoped))

  it.live("one reader at a time: receive while the messages are read fails", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ onConnection: () => {} })
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      yield* Effect.fork(Stream.runDrain(socket.messages))
      yield* Effect.sleep("20 millis")
      const error = yield* Effect.flip(socket.receive)
      expect(error.message).toContain("already being read")
    }).pipe(Effect.scoped))
})

describe("handshake", () => {
  it.live("the server's pick among the offered subprotocols is the WebSocket's protocol", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ handleProtocols: (offered) => offered.has("v2") ? "v2" : false })
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url, { protocols: ["v1", "v2"] })
      expect(socket.protocol).toBe("v2")
      expect(peer.requests[0]!.headers["sec-websocket-protocol"]).toBe("v1, v2")
    }).pipe(Effect.scoped))

  it.live("without protocols the protocol is empty and none is offered", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      expect(socket.protocol).toBe("")
      expect(peer.requests[0]!.headers["sec-websocket-protocol"]).toBeUndefined()
    }).pipe(Effect.scoped))

  it.live("the client's default headers, the call's headers and the jar's cookies go with the handshake", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make({ headers: { "x-team": "blue" } })
      client.cookies!.store(peer.url.replace("ws:", "http:") + "/", ["session=abc; Path=/"])
      yield* client.websocket(peer.url + "/chat?room=1", { headers: { "x-call": "yes" } })
      const request = peer.requests[0]!
      expect(request.url).toBe("/chat?room=1")
      expect(request.headers["x-team"]).toBe("blue")
      expect(request.headers["x-call"]).toBe("yes")
      expect(request.headers["user-agent"]).toMatch(/^httpfx\//)
      expect(request.headers.cookie).toBe("session=abc")
    }).pipe(Effect.scoped))

  it.live("credentials in the URL are sent as Basic auth", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make()
      yield* client.websocket(peer.url.replace("ws://", "ws://ann:secret@"))
      expect(peer.requests[0]!.headers.authorization).toBe("Basic " + Buffer.from("ann:secret").toString("base64"))
    }).pipe(Effect.scoped))

  it.live("a path under an http baseUrl is opened as ws", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make({ baseUrl: peer.url.replace("ws:", "http:") + "/api" })
      yield* client.websocket("socket")
      expect(peer.requests[0]!.url).toBe("/api/socket")
    }).pipe(Effect.scoped))

  it.live("an http: URL is refused with UnsupportedProtocol that suggests ws:", () =>
    Effect.gen(function*() {
      const client = yield* Client.make()
      const error = yield* Effect.flip(client.websocket("http://127.0.0.1:1/"))
      expect(error._tag).toBe("UnsupportedProtocol")
      expect(error.message).toContain("ws://127.0.0.1:1/")
    }).pipe(Effect.scoped))

  it.live("a ws: URL is refused by a plain request", () =>
    Effect.gen(function*() {
      const client = yield* Client.make()
      const error = yield* Effect.flip(client.get("ws://127.0.0.1:1/"))
      expect(error._tag).toBe("UnsupportedProtocol")
    }).pipe(Effect.scoped))

  it.live("wss: uses the client's TLS options", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ tls: true })
      const client = yield* Client.make({ tls: { ca } })
      const socket = yield* client.websocket(peer.url)
      yield* socket.send("secure")
      expect(yield* take(socket.messages, 1)).toEqual(["secure"])
    }).pipe(Effect.scoped))

  it.live("wss: with a pool that speaks HTTP/2 still upgrades over HTTP/1.1", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ tls: true })
      const client = yield* Client.make({ tls: { ca }, http2: true })
      const socket = yield* client.websocket(peer.url)
      yield* socket.send("h1")
      expect(yield* take(socket.messages, 1)).toEqual(["h1"])
    }).pipe(Effect.scoped))
})

describe("pings", () => {
  it.live("the server's ping is answered with a pong carrying its payload", () =>
    Effect.gen(function*() {
      const pongs: Array<string> = []
      const peer = yield* wsServer({
        onConnection: (socket) => {
          socket.on("pong", (data) => pongs.push(data.toString()))
          socket.ping("tick")
        }
      })
      const client = yield* Client.make()
      yield* client.websocket(peer.url)
      yield* eventually(() => pongs.length > 0, 2_000, "a pong")
      expect(pongs).toEqual(["tick"])
    }).pipe(Effect.scoped))
})

describe("closing", () => {
  it.live("close(code, reason) reaches the server, and the messages end", () =>
    Effect.gen(function*() {
      let reason = ""
      const peer = yield* wsServer({ onConnection: (socket) => socket.on("close", (_, r) => reason = r.toString()) })
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      yield* socket.close(4000, "done here")
      expect(peer.closes).toEqual([4000])
      expect(reason).toBe("done here")
      expect(yield* Stream.runCollect(socket.messages).pipe(Effect.map(Chunk.toArray))).toEqual([])
    }).pipe(Effect.scoped))

  it.live("send after close fails with WebSocketError", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      yield* socket.close()
      const error = yield* Effect.flip(socket.send("late"))
      expect(error._tag).toBe("WebSocketError")
    }).pipe(Effect.scoped))

  it.live("the server closing with 1000 ends the messages after the ones it sent", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ onConnection: (socket) => (socket.send("last words"), socket.close(1000)) })
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      expect(yield* Stream.runCollect(socket.messages).pipe(Effect.map(Chunk.toArray))).toEqual(["last words"])
    }).pipe(Effect.scoped))

  it.live("the server closing with 4001 fails the messages with that code, after the ones it sent", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ onConnection: (socket) => (socket.send("bye"), socket.close(4001, "kicked")) })
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      const seen: Array<unknown> = []
      const error = yield* Effect.flip(Stream.runForEach(socket.messages, (m) => Effect.sync(() => seen.push(m))))
      expect(seen).toEqual(["bye"])
      expect(error.code).toBe(4001)
      expect(error.message).toContain("kicked")
    }).pipe(Effect.scoped))

  it.live("closing the scope closes the WebSocket with 1000", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* Client.make()
        yield* client.websocket(peer.url)
      }))
      yield* eventually(() => peer.closes.length === 1, 2_000, "the server to see the close")
      expect(peer.closes).toEqual([1000])
    }).pipe(Effect.scoped))

  it.live("interrupting the reader closes the WebSocket with 1000", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ onConnection: () => {} })
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      const reader = yield* Effect.fork(Stream.runDrain(socket.messages))
      yield* eventually(() => peer.sockets.length === 1, 2_000, "the connection")
      yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(reader)
      yield* eventually(() => peer.closes.length === 1, 2_000, "the server to see the close")
      expect(peer.closes).toEqual([1000])
    }).pipe(Effect.scoped))

  it.live("a server that disappears fails the messages with 1006", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ onConnection: (socket) => socket.terminate() })
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      const error = yield* Effect.flip(Stream.runDrain(socket.messages))
      expect(error.code).toBe(1006)
    }).pipe(Effect.scoped))
})

describe("backpressure", () => {
  it.live("a reader that falls behind pauses the socket and then gets every message", () =>
    Effect.gen(function*() {
      const count = 30_000
      const peer = yield* wsServer({
        onConnection: (socket) => {
          for (let i = 0; i < count; i++) socket.send("x".repeat(1000))
        }
      })
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      yield* Effect.sleep("100 millis")
      // The server's sends wait in its buffer: our side stopped reading at its high-water mark.
      expect(peer.sockets[0]!.bufferedAmount).toBeGreaterThan(0)
      const got = yield* take(socket.messages, count)
      expect(got.length).toBe(count)
    }).pipe(Effect.scoped))
})

const hasTinyproxy = which("tinyproxy") !== undefined
if (!hasTinyproxy) reportMissing("tinyproxy", "apt-get install tinyproxy")

describe.skipIf(!hasTinyproxy)("through tinyproxy", () => {
  it.live("a ws: URL through an HTTP proxy goes through a CONNECT tunnel", () =>
    Effect.gen(function*() {
      const proxy = yield* tinyproxy()
      const peer = yield* wsServer()
      const client = yield* Client.make({ proxy: proxy.url, trustEnv: false })
      const socket = yield* client.websocket(peer.url)
      yield* socket.send("via proxy")
      expect(yield* take(socket.messages, 1)).toEqual(["via proxy"])
    }).pipe(Effect.scoped))
})

const hasMicrosocks = which("microsocks") !== undefined
if (!hasMicrosocks) reportMissing("microsocks", "apt-get install microsocks")

describe.skipIf(!hasMicrosocks)("through microsocks (SOCKS5)", () => {
  it.live("ws: and wss: URLs go through a SOCKS5 proxy", () =>
    Effect.gen(function*() {
      const proxy = yield* microsocks()
      const plain = yield* wsServer()
      const secure = yield* wsServer({ tls: true })
      const client = yield* Client.make({ proxy: proxy.url, trustEnv: false, tls: { ca } })
      const socket = yield* client.websocket(plain.url)
      yield* socket.send("via socks")
      expect(yield* take(socket.messages, 1)).toEqual(["via socks"])
      const tlsSocket = yield* client.websocket(secure.url)
      yield* tlsSocket.send(new Uint8Array([1, 2, 3]))
      const [bytes] = yield* take(tlsSocket.messages, 1)
      expect([...(bytes as Uint8Array)]).toEqual([1, 2, 3])
    }).pipe(Effect.scoped))

  it.live("with credentials: the right ones pass, wrong ones fail the handshake with ProxyError", () =>
    Effect.gen(function*() {
      const proxy = yield* microsocks({ user: "ws", password: "secret" })
      const peer = yield* wsServer()
      const authed = `socks5://ws:secret@127.0.0.1:${proxy.port}`
      const client = yield* Client.make({ proxy: authed, trustEnv: false })
      const socket = yield* client.websocket(peer.url)
      yield* socket.send("authed")
      expect(yield* take(socket.messages, 1)).toEqual(["authed"])
      const wrong = yield* Client.make({ proxy: `socks5://ws:wrong@127.0.0.1:${proxy.port}`, trustEnv: false })
      const error = yield* Effect.flip(wrong.websocket(peer.url))
      expect(error._tag).toBe("ProxyError")
    }).pipe(Effect.scoped))
})

describe("accessor", () => {
  it.live("Client.websocket uses the client from the context", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const socket = yield* Client.websocket(peer.url).pipe(Effect.provide(Client.layer()))
      yield* socket.send("ctx")
      expect(Option.getOrThrow(yield* Stream.runHead(socket.messages))).toBe("ctx")
    }).pipe(Effect.scoped))
})
