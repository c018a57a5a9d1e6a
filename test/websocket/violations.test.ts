/**
 * Servers that break RFC 6455, grouped as the Autobahn test suite's sections. Each raw server does the handshake by
 * hand and then sends what no real server would; the client must fail typed, with the close code the RFC names, and
 * tell the server that code in a close frame of its own.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Option, Stream } from "effect"
import type * as net from "node:net"
import { Client, HttpError } from "httpfx"
import { eventually } from "../utils/servers.js"
import { acceptOf as acceptFor, closeBody, frame, rawWsServer } from "./peers.js"
import type { RawPeer } from "./peers.js"

/** The error the messages fail with, after the server of `script` has sent its frames. */
const failureOf = (script: (socket: net.Socket) => void, options: { readonly maxMessageSize?: number } = {}) =>
  Effect.gen(function*() {
    const peer = yield* rawWsServer(script)
    const error = yield* failureFrom(peer, options)
    return { error, peer }
  })

const failureFrom = (peer: RawPeer, options: { readonly maxMessageSize?: number } = {}) =>
  Effect.gen(function*() {
    const client = yield* Client.make()
    const socket = yield* client.websocket(peer.wsUrl, options)
    const exit = yield* Effect.exit(Stream.runDrain(socket.messages))
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<void, HttpError.WebSocketError>).cause))
    expect(error._tag).toBe("WebSocketError")
    return error
  })

/** The close code the client sent the server, once it has. */
const closeSent = (peer: RawPeer) =>
  Effect.gen(function*() {
    yield* eventually(() => peer.received.some((f) => f.opcode === 8), 2_000, "the client's close frame")
    const close = peer.received.find((f) => f.opcode === 8)!
    return close.payload.length >= 2 ? close.payload.readUInt16BE(0) : undefined
  })

const failsWith = (code: number, script: (socket: net.Socket) => void) =>
  Effect.gen(function*() {
    const { error, peer } = yield* failureOf(script)
    expect(error.code).toBe(code)
    expect(yield* closeSent(peer)).toBe(code)
    return error
  }).pipe(Effect.scoped)

describe("framing", () => {
  it.live("a masked frame from the server fails with 1002", () =>
    Effect.gen(function*() {
      const error = yield* failsWith(1002, (socket) => socket.write(frame(1, "hi", { mask: true })))
      expect(error.message).toContain("masked")
    }))

  it.live("a 64-bit length with its top bit set fails at once, without waiting for or allocating the payload", () =>
    Effect.gen(function*() {
      const header = Buffer.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0])
      const error = yield* failsWith(1002, (socket) => socket.write(header))
      expect(error.message).toContain("top bit")
    }))

  it.live("a 2^62-byte length fails with 1009 at once, past the message size limit", () =>
    Effect.gen(function*() {
      const header = Buffer.from([0x82, 127, 0x40, 0, 0, 0, 0, 0, 0, 0])
      yield* failsWith(1009, (socket) => socket.write(header))
    }))
})

describe("pings", () => {
  it.live("a ping of 126 bytes fails with 1002", () =>
    failsWith(1002, (socket) => socket.write(frame(9, Buffer.alloc(126)))))

  it.live("a fragmented ping fails with 1002", () =>
    failsWith(1002, (socket) => socket.write(frame(9, "a", { fin: false }))))

  it.live("a ping is answered with a pong carrying its payload", () =>
    Effect.gen(function*() {
      const peer = yield* rawWsServer((socket) => socket.write(frame(9, "are you there")))
      const client = yield* Client.make()
      yield* client.websocket(peer.wsUrl)
      yield* eventually(() => peer.received.some((f) => f.opcode === 10), 2_000, "a pong")
      expect(peer.received.find((f) => f.opcode === 10)!.payload.toString()).toBe("are you there")
    }).pipe(Effect.scoped))
})

describe("reserved bits", () => {
  for (const rsv of [1, 2, 4, 7]) {
    it.live(`a frame with RSV ${rsv} and no extension fails with 1002`, () =>
      failsWith(1002, (socket) => socket.write(frame(1, "x", { rsv }))))
  }
})

describe("opcodes", () => {
  for (const opcode of [3, 7, 11, 15]) {
    it.live(`the reserved opcode ${opcode} fails with 1002`, () =>
      failsWith(1002, (socket) => socket.write(frame(opcode, "x"))))
  }
})

describe("fragmentation", () => {
  it.live("a continuation frame with no message started fails with 1002", () =>
    failsWith(1002, (socket) => socket.write(frame(0, "x"))))

  it.live("a new text message while a fragmented one is open fails with 1002", () =>
    failsWith(1002, (socket) => socket.write(Buffer.concat([frame(1, "a", { fin: false }), frame(1, "b")]))))

  it.live("a message in fragments, with a ping between them, arrives whole", () =>
    Effect.gen(function*() {
      const peer = yield* rawWsServer((socket) =>
        socket.write(Buffer.concat([
          frame(1, "frag", { fin: false }),
          frame(9, "p"),
          frame(0, "men", { fin: false }),
          frame(0, "ted")
        ]))
      )
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.wsUrl)
      const first = yield* Stream.runHead(socket.messages)
      expect(Option.getOrThrow(first)).toBe("fragmented")
    }).pipe(Effect.scoped))
})

