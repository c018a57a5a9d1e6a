/**
 * Nothing thrown in a socket, timer, microtask or node:http2 callback escapes. Node calls these outside any fiber,
 * where a throw would reach `uncaughtException`; each test makes our own code throw once inside one family of them
 * (through a prototype method the callback reaches, the narrowest seam there is) and sees the request fail with a
 * typed error that keeps what was thrown, the connection closed on the server's side, the pool slot back, and the
 * process untouched.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Scope } from "effect"
import { Pool } from "httpfx"
import type { HttpError } from "httpfx"
import { createRequire } from "node:module"
import type * as Tls from "node:tls"
import * as zlib from "node:zlib"
import { vi } from "vitest"
import { Exchange } from "../../src/internal/exchange/exchange.js"
import { Http11Connection } from "../../src/internal/connection/http1.js"
import { ResponseParser } from "../../src/internal/wire/responseParser.js"
import { Http2Connection } from "../../src/internal/connection/http2.js"
import { PoolImpl } from "../../src/internal/pool/pool.js"
import { ca, h2Server, serverCert, serverKey } from "../h2/servers.js"
import { eventually, httpServer, httpsServer, rawServer } from "../utils/servers.js"
import type { TestServer } from "../utils/servers.js"

// ---- process safety --------------------------------------------------------------------------------------------

const escaped: Array<string> = []
const onUncaught = (error: unknown) => escaped.push(`uncaughtException: ${String(error)}`)
const onUnhandled = (error: unknown) => escaped.push(`unhandledRejection: ${String(error)}`)

beforeAll(() => {
  process.on("uncaughtException", onUncaught)
  process.on("unhandledRejection", onUnhandled)
})

afterAll(() => {
  process.off("uncaughtException", onUncaught)
  process.off("unhandledRejection", onUnhandled)
})

afterEach(() => {
  vi.restoreAllMocks()
})

// ---- helpers ---------------------------------------------------------------------------------------------------

/** Make `method` of `prototype` throw `error` the next time anything calls it (private methods included). */
const throwOnce = (prototype: object, method: string, error: Error): void => {
  vi.spyOn(prototype as Record<string, (...args: Array<unknown>) => unknown>, method).mockImplementationOnce(() => {
    throw error
  })
}

/** The request, failing the test rather than hanging if the throw left it waiting. */
const attempt = <A>(effect: Effect.Effect<A, HttpError.HttpError>): Effect.Effect<HttpError.HttpError, Error> =>
  Effect.flip(effect).pipe(
    Effect.timeoutFail({
      duration: "3 seconds",
      onTimeout: () => new Error("the request neither failed nor succeeded")
    }),
    Effect.flatMap((error) => error instanceof Error && !("_tag" in error) ? Effect.fail(error) : Effect.succeed(error))
  ) as Effect.Effect<HttpError.HttpError, Error>

const expectCrashed = (error: HttpError.HttpError, thrown: Error, url: string): void => {
  expect(error._tag).toBe("ReadError")
  expect(error.cause).toBe(thrown)
  expect(error.message).toContain(url)
  expect(error.message).toContain(thrown.message)
}

/** The server holds no socket of ours, the pool no connection, and nothing reached the process. */
const nothingLeft = (pool: Pool.Pool, openSockets: () => number): Effect.Effect<void, Error> =>
  Effect.gen(function*() {
    yield* eventually(() => openSockets() === 0, 2_000, "the server's sockets to close")
    expect(yield* pool.connections).toEqual([])
    // A moment for anything that would escape late (a second event on the same socket).
    yield* Effect.sleep("20 millis")
    expect(escaped).toEqual([])
  })

const ok = (): Effect.Effect<TestServer, never, Scope.Scope> => httpServer((_, response) => response.end("ok"))

/** After reading a request head, writes `response` and then does `then` with the socket. */
const answering = (response: string, then: (socket: import("node:net").Socket) => void) =>
  rawServer((socket) => {
    let buffered = ""
    socket.on("data", (data) => {
      buffered += data.toString("latin1")
      if (!buffered.includes("\r\n\r\n")) return
      buffered = ""
      socket.write(response)
      then(socket)
    })
  })

