/**
 * `timeout.head`: the response head must be complete within this time after the request is sent, however the
 * server spaces its bytes. The read timeout restarts on every byte; the head deadline does not move. Node timers
 * time both, so these tests run in real time with small deadlines, against loopback servers that trickle a head.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type { Scope } from "effect"
import { Pool } from "httpfx"
import type * as net from "node:net"
import { ca, h2Server } from "../h2/servers.js"
import { eventually, rawServer } from "../utils/servers.js"
import type { TestServer } from "../utils/servers.js"

const HEAD = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
/** A head that takes about 2 s to trickle at a byte every 20 ms. */
const LONG_HEAD = `HTTP/1.1 200 OK\r\nX-Padding: ${"a".repeat(60)}\r\nContent-Length: 2\r\n\r\n`

/** Write `bytes` one at a time, `every` ms apart, then `then`; stops when the socket goes. */
const trickle = (socket: net.Socket, bytes: Buffer, every: number, then?: () => void): void => {
  let index = 0
  const timer = setInterval(() => {
    if (socket.destroyed) return clearInterval(timer)
    socket.write(bytes.subarray(index, index + 1))
    if (++index === bytes.length) {
      clearInterval(timer)
      then?.()
    }
  }, every)
  socket.on("close", () => clearInterval(timer))
}

/**
 * An HTTP/1.1 server that trickles `head` a byte every 20 ms for /trickle, and answers any other path at once; each
 * request head is read whole first. Keeps the sockets it trickled on, to see them closed.
 */
const trickleServer = (head: string) => {
  const trickled: Array<net.Socket> = []
  return rawServer((socket) => {
    let buffered = ""
    socket.on("data", (data) => {
      buffered += data.toString("latin1")
      let end: number
      while ((end = buffered.indexOf("\r\n\r\n")) >= 0) {
        const requestHead = buffered.slice(0, end)
        buffered = buffered.slice(end + 4)
        if (requestHead.startsWith("GET /trickle ")) {
          trickled.push(socket)
          trickle(socket, Buffer.from(head + "ok", "latin1"), 20)
        } else {
          socket.write(HEAD + "ok")
        }
      }
    })
  }).pipe(Effect.map((server) => ({ server, trickled })))
}

const elapsedSince = (started: number) => Date.now() - started

/** A GET with a 200 ms head deadline that must fail with ReadTimeout naming it; how long that took. */
const failsAtHeadDeadline = (pool: Pool.Pool, url: string) =>
  Effect.gen(function*() {
    const started = Date.now()
    const error = yield* Effect.flip(pool.request("GET", url, { timeout: { head: 200 } }))
    const elapsed = elapsedSince(started)
    expect(error._tag).toBe("ReadTimeout")
    expect(error.message).toContain(`GET ${url}`)
    return { elapsed, error }
  })

describe("HTTP/1.1", () => {
  it.scopedLive("a head trickled a byte every 20 ms fails with ReadTimeout at the deadline, naming timeout.head", () =>
    Effect.gen(function*() {
      const { server } = yield* trickleServer(LONG_HEAD)
      const pool = yield* Pool.make()
      const url = `${server.url}/trickle`
      const { elapsed, error } = yield* failsAtHeadDeadline(pool, url)
      expect(error.message).toContain("200 ms")
      expect(error.message).toContain("timeout.head")
      // Each byte restarts the 5 s read timeout; only the deadline ends it, long before the head's 2 s.
      expect(elapsed).toBeGreaterThanOrEqual(190)
      expect(elapsed).toBeLessThan(1_500)
    }))

  it.scopedLive("after the head deadline the connection is closed and the only slot serves the next request", () =>
    Effect.gen(function*() {
      const { server, trickled } = yield* trickleServer(LONG_HEAD)
      const pool = yield* Pool.make({ maxConnections: 1, timeout: { head: 200 } })
      const error = yield* Effect.flip(pool.request("GET", `${server.url}/trickle`))
      expect(error._tag).toBe("ReadTimeout")
      yield* eventually(() => trickled.length === 1 && trickled[0]!.destroyed, 1_000, "the trickled socket to close")
      const next = yield* pool.request("GET", `${server.url}/next`, { timeout: { pool: 500 } })
      expect(next.text).toBe("ok")
      expect(server.acceptedSockets()).toBe(2)
    }))

  it.scopedLive("a head slower than the read timeout but within the head deadline is read as usual", () =>
    Effect.gen(function*() {
      // 38 bytes at 20 ms: about 0.8 s in all, never 400 ms of silence (room for a busy machine's pauses).
      const { server } = yield* trickleServer(HEAD)
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/trickle`, { timeout: { read: 400, head: 10_000 } })
      expect(response.status).toBe(200)
      expect(response.text).toBe("ok")
    }))

  it.scopedLive("timeout: { head: null } on a request lifts the pool's head deadline", () =>
    Effect.gen(function*() {
      const { server } = yield* trickleServer(HEAD)
      const pool = yield* Pool.make({ timeout: { head: 100 } })
      const response = yield* pool.request("GET", `${server.url}/trickle`, { timeout: { head: null } })
      expect(response.text).toBe("ok")
    }))

  it.scopedLive("with the read timeout off, a server that never answers fails at the head deadline", () =>
    Effect.gen(function*() {
      const server = yield* rawServer((socket) => socket.resume())
      const pool = yield* Pool.make()
      const started = Date.now()
      const error = yield* Effect.flip(
        pool.request("GET", `${server.url}/silent`, { timeout: { read: null, head: 200 } }).pipe(
          Effect.timeoutFail({ duration: "3 seconds", onTimeout: () => new Error("no deadline") })
        )
      )
      expect(error).toMatchObject({ _tag: "ReadTimeout" })
      expect((error as Error).message).toContain("timeout.head")
      expect(elapsedSince(started)).toBeLessThan(1_500)
      yield* eventually(() => server.openSockets() === 0, 1_000, "the server's socket to close")
    }))

  it.scopedLive("the clock starts once a streamed body is sent: a longer upload is not cut short", () =>
    Effect.gen(function*() {
      const server = yield* echoAfterBody()
      const pool = yield* Pool.make({ timeout: { head: 150 } })
      // Three pieces 100 ms apart: 200 ms of upload, more than the head deadline.
      const body = Stream.fromIterable(["a", "b", "c"]).pipe(
        Stream.map((s) => new TextEncoder().encode(s)),
        Stream.tap(() => Effect.sleep("100 millis"))
      )
      const response = yield* pool.request("POST", `${server.url}/upload`, { content: body })
      expect(response.text).toBe("3")
    }))
})

/** Reads a chunked request body to its end, then answers with its length. */
const echoAfterBody = (): Effect.Effect<TestServer, never, Scope.Scope> =>
  rawServer((socket) => {
    let buffered = ""
    socket.on("data", (data) => {
      buffered += data.toString("latin1")
      const headEnd = buffered.indexOf("\r\n\r\n")
      if (headEnd < 0 || !buffered.endsWith("0\r\n\r\n")) return
      const body = buffered.slice(headEnd + 4).split("\r\n").filter((_, i) => i % 2 === 1).join("")
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${String(body.length).length}\r\n\r\n${body.length}`)
      buffered = ""
    })
  })

