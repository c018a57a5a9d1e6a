/**
 * permessage-deflate (RFC 7692): against the `ws` server with compression on (and off), and raw servers for the
 * compression section of the Autobahn suite's kind (12/13 check valid compression; the violations below are what a
 * hostile server sends): RSV1 where it may not be, compressed data that is not deflate or inflates past the limit,
 * and answers to the offer that RFC 7692 §7.1 does not allow.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Option, Stream } from "effect"
import type * as net from "node:net"
import { deflateRawSync } from "node:zlib"
import { Client } from "httpfx"
import type { HttpError } from "httpfx"
import { eventually } from "../utils/servers.js"
import { acceptOf, closeBody, frame, rawWsServer, wsServer } from "./peers.js"
import type { RawPeer } from "./peers.js"

const take = <A, E>(stream: Stream.Stream<A, E>, n: number) =>
  Effect.map(Stream.runCollect(Stream.take(stream, n)), Chunk.toArray)

/** Bytes the server's TCP socket read and wrote so far. */
const wireOf = (peer: { readonly sockets: ReadonlyArray<unknown> }) => {
  const socket = (peer.sockets[0] as unknown as { _socket: net.Socket })._socket
  return { read: socket.bytesRead, written: socket.bytesWritten }
}

/** The permessage-deflate parameters the ws server agreed to. */
const agreed = (peer: { readonly sockets: ReadonlyArray<unknown> }): Record<string, unknown> =>
  (peer.sockets[0] as unknown as { _extensions: Record<string, { params: Record<string, unknown> }> })
    ._extensions["permessage-deflate"]!.params

/** 2 KB of base64 noise (a fixed linear congruential sequence). */
const noise = Buffer.from(Array.from({ length: 1500 }, (_, i) => (i * 1103515245 + 12345) >>> 16 & 0xff)).toString("base64")

/** `text` repeated to `size` bytes: compresses well. */
const compressible = (size: number) => "the quick brown fox jumps over the lazy dog; ".repeat(Math.ceil(size / 45)).slice(0, size)