// ---- HTTP/1.1 socket callbacks -----------------------------------------------------------------------------------

describe("HTTP/1.1", () => {
  it.scopedLive("a throw while handling read bytes fails the request with ReadError and closes the connection", () =>
    Effect.gen(function*() {
      const server = yield* ok()
      const pool = yield* Pool.make()
      const thrown = new RangeError("thrown while the bytes were parsed")
      throwOnce(ResponseParser.prototype, "execute", thrown)
      const url = `${server.url}/data`
      expectCrashed(yield* attempt(pool.request("GET", url)), thrown, url)
      yield* nothingLeft(pool, server.openSockets)
    }))

  it.scopedLive("a throw in a TLS socket's data event fails the request with ReadError and closes the connection", () =>
    Effect.gen(function*() {
      const server = yield* httpsServer({ cert: serverCert, key: serverKey }, (_, response) => response.end("ok"))
      const pool = yield* Pool.make({ tls: { ca } })
      const thrown = new RangeError("thrown in a data event")
      throwOnce(ResponseParser.prototype, "execute", thrown)
      const url = `${server.url}/tls`
      expectCrashed(yield* attempt(pool.request("GET", url)), thrown, url)
      yield* nothingLeft(pool, server.openSockets)
    }))

  it.scopedLive("a throw in the socket's end event fails the request with ReadError", () =>
    Effect.gen(function*() {
      // A body delimited by the close: the end event finishes it.
      const server = yield* answering("HTTP/1.1 200 OK\r\n\r\nhello", (socket) => socket.end())
      const pool = yield* Pool.make()
      const thrown = new Error("thrown at the end of the stream")
      throwOnce(ResponseParser.prototype, "finish", thrown)
      const url = `${server.url}/end`
      expectCrashed(yield* attempt(pool.request("GET", url)), thrown, url)
      yield* nothingLeft(pool, server.openSockets)
    }))

  it.scopedLive("a throw in the socket's error event fails the request with ReadError", () =>
    Effect.gen(function*() {
      const server = yield* answering(
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123",
        (socket) => setTimeout(() => socket.resetAndDestroy(), 20)
      )
      const pool = yield* Pool.make()
      const thrown = new Error("thrown while the reset was handled")
      throwOnce(Http11Connection.prototype, "retryable", thrown)
      const url = `${server.url}/reset`
      expectCrashed(yield* attempt(pool.request("GET", url)), thrown, url)
      yield* nothingLeft(pool, server.openSockets)
    }))

  it.scopedLive("a throw in the socket's drain event fails the request with ReadError", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((request, response) => {
        request.resume()
        request.on("end", () => response.end("ok"))
      })
      const pool = yield* Pool.make()
      const thrown = new Error("thrown when the socket drained")
      throwOnce(Exchange.prototype, "drained", thrown)
      const url = `${server.url}/upload`
      // Far more than the socket takes at once, so the request is written over several drains.
      const body = new Uint8Array(8 * 1024 * 1024)
      expectCrashed(yield* attempt(pool.request("POST", url, { content: body })), thrown, url)
      yield* nothingLeft(pool, server.openSockets)
    }))

  it.scopedLive("a throw in the socket's connect event fails the request with ReadError", () =>
    Effect.gen(function*() {
      const server = yield* ok()
      const pool = yield* Pool.make()
      const thrown = new Error("thrown once the socket connected")
      throwOnce(Http11Connection.prototype, "start", thrown)
      const url = `${server.url}/connect`
      expectCrashed(yield* attempt(pool.request("GET", url)), thrown, url)
      yield* nothingLeft(pool, server.openSockets)
    }))

  it.scopedLive("a throw in the connection's timer fails the request with ReadError", () =>
    Effect.gen(function*() {
      const server = yield* rawServer((socket) => socket.resume())
      const pool = yield* Pool.make()
      const thrown = new Error("thrown when the read timeout fired")
      throwOnce(Http11Connection.prototype, "timeoutError", thrown)
      const url = `${server.url}/silent`
      expectCrashed(yield* attempt(pool.request("GET", url, { timeout: { read: 100 } })), thrown, url)
      yield* nothingLeft(pool, server.openSockets)
    }))

  it.scopedLive("a throw in the microtask after a reader's turn fails the read with ReadError", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_, response) => response.end(Buffer.alloc(256 * 1024, 1)))
      const pool = yield* Pool.make()
      const thrown = new Error("thrown after the reader's turn")
      throwOnce(Exchange.prototype, "afterReaderTurn", thrown)
      const url = `${server.url}/body`
      const error = yield* attempt(
        Effect.scoped(Effect.flatMap(
          pool.stream("GET", url),
          (response) => response.runForEach(() => Effect.sleep("5 millis"), { buffer: new Uint8Array(1024) })
        ))
      )
      expectCrashed(error, thrown, url)
      yield* nothingLeft(pool, server.openSockets)
    }))
})