// ---- HTTP/2 ----------------------------------------------------------------------------------------------------

/** One HTTP/2 frame: its 9-byte header (RFC 9113 §4.1) and payload. */
const frame = (type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer => {
  const header = Buffer.alloc(9)
  header.writeUIntBE(payload.length, 0, 3)
  header[3] = type
  header[4] = flags
  header.writeUInt32BE(stream, 5)
  return Buffer.concat([header, payload])
}

/**
 * An h2c server (prior knowledge) in a few frames: SETTINGS, an ACK of the client's, and for each request a HEADERS
 * frame (END_HEADERS | END_STREAM: a 200 with no body) that it writes to the socket a byte every 20 ms. nghttp2
 * reports the head only once the whole frame is in.
 */
const trickleH2Server = () =>
  rawServer((socket) => {
    socket.write(frame(4, 0, 0))
    let buffered = Buffer.alloc(0)
    let prefaceSeen = false
    socket.on("data", (data: Buffer) => {
      buffered = Buffer.concat([buffered, data])
      if (!prefaceSeen) {
        if (buffered.length < 24) return
        buffered = buffered.subarray(24)
        prefaceSeen = true
      }
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3)
        if (buffered.length < 9 + length) return
        const type = buffered[3]!
        const flags = buffered[4]!
        const stream = buffered.readUInt32BE(5) & 0x7fffffff
        buffered = buffered.subarray(9 + length)
        if (type === 4 && (flags & 1) === 0) socket.write(frame(4, 1, 0))
        if (type === 1) {
          // ":status: 200" (static table index 8), then "x-padding: a…" as a literal without indexing.
          const padding = Buffer.from("a".repeat(90))
          const block = Buffer.concat([
            Buffer.from([0x88, 0x00, 9]),
            Buffer.from("x-padding"),
            Buffer.from([padding.length]),
            padding
          ])
          trickle(socket, frame(1, 0x4 | 0x1, stream, block), 20)
        }
      }
    })
  })

/** An HTTP/2 server that answers each stream 300 ms late, in one HEADERS frame. */
const lateH2Server = h2Server({
  onStream: (stream) => {
    setTimeout(() => {
      if (stream.destroyed) return
      stream.respond({ ":status": 200 })
      stream.end("ok")
    }, 300)
  }
})

describe("HTTP/2", () => {
  it.scopedLive("a HEADERS frame trickled a byte every 20 ms fails with ReadTimeout at the head deadline", () =>
    Effect.gen(function*() {
      const server = yield* trickleH2Server()
      const pool = yield* Pool.make({ http1: false, http2: true })
      const url = `${server.url}/trickle`
      const { elapsed, error } = yield* failsAtHeadDeadline(pool, url)
      expect(error.message).toContain("timeout.head")
      expect(elapsed).toBeLessThan(1_500)
    }))

  it.scopedLive("a head that comes late but within the deadline is read as usual", () =>
    Effect.gen(function*() {
      const server = yield* lateH2Server
      const pool = yield* Pool.make({ http2: true, tls: { ca } })
      const response = yield* pool.request("GET", `${server.url}/late`, { timeout: { head: 2_000 } })
      expect(response.httpVersion).toBe("HTTP/2")
      expect(response.text).toBe("ok")
    }))

  it.scopedLive("timeout: { head: null } on a request lifts the pool's head deadline", () =>
    Effect.gen(function*() {
      const server = yield* lateH2Server
      const pool = yield* Pool.make({
        http2: true,
        tls: { ca },
        timeout: { head: 100 }
      })
      const response = yield* pool.request("GET", `${server.url}/late`, { timeout: { head: null } })
      expect(response.text).toBe("ok")
    }))
})