describe("permessage-deflate with the ws server", () => {
  it.live("the offer is accepted, and text and binary messages echo back compressed both ways", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ perMessageDeflate: true })
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      expect(peer.requests[0]!.headers["sec-websocket-extensions"]).toBe("permessage-deflate; client_max_window_bits")
      expect(peer.sockets[0]!.extensions).toContain("permessage-deflate")
      const text = "héllo " + compressible(20_000)
      const binary = Buffer.from(compressible(20_000))
      yield* socket.send(text)
      yield* socket.send(new Uint8Array(binary))
      yield* socket.send("small")
      const [a, b, c] = yield* take(socket.messages, 3)
      expect(a).toBe(text)
      expect(Buffer.from(b as Uint8Array).equals(binary)).toBe(true)
      expect(c).toBe("small")
      // 40 KB each way went as a few KB.
      const wire = wireOf(peer)
      expect(wire.read).toBeLessThan(8_000)
      expect(wire.written).toBeLessThan(8_000)
    }).pipe(Effect.scoped))

  it.live("a 1 MiB compressible message goes and comes back whole, compressed", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ perMessageDeflate: true })
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      const big = Buffer.from(compressible(1024 * 1024))
      yield* socket.send(new Uint8Array(big))
      const [back] = yield* take(socket.messages, 1)
      expect(Buffer.from(back as Uint8Array).equals(big)).toBe(true)
      const wire = wireOf(peer)
      expect(wire.read).toBeLessThan(64 * 1024)
      expect(wire.written).toBeLessThan(64 * 1024)
    }).pipe(Effect.scoped))

  const manyInOrder = (options: Parameters<typeof wsServer>[0]) =>
    Effect.gen(function*() {
      const peer = yield* wsServer(options)
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      // the same 1.5 KB of noise in each: alone it barely compresses, with the previous message's window it is one
      // back-reference
      const sent = Array.from({ length: 200 }, (_, i) => `${i}: ${noise}`)
      yield* Effect.forEach(sent, (message) => socket.send(message), { discard: true })
      expect(yield* take(socket.messages, sent.length)).toEqual(sent)
      return { peer, wire: wireOf(peer) }
    }).pipe(Effect.scoped)

  it.live("200 messages with context takeover arrive in order, later ones smaller for the shared window", () =>
    Effect.gen(function*() {
      const { peer, wire } = yield* manyInOrder({ perMessageDeflate: true })
      expect(agreed(peer)).toEqual({})
      // 400 KB each way; with the window carried over, each message after the first is a back-reference.
      expect(wire.read).toBeLessThan(20_000)
      expect(wire.written).toBeLessThan(20_000)
    }))

  it.live("server_no_context_takeover and client_no_context_takeover are honoured", () =>
    Effect.gen(function*() {
      const { peer, wire } = yield* manyInOrder({
        perMessageDeflate: { serverNoContextTakeover: true, clientNoContextTakeover: true }
      })
      expect(agreed(peer)).toMatchObject({ server_no_context_takeover: true, client_no_context_takeover: true })
      // each message compressed on its own: barely smaller than plain
      expect(wire.read).toBeGreaterThan(200_000)
      expect(wire.written).toBeGreaterThan(200_000)
    }))

  it.live("smaller windows (server_max_window_bits=9, client_max_window_bits=10) are honoured", () =>
    Effect.gen(function*() {
      const { peer } = yield* manyInOrder({ perMessageDeflate: { serverMaxWindowBits: 9, clientMaxWindowBits: 10 } })
      expect(agreed(peer)).toMatchObject({ server_max_window_bits: 9, client_max_window_bits: 10 })
    }))

  it.live("a server with compression off gets plain frames (ws fails RSV1 frames with 1002)", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url)
      const text = compressible(50_000)
      yield* socket.send(text)
      expect(yield* take(socket.messages, 1)).toEqual([text])
      expect(peer.requests[0]!.headers["sec-websocket-extensions"]).toBe("permessage-deflate; client_max_window_bits")
      expect(wireOf(peer).read).toBeGreaterThan(50_000)
    }).pipe(Effect.scoped))

  it.live("compression: false sends no offer, and messages go plain", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ perMessageDeflate: true })
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.url, { compression: false })
      expect(peer.requests[0]!.headers["sec-websocket-extensions"]).toBeUndefined()
      const text = compressible(50_000)
      yield* socket.send(text)
      expect(yield* take(socket.messages, 1)).toEqual([text])
      expect(wireOf(peer).read).toBeGreaterThan(50_000)
    }).pipe(Effect.scoped))

  it.live("closing many compressed WebSockets leaves no handle or timer behind", () =>
    Effect.gen(function*() {
      const peer = yield* wsServer({ perMessageDeflate: true })
      const client = yield* Client.make()
      const baseline = process.getActiveResourcesInfo().length
      for (let i = 0; i < 20; i++) {
        yield* Effect.scoped(Effect.gen(function*() {
          const socket = yield* client.websocket(peer.url)
          yield* socket.send(compressible(20_000))
          yield* take(socket.messages, 1)
        }))
      }
      // compressed both ways: 20 × 20 KB went as far less
      const read = peer.sockets.reduce((sum, s) => sum + (s as unknown as { _socket: net.Socket })._socket.bytesRead, 0)
      expect(read).toBeLessThan(100_000)
      yield* eventually(() => process.getActiveResourcesInfo().length <= baseline, 3_000, "the resources to be freed")
    }).pipe(Effect.scoped))
})

// ---- raw servers -------------------------------------------------------------------------------------------------

/** A 101 that accepts permessage-deflate with `params`. */
const accepting = (params = "") => (key: string) =>
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
  `Sec-WebSocket-Accept: ${acceptOf(key)}\r\nSec-WebSocket-Extensions: permessage-deflate${params}\r\n\r\n`

/** A compressed message's payload (RFC 7692 §7.2.1: sync-flushed, the last 4 bytes off). */
const compressed = (data: Buffer | string): Buffer => {
  const out = deflateRawSync(data, { finishFlush: 2 /* Z_SYNC_FLUSH */ })
  return out.subarray(0, out.length - 4)
}