// ---- opening a connection ----------------------------------------------------------------------------------------

const tlsModule = createRequire(import.meta.url)("node:tls") as typeof Tls

describe("opening", () => {
  it.scopedLive("a throw while a socket is being opened fails the request with ConnectError", () =>
    Effect.gen(function*() {
      const server = yield* httpsServer({ cert: serverCert, key: serverKey }, (_, response) => response.end("ok"))
      const pool = yield* Pool.make({ tls: { ca } })
      const thrown = new Error("thrown by tls.connect")
      throwOnce(tlsModule, "connect", thrown)
      const error = yield* attempt(pool.request("GET", `${server.url}/open`))
      expect(error._tag).toBe("ConnectError")
      expect(error.cause).toBe(thrown)
      yield* nothingLeft(pool, server.openSockets)
      // The next request opens its connection as usual.
      expect((yield* pool.request("GET", `${server.url}/again`)).text).toBe("ok")
    }))

  it.scopedLive("a throw while the proxy's CONNECT reply is handled fails the request with ProxyError", () =>
    Effect.gen(function*() {
      const proxy = yield* answering("HTTP/1.1 200 Connection established\r\nX-Fault: 1\r\n\r\n", () => {})
      const pool = yield* Pool.make({ proxy: proxy.url, tls: { ca } })
      const thrown = new Error("thrown while the proxy's reply was read")
      const concat = Buffer.concat.bind(Buffer)
      vi.spyOn(Buffer, "concat").mockImplementation((list, length) => {
        if (list.some((part) => Buffer.from(part).includes("X-Fault"))) throw thrown
        return concat(list, length)
      })
      const error = yield* attempt(pool.request("GET", "https://example.test/tunnel"))
      vi.restoreAllMocks()
      expect(error._tag).toBe("ProxyError")
      expect((error.cause as Error).cause).toBe(thrown)
      yield* nothingLeft(pool, proxy.openSockets)
    }))
})

// ---- HTTP/2 --------------------------------------------------------------------------------------------------------

describe("HTTP/2", () => {
  const answer = (stream: import("node:http2").ServerHttp2Stream) => {
    stream.respond({ ":status": 200 })
    stream.end("ok")
  }

  it.scopedLive("a throw in a stream's response event fails the request with ReadError and closes the session", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: answer })
      const pool = yield* Pool.make({ http2: true, tls: { ca } })
      const thrown = new Error("thrown when the head came")
      throwOnce(Exchange.prototype, "onHead", thrown)
      const url = `${server.url}/head`
      expectCrashed(yield* attempt(pool.request("GET", url)), thrown, url)
      yield* nothingLeft(pool, server.openSessions)
    }))

  it.scopedLive("a throw in a stream's timer fails the request with ReadError and closes the session", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: () => {} })
      const pool = yield* Pool.make({ http2: true, tls: { ca } })
      const thrown = new Error("thrown when the read timeout fired")
      throwOnce(Http2Connection.prototype, "timeoutError", thrown)
      const url = `${server.url}/silent`
      expectCrashed(yield* attempt(pool.request("GET", url, { timeout: { read: 100 } })), thrown, url)
      yield* nothingLeft(pool, server.openSessions)
    }))

  it.scopedLive("a throw in a session event (GOAWAY) closes the session without reaching the process", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream) => {
          const session = stream.session
          answer(stream)
          setTimeout(() => {
            if (session !== undefined && !session.destroyed) session.goaway()
          }, 50)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls: { ca } })
      expect((yield* pool.request("GET", `${server.url}/first`)).text).toBe("ok")
      const threw: Array<{ readonly socket: { readonly destroyed: boolean } }> = []
      vi.spyOn(Http2Connection.prototype as unknown as { close(): void }, "close").mockImplementationOnce(
        function(this: { readonly socket: { readonly destroyed: boolean } }) {
          threw.push(this)
          throw new Error("thrown on GOAWAY")
        }
      )
      yield* eventually(() => threw.length === 1, 1_000, "the GOAWAY")
      // Node's server stops reading once it has sent GOAWAY, so it is the client's socket that shows the close.
      yield* eventually(() => threw[0]!.socket.destroyed, 2_000, "the session's socket to close")
      expect(yield* pool.connections).toEqual([])
      yield* Effect.sleep("20 millis")
      expect(escaped).toEqual([])
    }))
})