describe("UTF-8 handling", () => {
  it.live("invalid UTF-8 in a text frame fails with 1007", () =>
    failsWith(1007, (socket) => socket.write(frame(1, Buffer.from([0x68, 0xc0, 0xaf])))))

  it.live("an encoded surrogate (ED A0 80) fails with 1007", () =>
    failsWith(1007, (socket) => socket.write(frame(1, Buffer.from([0xed, 0xa0, 0x80])))))

  it.live("a UTF-8 sequence split across fragments is valid", () =>
    Effect.gen(function*() {
      const euro = Buffer.from("€")
      const peer = yield* rawWsServer((socket) =>
        socket.write(Buffer.concat([frame(1, euro.subarray(0, 1), { fin: false }), frame(0, euro.subarray(1))]))
      )
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.wsUrl)
      expect(Option.getOrThrow(yield* Stream.runHead(socket.messages))).toBe("€")
    }).pipe(Effect.scoped))

  it.live("invalid UTF-8 in a fragment fails before the message's last fragment arrives", () =>
    Effect.gen(function*() {
      // The message is never finished: only checking each fragment as it comes can fail it.
      const error = yield* failsWith(1007, (socket) =>
        socket.write(Buffer.concat([frame(1, "ok", { fin: false }), frame(0, Buffer.from([0xe2, 0x28]), { fin: false })])))
      expect(error.message).toContain("UTF-8")
    }))

  it.live("a text message that ends in the middle of a sequence fails with 1007", () =>
    failsWith(1007, (socket) => socket.write(frame(1, Buffer.from([0x61, 0xe2, 0x82])))))
})

describe("close handling", () => {
  it.live("a close frame with a 1-byte body fails with 1002", () =>
    failsWith(1002, (socket) => socket.write(frame(8, Buffer.from([0x03])))))

  for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000]) {
    it.live(`a close frame with the invalid code ${code} fails with 1002`, () =>
      failsWith(1002, (socket) => socket.write(frame(8, closeBody(code)))))
  }

  it.live("a close reason that is not UTF-8 fails with 1007", () =>
    failsWith(1007, (socket) => socket.write(frame(8, Buffer.concat([closeBody(1000), Buffer.from([0xff])])))))

  it.live("a connection lost without a close frame fails with 1006", () =>
    Effect.gen(function*() {
      const { error } = yield* failureOf((socket) => socket.end())
      expect(error.code).toBe(1006)
    }).pipe(Effect.scoped))

  it.live("a server's close 1000 is answered with 1000 and ends the messages", () =>
    Effect.gen(function*() {
      const peer = yield* rawWsServer((socket) => socket.write(frame(8, closeBody(1000))))
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.wsUrl)
      yield* Stream.runDrain(socket.messages)
      expect(yield* closeSent(peer)).toBe(1000)
    }).pipe(Effect.scoped))
})

describe("limits", () => {
  it.live("a message over maxMessageSize fails with 1009 as soon as its header says so", () =>
    Effect.gen(function*() {
      // Only the header is sent: the limit is enforced before any of the payload arrives.
      const header = Buffer.from([0x82, 126, 0x04, 0x01])
      const { error, peer } = yield* failureOf((socket) => socket.write(header), { maxMessageSize: 1024 })
      expect(error.code).toBe(1009)
      expect(yield* closeSent(peer)).toBe(1009)
    }).pipe(Effect.scoped))

  it.live("fragments that together pass maxMessageSize fail with 1009", () =>
    Effect.gen(function*() {
      const { error } = yield* failureOf(
        (socket) => socket.write(Buffer.concat([frame(2, Buffer.alloc(600), { fin: false }), frame(0, Buffer.alloc(600))])),
        { maxMessageSize: 1000 }
      )
      expect(error.code).toBe(1009)
    }).pipe(Effect.scoped))
})

describe("handshake", () => {
  const failsHandshake = (answer: (key: string) => string, expected: string, switched = true) =>
    Effect.gen(function*() {
      const peer = yield* rawWsServer(() => {}, answer)
      const client = yield* Client.make()
      const error = yield* Effect.flip(client.websocket(peer.wsUrl))
      expect(error._tag).toBe("WebSocketError")
      expect(error.message).toContain(expected)
      if (!switched) return
      // The connection a 101 took out of the pool is closed at once, not left for the scope.
      expect(yield* client.pool).toEqual([])
      yield* eventually(() => peer.openSockets() === 0, 2_000, "the server to see the socket closed")
    }).pipe(Effect.scoped)

  it.live("a wrong Sec-WebSocket-Accept fails the handshake", () =>
    failsHandshake(
      () => "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n",
      "Sec-WebSocket-Accept"
    ))

  it.live("an extension the client did not offer fails the handshake", () =>
    failsHandshake(
      (key) =>
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${acceptFor(key)}\r\nSec-WebSocket-Extensions: x-webkit-deflate-frame\r\n\r\n`,
      "x-webkit-deflate-frame"
    ))

  it.live("a subprotocol the client did not offer fails the handshake", () =>
    failsHandshake(
      (key) =>
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${acceptFor(key)}\r\nSec-WebSocket-Protocol: chat\r\n\r\n`,
      "chat"
    ))

  it.live("a 101 without Upgrade: websocket fails the handshake", () =>
    failsHandshake(
      (key) => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptFor(key)}\r\n\r\n`,
      "Upgrade"
    ))

  it.live("a 200 to the handshake is a WebSocketError naming the status", () =>
    failsHandshake(() => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno", "200 OK", false))

  it.live("a 403 to the handshake is an HttpStatusError with the response's body", () =>
    Effect.gen(function*() {
      const peer = yield* rawWsServer(() => {}, () => "HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope")
      const client = yield* Client.make()
      const error = yield* Effect.flip(client.websocket(peer.wsUrl))
      expect(error._tag).toBe("HttpStatusError")
      if (error._tag !== "HttpStatusError") return
      expect(error.response.status).toBe(403)
      expect((error.response as { text: string }).text).toBe("nope")
    }).pipe(Effect.scoped))
})