const failureFrom = (peer: RawPeer, options: { readonly maxMessageSize?: number } = {}) =>
  Effect.gen(function*() {
    const client = yield* Client.make()
    const socket = yield* client.websocket(peer.wsUrl, options)
    const exit = yield* Effect.exit(Stream.runDrain(socket.messages))
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<void, HttpError.WebSocketError>).cause))
    expect(error._tag).toBe("WebSocketError")
    yield* eventually(() => peer.received.some((f) => f.opcode === 8), 2_000, "the client's close frame")
    const close = peer.received.find((f) => f.opcode === 8)!
    return { error, sent: close.payload.readUInt16BE(0) }
  })

const failsWith = (
  code: number,
  script: (socket: net.Socket) => void,
  options: { readonly maxMessageSize?: number; readonly answer?: (key: string) => string } = {}
) =>
  Effect.gen(function*() {
    const peer = yield* rawWsServer(script, options.answer ?? accepting())
    const { error, sent } = yield* failureFrom(peer, options)
    expect(error.code).toBe(code)
    expect(sent).toBe(code)
    return error
  }).pipe(Effect.scoped)

describe("compression", () => {
  it.live("a compressed message from a raw server inflates, also split across fragments", () =>
    Effect.gen(function*() {
      const payload = compressed("héllo, compressed world")
      const peer = yield* rawWsServer((socket) => {
        socket.write(frame(1, payload, { rsv: 4 }))
        socket.write(frame(1, payload.subarray(0, 5), { rsv: 4, fin: false }))
        socket.write(frame(0, payload.subarray(5, 9), { fin: false }))
        socket.write(frame(0, payload.subarray(9)))
        socket.write(frame(1, "plain"))
      }, accepting("; server_no_context_takeover"))
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.wsUrl)
      expect(yield* take(socket.messages, 3)).toEqual(["héllo, compressed world", "héllo, compressed world", "plain"])
    }).pipe(Effect.scoped))

  it.live("RSV1 on a control frame fails with 1002", () =>
    Effect.gen(function*() {
      const error = yield* failsWith(1002, (socket) => socket.write(frame(9, compressed("ping"), { rsv: 4 })))
      expect(error.message).toContain("control frame has RSV1")
    }))

  it.live("RSV1 on a continuation frame fails with 1002", () =>
    Effect.gen(function*() {
      const payload = compressed("a message in two")
      const error = yield* failsWith(1002, (socket) => {
        socket.write(frame(1, payload.subarray(0, 4), { rsv: 4, fin: false }))
        socket.write(frame(0, payload.subarray(4), { rsv: 4 }))
      })
      expect(error.message).toContain("continuation frame has RSV1")
    }))

  it.live("a compressed message when permessage-deflate was not negotiated fails with 1002", () =>
    Effect.gen(function*() {
      const error = yield* failsWith(1002, (socket) => socket.write(frame(1, compressed("hello"), { rsv: 4 })), {
        answer: (key) =>
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${acceptOf(key)}\r\n\r\n`
      })
      expect(error.message).toContain("not negotiated")
    }))

  it.live("a zip bomb over maxMessageSize fails with 1009 without inflating the rest", () =>
    Effect.gen(function*() {
      // 256 MiB of zeros in about 256 KB
      const bomb = compressed(Buffer.alloc(256 * 1024 * 1024))
      const before = process.memoryUsage().arrayBuffers
      const error = yield* failsWith(1009, (socket) => socket.write(frame(2, bomb, { rsv: 4 })), {
        maxMessageSize: 1024 * 1024
      })
      expect(error.message).toContain("inflates to more than")
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024)
    }))

  it.live("a compressed message inflating past maxMessageSize across fragments fails with 1009", () =>
    Effect.gen(function*() {
      const payload = compressed(Buffer.alloc(8_000, 1))
      yield* failsWith(1009, (socket) => {
        socket.write(frame(2, payload.subarray(0, 10), { rsv: 4, fin: false }))
        socket.write(frame(0, payload.subarray(10)))
      }, { maxMessageSize: 4_000 })
    }))

  it.live("corrupt deflate data fails with 1007", () =>
    Effect.gen(function*() {
      const error = yield* failsWith(1007, (socket) => socket.write(frame(2, Buffer.from([0xff, 0xff, 0xff, 1, 2]), { rsv: 4 })))
      expect(error.message).toContain("not valid deflate")
    }))

  it.live("invalid UTF-8 in an inflated text message fails with 1007", () =>
    failsWith(1007, (socket) => socket.write(frame(1, compressed(Buffer.from([0x68, 0xed, 0xa0, 0x80])), { rsv: 4 }))))

  it.live("with client_max_window_bits=8 the client sends its messages uncompressed", () =>
    Effect.gen(function*() {
      const peer = yield* rawWsServer(() => {}, accepting("; client_max_window_bits=8"))
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.wsUrl)
      yield* socket.send(compressible(4096))
      yield* eventually(() => peer.received.length > 0, 2_000, "the message")
      expect(peer.received[0]!.rsv1).toBe(false)
      expect(peer.received[0]!.payload.toString()).toBe(compressible(4096))
    }).pipe(Effect.scoped))

  it.live("messages of 1 KiB or more go compressed (RSV1), smaller ones plain", () =>
    Effect.gen(function*() {
      const peer = yield* rawWsServer(() => {}, accepting())
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.wsUrl)
      yield* socket.send(compressible(1023))
      yield* socket.send(compressible(1024))
      yield* eventually(() => peer.received.length >= 2, 2_000, "the messages")
      expect(peer.received.map((f) => f.rsv1)).toEqual([false, true])
      expect(peer.received[1]!.payload.length).toBeLessThan(200)
    }).pipe(Effect.scoped))
})

describe("negotiation", () => {
  const refused = (extensions: string, expected: string, options: { readonly compression?: boolean } = {}) =>
    Effect.gen(function*() {
      const peer = yield* rawWsServer(() => {}, (key) =>
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${acceptOf(key)}\r\nSec-WebSocket-Extensions: ${extensions}\r\n\r\n`)
      const client = yield* Client.make()
      const error = yield* Effect.flip(client.websocket(peer.wsUrl, options))
      expect(error._tag).toBe("WebSocketError")
      expect(error.message).toContain(expected)
      yield* eventually(() => peer.openSockets() === 0, 2_000, "the server to see the socket closed")
    }).pipe(Effect.scoped)

  it.live("an unknown parameter fails the handshake", () =>
    refused("permessage-deflate; x_unknown", "unknown parameter \"x_unknown\""))

  it.live("server_max_window_bits=7 fails the handshake", () =>
    refused("permessage-deflate; server_max_window_bits=7", "\"7\""))

  it.live("client_max_window_bits=16 fails the handshake", () =>
    refused("permessage-deflate; client_max_window_bits=16", "\"16\""))

  it.live("server_max_window_bits with a leading zero fails the handshake", () =>
    refused("permessage-deflate; server_max_window_bits=09", "\"09\""))

  it.live("client_max_window_bits without a value in the answer fails the handshake", () =>
    refused("permessage-deflate; client_max_window_bits", "without a value"))

  it.live("a parameter given twice fails the handshake", () =>
    refused("permessage-deflate; server_no_context_takeover; server_no_context_takeover", "twice"))

  it.live("a value on server_no_context_takeover fails the handshake", () =>
    refused("permessage-deflate; server_no_context_takeover=1", "takes none"))

  it.live("an extension that was not offered fails the handshake", () =>
    refused("x-webkit-deflate-frame", "not offered"))

  it.live("two permessage-deflate elements fail the handshake", () =>
    refused("permessage-deflate, permessage-deflate", "more than one"))

  it.live("with compression: false, an answer with client_max_window_bits (or any extension) fails the handshake", () =>
    refused("permessage-deflate; client_max_window_bits=10", "not offered", { compression: false }))

  it.live("a quoted window size is accepted (RFC 7692 §7.1)", () =>
    Effect.gen(function*() {
      const peer = yield* rawWsServer((socket) => {
        socket.write(frame(1, compressed("quoted"), { rsv: 4 }))
        socket.write(frame(8, closeBody(1000)))
      }, accepting("; server_max_window_bits=\"15\""))
      const client = yield* Client.make()
      const socket = yield* client.websocket(peer.wsUrl)
      expect(yield* take(socket.messages, 1)).toEqual(["quoted"])
    }).pipe(Effect.scoped))
})