// ---- the pool's and the request's timers ---------------------------------------------------------------------------

describe("request timers", () => {
  /** A pool of one connection, held for 300 ms by a first request, so that the next one waits in the queue. */
  const heldPool = (timeout: { readonly pool?: number; readonly total?: number }) =>
    Effect.gen(function*() {
      const server = yield* httpServer((_, response) => {
        setTimeout(() => response.end("ok"), 300)
      })
      const pool = yield* Pool.make({ maxConnections: 1 })
      yield* Effect.forkScoped(pool.request("GET", `${server.url}/hold`))
      yield* eventually(() => server.acceptedSockets() === 1, 1_000, "the first request")
      return { server, pool, queued: pool.request("GET", `${server.url}/queued`, { timeout }) }
    })

  it.scopedLive("a throw in the pool timeout's timer still fails the request with PoolTimeout", () =>
    Effect.gen(function*() {
      const { queued } = yield* heldPool({ pool: 100 })
      const thrown = new Error("thrown while the request left the queue")
      throwOnce(PoolImpl.prototype, "dequeue", thrown)
      const error = yield* attempt(queued)
      expect(error._tag).toBe("PoolTimeout")
      expect(error.cause).toBe(thrown)
      yield* Effect.sleep("20 millis")
      expect(escaped).toEqual([])
    }))

  it.scopedLive("a throw in the total timeout's timer stays in: the request fails with RequestTimeout", () =>
    Effect.gen(function*() {
      const { queued } = yield* heldPool({ total: 100 })
      throwOnce(PoolImpl.prototype, "dequeue", new Error("thrown while the request left the queue"))
      const error = yield* attempt(queued)
      expect(error._tag).toBe("RequestTimeout")
      yield* Effect.sleep("20 millis")
      expect(escaped).toEqual([])
    }))
})

// ---- zlib callbacks ----------------------------------------------------------------------------------------------

describe("zlib", () => {
  it.scopedLive("a throw while a decoded body is handed over fails the request with DecodingError, nothing escapes", () =>
    Effect.gen(function*() {
      const body = zlib.gzipSync(Buffer.alloc(256 * 1024, 97))
      const server = yield* httpServer((_, response) => {
        response.writeHead(200, { "content-encoding": "gzip", "content-length": body.length })
        response.end(body)
      })
      const pool = yield* Pool.make()
      const thrown = new RangeError("thrown while zlib's output was taken")
      throwOnce(Exchange.prototype, "decoderChanged", thrown)
      const url = `${server.url}/gzip`
      const error = yield* attempt(pool.request("GET", url))
      expect(error._tag).toBe("DecodingError")
      expect(error.cause).toBe(thrown)
      expect(error.message).toContain(url)
      expect(error.message).toContain("internal error")
      // The body's framing was intact, so its connection may be kept; none is left at work, and the next is fine.
      yield* Effect.sleep("20 millis")
      expect((yield* pool.connections).filter((c) => c.state === "ACTIVE")).toEqual([])
      expect(escaped).toEqual([])
      expect((yield* pool.request("GET", url)).content.length).toBe(256 * 1024)
    }))
})
