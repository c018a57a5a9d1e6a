/**
 * HTTP/2 through the pool: ALPN and h2c prior knowledge, multiplexing many exchanges on one session, per-stream
 * cancellation, timeouts and errors, GOAWAY and reconnects, request bodies, backpressure, and the Client on top.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope, Stream } from "effect"
import { Client, Pool } from "httpfx"
import * as http2 from "node:http2"
import * as net from "node:net"
import { eventually, httpServer, httpsServer, rawServer } from "../utils/servers.js"
import { ca, h2Server, readAll, serverCert, serverKey, tlsServer } from "./servers.js"

const tls = { ca }

/** Answer every stream with its method and path, after reading the request body. */
const echo = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) =>
  readAll(stream, (body) => {
    if (stream.destroyed) return
    stream.respond({ ":status": 200, "content-type": "text/plain", "x-path": String(headers[":path"]) })
    stream.end(`${headers[":method"]} ${headers[":path"]} ${body.length}`)
  })

// ---- protocol selection --------------------------------------------------------------------------------------------

describe("protocol selection", () => {
  it.scopedLive("with http2 enabled an https server that offers h2 answers in HTTP/2", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: echo })
      const pool = yield* Pool.make({ http2: true, tls })
      const response = yield* pool.request("GET", `${server.url}/hello`)
      expect(response.httpVersion).toBe("HTTP/2")
      expect(response.status).toBe(200)
      // HTTP/2 has no reason phrase: the standard one stands in.
      expect(response.reasonPhrase).toBe("OK")
      expect(response.text).toBe("GET /hello 0")
      expect(response.headers["x-path"]).toBe("/hello")
      // Pseudo-headers never show up as fields.
      expect(response.rawHeaders.some(([name]) => name.startsWith(":"))).toBe(false)
      const [info] = yield* pool.connections
      expect(info?.httpVersion).toBe("HTTP/2")
    }))

  it.scopedLive("ten concurrent requests share one HTTP/2 connection (and the server sees one session)", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: echo })
      const pool = yield* Pool.make({ http2: true, tls })
      const responses = yield* Effect.all(
        Array.from({ length: 10 }, (_, i) => pool.request("GET", `${server.url}/r${i}`)),
        { concurrency: "unbounded" }
      )
      expect(responses.map((r) => r.text)).toEqual(Array.from({ length: 10 }, (_, i) => `GET /r${i} 0`))
      expect(responses.every((r) => r.httpVersion === "HTTP/2")).toBe(true)
      const connections = yield* pool.connections
      expect(connections.map(String)).toEqual([
        `<HTTPConnection ['${server.url}', HTTP/2, IDLE, Request Count: 10]>`
      ])
      expect(server.sessions()).toBe(1)
      expect(server.connections()).toBe(1)
    }))

  it.scopedLive("with http2 off the same server speaks HTTP/1.1", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onRequest: (req, res) => {
          res.end(`version ${req.httpVersion}`)
        }
      })
      const pool = yield* Pool.make({ tls })
      const response = yield* pool.request("GET", `${server.url}/`)
      expect(response.httpVersion).toBe("HTTP/1.1")
      expect(response.text).toBe("version 1.1")
      const connections = yield* pool.connections
      expect(connections.map(String)).toEqual([`<HTTPConnection ['${server.url}', HTTP/1.1, IDLE, Request Count: 1]>`])
      expect(server.sessions()).toBe(0)
    }))

  it.scopedLive("with http2 enabled a server that only offers http/1.1 in ALPN is spoken to in HTTP/1.1", () =>
    Effect.gen(function*() {
      const server = yield* httpsServer({ cert: serverCert, key: serverKey }, (req, res) => {
        res.end(`version ${req.httpVersion}`)
      })
      const pool = yield* Pool.make({ http2: true, tls })
      // Concurrent requests wait for the first handshake, then open HTTP/1.1 connections of their own.
      const responses = yield* Effect.all(
        Array.from({ length: 3 }, () => pool.request("GET", `${server.url}/`)),
        { concurrency: "unbounded" }
      )
      expect(responses.map((r) => `${r.httpVersion} ${r.text}`)).toEqual(Array(3).fill("HTTP/1.1 version 1.1"))
      const connections = yield* pool.connections
      expect(connections.every((c) => c.httpVersion === "HTTP/1.1")).toBe(true)
    }))

  it.scopedLive("http1: false speaks h2c by prior knowledge to a plain-http server", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ secure: false, onStream: echo })
      const pool = yield* Pool.make({ http1: false, http2: true })
      const responses = yield* Effect.all(
        Array.from({ length: 5 }, (_, i) => pool.request("GET", `${server.url}/c${i}`)),
        { concurrency: "unbounded" }
      )
      expect(responses.map((r) => `${r.httpVersion} ${r.text}`)).toEqual(
        Array.from({ length: 5 }, (_, i) => `HTTP/2 GET /c${i} 0`)
      )
      expect(server.sessions()).toBe(1)
    }))

  it.scopedLive("with both enabled, plain http stays HTTP/1.1 (no h2c upgrade, as httpx)", () =>
    Effect.gen(function*() {
      // An h2c-only server would not understand HTTP/1.1: the request fails rather than silently upgrading.
      const server = yield* h2Server({ secure: false, onStream: echo })
      const pool = yield* Pool.make({ http2: true, timeout: "1 second" })
      const exit = yield* Effect.exit(pool.request("GET", `${server.url}/`))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(server.streams()).toBe(0)
    }))

  it.scopedLive("http1: false against an https server without h2 fails with a ConnectError naming HTTP/2", () =>
    Effect.gen(function*() {
      const server = yield* httpsServer({ cert: serverCert, key: serverKey }, (_req, res) => res.end("h1"))
      const pool = yield* Pool.make({ http1: false, http2: true, tls })
      const url = `${server.url}/only-h2`
      const error = yield* Effect.flip(pool.request("GET", url))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toContain(url)
      expect(error.message).toMatch(/HTTP\/2/)
      expect(yield* pool.connections).toEqual([])
    }))

  it.scopedLive("http1: false against a TLS server without ALPN fails with a ConnectError naming HTTP/2", () =>
    Effect.gen(function*() {
      // A bare TLS server negotiates no application protocol at all.
      const server = yield* tlsServer()
      const pool = yield* Pool.make({ http1: false, http2: true, tls })
      const url = `${server.url}/only-h2`
      const error = yield* Effect.flip(pool.request("GET", url))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toContain(url)
      expect(error.message).toMatch(/HTTP\/2/)
      expect(yield* pool.connections).toEqual([])
    }))

  it.scopedLive("http1: false against a plain HTTP/1.1 server fails with a typed error, not a hang", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("h1 only"))
      const pool = yield* Pool.make({ http1: false, http2: true })
      const url = `${server.url}/h2c`
      const error = yield* Effect.flip(pool.request("GET", url))
      expect(error._tag).toBe("RemoteProtocolError")
      expect(error.message).toContain(url)
      expect(error.message).toMatch(/HTTP\/2/)
    }))

  it.scopedLive("connection-specific fields are dropped and Host becomes :authority", () =>
    Effect.gen(function*() {
      let seen: http2.IncomingHttpHeaders | undefined
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          seen = headers
          stream.respond({ ":status": 204 })
          stream.end()
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      const response = yield* pool.request("GET", `${server.url}/fields?q=1`, {
        headers: {
          Connection: "keep-alive, X-Hop",
          "Keep-Alive": "timeout=5",
          "X-Hop": "1",
          TE: "gzip",
          "X-Kept": "yes"
        }
      })
      expect(response.status).toBe(204)
      expect(seen?.[":authority"]).toBe(`127.0.0.1:${server.port}`)
      expect(seen?.[":scheme"]).toBe("https")
      expect(seen?.[":path"]).toBe("/fields?q=1")
      expect(seen?.[":method"]).toBe("GET")
      expect(seen?.["x-kept"]).toBe("yes")
      expect(seen?.["connection"]).toBeUndefined()
      expect(seen?.["keep-alive"]).toBeUndefined()
      expect(seen?.["x-hop"]).toBeUndefined()
      expect(seen?.["te"]).toBeUndefined()
    }))

  it.scopedLive("HEAD gets the head and an empty body", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream) => {
          stream.respond({ ":status": 200, "content-length": "1234" }, { endStream: true })
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      const response = yield* pool.request("HEAD", `${server.url}/`)
      expect(response.status).toBe(200)
      expect(response.headers["content-length"]).toBe("1234")
      expect(response.content.length).toBe(0)
    }))

  it.scopedLive("repeated response fields (set-cookie) come through one by one in rawHeaders", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream) => {
          stream.respond({ ":status": 201, "set-cookie": ["a=1", "b=2"] })
          stream.end()
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      const response = yield* pool.request("GET", `${server.url}/`)
      expect(response.status).toBe(201)
      expect(response.reasonPhrase).toBe("Created")
      expect(response.rawHeaders.filter(([name]) => name === "set-cookie").map(([, value]) => value)).toEqual([
        "a=1",
        "b=2"
      ])
    }))
})

// ---- proxies -------------------------------------------------------------------------------------------------------

/** A CONNECT proxy that splices streams, counting tunnels. */
const connectProxy = Effect.gen(function*() {
  let tunnels = 0
  const server = yield* rawServer((socket) => {
    let buffered = ""
    const onData = (data: Buffer) => {
      buffered += data.toString("latin1")
      const end = buffered.indexOf("\r\n\r\n")
      if (end < 0) return
      socket.removeListener("data", onData)
      tunnels++
      const authority = buffered.slice(0, end).split(" ")[1]!
      const colon = authority.lastIndexOf(":")
      const target = { host: authority.slice(0, colon), port: Number(authority.slice(colon + 1)) }
      const upstream = net.connect(target, () => {
        socket.write("HTTP/1.1 200 Connection established\r\n\r\n")
        socket.pipe(upstream).pipe(socket)
      })
      upstream.on("error", () => socket.destroy())
      socket.on("close", () => upstream.destroy())
    }
    socket.on("data", onData)
  })
  return { url: server.url, tunnels: () => tunnels }
})

describe("proxies", () => {
  it.scopedLive("HTTP/2 runs through a CONNECT tunnel (ALPN happens inside it), one tunnel for many requests", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: echo })
      const proxy = yield* connectProxy
      const pool = yield* Pool.make({ http2: true, tls, proxy: proxy.url })
      const responses = yield* Effect.all(
        Array.from({ length: 5 }, (_, i) => pool.request("GET", `${server.url}/p${i}`)),
        { concurrency: "unbounded" }
      )
      expect(responses.map((r) => `${r.httpVersion} ${r.text}`)).toEqual(
        Array.from({ length: 5 }, (_, i) => `HTTP/2 GET /p${i} 0`)
      )
      expect(proxy.tunnels()).toBe(1)
      expect(server.sessions()).toBe(1)
    }))

  it.scopedLive("plain http through a forward proxy stays HTTP/1.1, even with http1 disabled", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const proxy = yield* httpServer((req, res) => {
        seen.push(`${req.httpVersion} ${req.url}`)
        res.end("from the proxy")
      })
      const pool = yield* Pool.make({ http1: false, http2: true, proxy: proxy.url })
      const response = yield* pool.request("GET", "http://origin.test:8080/a")
      expect(response.httpVersion).toBe("HTTP/1.1")
      expect(response.text).toBe("from the proxy")
      expect(seen).toEqual(["1.1 http://origin.test:8080/a"])
    }))
})

// ---- multiplexing and stream lifetimes -----------------------------------------------------------------------------

describe("streams", () => {
  it.scopedLive("a streamed response applies backpressure: the server cannot get far ahead of a slow reader", () =>
    Effect.gen(function*() {
      const total = 8 * 1024 * 1024
      let written = 0
      const server = yield* h2Server({
        onStream: (stream) => {
          stream.respond({ ":status": 200 })
          const chunk = Buffer.alloc(16 * 1024, 120)
          const pump = () => {
            while (written < total) {
              written += chunk.length
              if (!stream.write(chunk)) return stream.once("drain", pump)
            }
            stream.end()
          }
          pump()
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      const scope = yield* Scope.make()
      const response = yield* Scope.extend(pool.stream("GET", `${server.url}/big`), scope)
      expect(response.httpVersion).toBe("HTTP/2")
      let received = 0
      let writtenDuringPause = -1
      yield* Stream.runForEach(response.raw, (bytes) =>
        Effect.gen(function*() {
          received += bytes.length
          if (writtenDuringPause >= 0) return
          // Stop pulling for a while after the first piece.
          yield* Effect.sleep("300 millis")
          writtenDuringPause = written
        }))
      // Flow-control windows and buffers on both sides, nothing like the whole body.
      expect(writtenDuringPause).toBeGreaterThan(0)
      expect(writtenDuringPause).toBeLessThan(2 * 1024 * 1024)
      expect(received).toBe(total)
      yield* Scope.close(scope, Exit.void)
      const [info] = yield* pool.connections
      expect(String(info)).toBe(`<HTTPConnection ['${server.url}', HTTP/2, IDLE, Request Count: 1]>`)
    }))

  it.scopedLive("closing one stream's scope cancels that stream only: the session and the others carry on", () =>
    Effect.gen(function*() {
      const cancelled: Array<number> = []
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          stream.on("close", () => {
            if (stream.rstCode === http2.constants.NGHTTP2_CANCEL) cancelled.push(Number(stream.id))
          })
          if (headers[":path"] === "/endless") {
            stream.respond({ ":status": 200 })
            stream.write("first part")
            return
          }
          echo(stream, headers)
        },
        // One stream at a time: the next request can only run on this session if the cancelled one freed its slot.
        settings: { maxConcurrentStreams: 1 }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      // Settle the server's SETTINGS first, so the pool knows the limit.
      yield* pool.request("GET", `${server.url}/warm-up`)
      const scope = yield* Scope.make()
      const endless = yield* Scope.extend(pool.stream("GET", `${server.url}/endless`), scope)
      expect(endless.status).toBe(200)
      expect((yield* pool.connections).map((c) => c.state)).toEqual(["ACTIVE"])
      yield* Scope.close(scope, Exit.void)
      yield* eventually(() => cancelled.length === 1, 2_000, "the server to see RST_STREAM(CANCEL)")
      const after = yield* pool.request("GET", `${server.url}/after`)
      expect(after.text).toBe("GET /after 0")
      expect(server.sessions()).toBe(1)
      const connections = yield* pool.connections
      expect(connections.map(String)).toEqual([`<HTTPConnection ['${server.url}', HTTP/2, IDLE, Request Count: 3]>`])
    }))

  it.scopedLive("interrupting one request leaves a concurrent request on the same session unharmed", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          if (headers[":path"] === "/never") return
          setTimeout(() => echo(stream, headers), 100)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      yield* pool.request("GET", `${server.url}/warm-up`)
      const never = yield* Effect.fork(pool.request("GET", `${server.url}/never`))
      const slow = yield* Effect.fork(pool.request("GET", `${server.url}/slow`))
      yield* Effect.sleep("30 millis")
      yield* Fiber.interrupt(never)
      const response = yield* Fiber.join(slow)
      expect(response.text).toBe("GET /slow 0")
      expect(server.sessions()).toBe(1)
      expect(server.openSessions()).toBe(1)
    }))

  it.scopedLive("the server's SETTINGS_MAX_CONCURRENT_STREAMS is respected", () =>
    Effect.gen(function*() {
      let active = 0
      let peak = 0
      const server = yield* h2Server({
        settings: { maxConcurrentStreams: 2 },
        onStream: (stream, headers) => {
          active++
          peak = Math.max(peak, active)
          stream.on("close", () => active--)
          setTimeout(() => echo(stream, headers), 30)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls, maxConnections: 1 })
      yield* pool.request("GET", `${server.url}/warm-up`)
      const responses = yield* Effect.all(
        Array.from({ length: 6 }, (_, i) => pool.request("GET", `${server.url}/n${i}`)),
        { concurrency: "unbounded" }
      )
      expect(responses.map((r) => r.status)).toEqual(Array(6).fill(200))
      expect(peak).toBeLessThanOrEqual(2)
      expect(server.sessions()).toBe(1)
    }))

  it.scopedLive("with every stream of the only allowed connection busy, a request waits and fails with PoolTimeout", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        settings: { maxConcurrentStreams: 1 },
        onStream: (stream, headers) => {
          if (headers[":path"] === "/hold") return
          echo(stream, headers)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls, maxConnections: 1 })
      yield* pool.request("GET", `${server.url}/warm-up`)
      const hold = yield* Effect.fork(pool.request("GET", `${server.url}/hold`))
      yield* eventually(() => server.streams() === 2, 2_000, "the held request to arrive")
      const url = `${server.url}/waits`
      const error = yield* Effect.flip(pool.request("GET", url, { timeout: { pool: "200 millis" } }))
      expect(error._tag).toBe("PoolTimeout")
      expect(error.message).toContain(url)
      // Once the held stream goes, its slot serves the next request on the same session.
      yield* Fiber.interrupt(hold)
      const next = yield* pool.request("GET", `${server.url}/next`)
      expect(next.text).toBe("GET /next 0")
      expect(server.sessions()).toBe(1)
    }))

  it.scopedLive("a server that takes no request body bytes fails the request with WriteTimeout", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          // Never read: flow control stops the client once the stream's window is full.
          if (headers[":path"] === "/no-read") return stream.pause()
          echo(stream, headers)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls, timeout: { write: "200 millis" } })
      const url = `${server.url}/no-read`
      const error = yield* Effect.flip(pool.request("POST", url, { content: new Uint8Array(1024 * 1024) }))
      expect(error._tag).toBe("WriteTimeout")
      expect(error.message).toContain(url)
      const streamed = yield* Effect.flip(pool.request("POST", url, {
        content: Stream.fromIterable(Array.from({ length: 64 }, () => new Uint8Array(16 * 1024)))
      }))
      expect(streamed._tag).toBe("WriteTimeout")
      // The session itself is fine.
      const next = yield* pool.request("GET", `${server.url}/next`)
      expect(next.status).toBe(200)
      expect(server.sessions()).toBe(1)
    }))

  it.scopedLive("a stream reset by the server fails that request with RemoteProtocolError naming the code", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          if (headers[":path"] === "/reset") return stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR)
          echo(stream, headers)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      const url = `${server.url}/reset`
      const error = yield* Effect.flip(pool.request("GET", url))
      expect(error._tag).toBe("RemoteProtocolError")
      expect(error.message).toContain(url)
      expect(error.message).toContain("INTERNAL_ERROR")
      // The session is fine: the next request goes on it.
      const next = yield* pool.request("GET", `${server.url}/next`)
      expect(next.text).toBe("GET /next 0")
      expect(server.sessions()).toBe(1)
    }))

  it.scopedLive("REFUSED_STREAM is retried once: the server promised it did not process the request", () =>
    Effect.gen(function*() {
      let attempts = 0
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          attempts++
          if (attempts === 1) return stream.close(http2.constants.NGHTTP2_REFUSED_STREAM)
          echo(stream, headers)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      const response = yield* pool.request("POST", `${server.url}/refused`, { content: "body" })
      expect(response.text).toBe("POST /refused 4")
      expect(attempts).toBe(2)
    }))

  it.scopedLive("a silent stream fails with ReadTimeout; the session stays usable", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          if (headers[":path"] === "/silent") return
          echo(stream, headers)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      const url = `${server.url}/silent`
      const error = yield* Effect.flip(pool.request("GET", url, { timeout: { read: "200 millis" } }))
      expect(error._tag).toBe("ReadTimeout")
      expect(error.message).toContain(url)
      const next = yield* pool.request("GET", `${server.url}/next`)
      expect(next.text).toBe("GET /next 0")
      expect(server.sessions()).toBe(1)
    }))

  it.scopedLive("the total timeout cancels a silent stream with RequestTimeout; the session stays usable", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          if (headers[":path"] === "/silent") return
          echo(stream, headers)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      const url = `${server.url}/silent`
      const error = yield* Effect.flip(pool.request("GET", url, { timeout: { total: "200 millis" } }))
      expect(error._tag).toBe("RequestTimeout")
      expect(error.message).toContain(url)
      const next = yield* pool.request("GET", `${server.url}/next`)
      expect(next.text).toBe("GET /next 0")
      expect(server.sessions()).toBe(1)
      expect((yield* pool.connections).map(String)).toEqual([
        `<HTTPConnection ['${server.url}', HTTP/2, IDLE, Request Count: 2]>`
      ])
    }))

  it.scopedLive("a response whose body stops mid-way fails the streaming reader with ReadTimeout", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream) => {
          stream.respond({ ":status": 200 })
          stream.write("partial")
        }
      })
      const pool = yield* Pool.make({ http2: true, tls, timeout: { read: "200 millis" } })
      const response = yield* pool.stream("GET", `${server.url}/stalls`)
      const error = yield* Effect.flip(Stream.runDrain(response.raw))
      expect(error._tag).toBe("ReadTimeout")
    }))

  it.scopedLive("the session dying mid-flight fails every active stream with ReadError", () =>
    Effect.gen(function*() {
      let seen = 0
      const server = yield* h2Server({
        onStream: (stream) => {
          stream.respond({ ":status": 200 })
          stream.write("x")
          if (++seen === 2) setTimeout(() => server.sockets().forEach((socket) => socket.destroy()), 20)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      const errors = yield* Effect.all(
        ["/a", "/b"].map((path) => Effect.flip(pool.request("POST", `${server.url}${path}`))),
        { concurrency: "unbounded" }
      )
      expect(errors.map((e) => e._tag)).toEqual(["ReadError", "ReadError"])
      yield* eventually(() => server.openSessions() === 0, 2_000, "the session to close")
      expect(yield* pool.connections).toEqual([])
    }))
})

// ---- connection lifetimes ------------------------------------------------------------------------------------------

describe("connection lifetimes", () => {
  it.scopedLive("GOAWAY lets the in-flight request finish and sends new ones to a new connection", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          if (headers[":path"] === "/last") {
            // Announce the end of this session, but answer the request in flight.
            stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id!)
            setTimeout(() => echo(stream, headers), 50)
            return
          }
          echo(stream, headers)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      const last = yield* pool.request("GET", `${server.url}/last`)
      expect(last.text).toBe("GET /last 0")
      const next = yield* pool.request("GET", `${server.url}/next`)
      expect(next.text).toBe("GET /next 0")
      expect(server.sessions()).toBe(2)
      yield* eventually(() => server.openSessions() === 1, 2_000, "the first session to close")
      const connections = yield* pool.connections
      expect(connections.map(String)).toEqual([`<HTTPConnection ['${server.url}', HTTP/2, IDLE, Request Count: 1]>`])
    }))

  it.scopedLive("requests above a GOAWAY's last stream id are retried on a new connection", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          if (headers[":path"] === "/first") {
            // Wait for the second request to arrive on this session, then refuse everything after the first.
            setTimeout(() => {
              stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id!)
              echo(stream, headers)
            }, 80)
            return
          }
          // On the doomed session the second request is never answered: only the retry is.
          if (headers[":path"] === "/second" && server.sessions() === 1) return
          echo(stream, headers)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      const [first, second] = yield* Effect.all(
        [
          pool.request("GET", `${server.url}/first`),
          Effect.zipRight(Effect.sleep("20 millis"), pool.request("GET", `${server.url}/second`))
        ],
        { concurrency: "unbounded" }
      )
      expect(first.text).toBe("GET /first 0")
      expect(second.text).toBe("GET /second 0")
      expect(server.sessions()).toBe(2)
      // first, second on the doomed session, second again on the new one
      expect(server.streams()).toBe(3)
    }))

  it.scopedLive("a session the server closed is dropped: the next request reconnects", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: echo })
      const pool = yield* Pool.make({ http2: true, tls })
      yield* pool.request("GET", `${server.url}/one`)
      for (const session of server.sessionList()) session.close()
      yield* eventually(() => server.openSessions() === 0, 2_000, "the server to close its session")
      yield* Effect.sleep("20 millis")
      const two = yield* pool.request("GET", `${server.url}/two`)
      expect(two.text).toBe("GET /two 0")
      expect(server.sessions()).toBe(2)
    }))

  it.scopedLive("an idempotent request on a reused session that dies before answering is retried once", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          // The first session dies under its second request, as a server closing an idle connection would.
          if (headers[":path"] !== "/one" && server.sessions() === 1) {
            return server.sockets().forEach((socket) => socket.destroy())
          }
          echo(stream, headers)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      yield* pool.request("GET", `${server.url}/one`)
      const two = yield* pool.request("GET", `${server.url}/two`)
      expect(two.text).toBe("GET /two 0")
      expect(server.sessions()).toBe(2)
    }))

  it.scopedLive("a POST on a session that dies before answering is not retried: ReadError", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          if (headers[":path"] !== "/one") return server.sockets().forEach((socket) => socket.destroy())
          echo(stream, headers)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      yield* pool.request("GET", `${server.url}/one`)
      const url = `${server.url}/post`
      const error = yield* Effect.flip(pool.request("POST", url, { content: "x" }))
      expect(error._tag).toBe("ReadError")
      expect(error.message).toContain(url)
      expect(server.sessions()).toBe(1)
    }))

  it.scopedLive("an idle session is closed after keepaliveExpiry", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: echo })
      const pool = yield* Pool.make({ http2: true, tls, keepaliveExpiry: "150 millis" })
      yield* pool.request("GET", `${server.url}/`)
      expect(server.openSessions()).toBe(1)
      yield* eventually(() => server.openSessions() === 0, 2_000, "the idle session to close")
      expect(yield* pool.connections).toEqual([])
    }))

  it.scopedLive("a full pool closes an idle HTTP/2 connection to make room for another origin", () =>
    Effect.gen(function*() {
      const h2 = yield* h2Server({ onStream: echo })
      const h1 = yield* httpServer((_req, res) => res.end("h1"))
      const pool = yield* Pool.make({ http2: true, tls, maxConnections: 1 })
      yield* pool.request("GET", `${h2.url}/`)
      expect(h2.openSessions()).toBe(1)
      const response = yield* pool.request("GET", `${h1.url}/`)
      expect(response.text).toBe("h1")
      yield* eventually(() => h2.openSessions() === 0, 2_000, "the idle HTTP/2 session to close")
      expect((yield* pool.connections).map((c) => c.httpVersion)).toEqual(["HTTP/1.1"])
    }))

  it.scopedLive("maxKeepaliveConnections: 0 closes an HTTP/2 connection as soon as it is idle", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: echo })
      const pool = yield* Pool.make({ http2: true, tls, maxKeepaliveConnections: 0 })
      const responses = yield* Effect.all(
        Array.from({ length: 3 }, (_, i) => pool.request("GET", `${server.url}/k${i}`)),
        { concurrency: "unbounded" }
      )
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200])
      yield* eventually(() => server.openSessions() === 0, 2_000, "the session to close")
      expect(yield* pool.connections).toEqual([])
      expect(server.sessions()).toBe(1)
    }))

  it.scopedLive("closing the pool's scope closes the session (the server sees it)", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: echo })
      const scope = yield* Scope.make()
      const pool = yield* Scope.extend(Pool.make({ http2: true, tls }), scope)
      yield* pool.request("GET", `${server.url}/`)
      expect(server.openSessions()).toBe(1)
      yield* Scope.close(scope, Exit.void)
      yield* eventually(() => server.openSessions() === 0, 2_000, "the server to see the session close")
    }))

  it.scopedLive("closing the pool fails a request in flight with ReadError", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: () => {} })
      const scope = yield* Scope.make()
      const pool = yield* Scope.extend(Pool.make({ http2: true, tls }), scope)
      const fiber = yield* Effect.fork(Effect.flip(pool.request("GET", `${server.url}/hangs`)))
      yield* eventually(() => server.streams() === 1, 2_000, "the request to arrive")
      yield* Scope.close(scope, Exit.void)
      const error = yield* Fiber.join(fiber)
      expect(error._tag).toBe("ReadError")
      yield* eventually(() => server.openSessions() === 0, 2_000, "the session to close")
    }))
})

// ---- request bodies ------------------------------------------------------------------------------------------------

describe("request bodies", () => {
  const bodyEcho = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) =>
    readAll(stream, (body) => {
      if (stream.destroyed) return
      stream.respond({ ":status": 200 })
      const text = body.toString("latin1").slice(0, 40)
      stream.end(JSON.stringify({ length: body.length, text, cl: headers["content-length"] ?? null }))
    })

  it.scopedLive("a bytes body reaches the server with its Content-Length", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: bodyEcho })
      const pool = yield* Pool.make({ http2: true, tls })
      const content = new TextEncoder().encode("hello h2")
      const response = yield* pool.request("POST", `${server.url}/bytes`, { content })
      expect(yield* response.json).toEqual({ length: 8, text: "hello h2", cl: "8" })
    }))

  it.scopedLive("a large bytes body (beyond the flow-control window) arrives whole", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: bodyEcho })
      const pool = yield* Pool.make({ http2: true, tls })
      const body = new Uint8Array(1024 * 1024).fill(97)
      const response = yield* pool.request("PUT", `${server.url}/large`, { content: body })
      expect(((yield* response.json) as { length: number }).length).toBe(body.length)
    }))

  it.scopedLive("a streamed body of unknown length reaches the server (no Transfer-Encoding in HTTP/2)", () =>
    Effect.gen(function*() {
      let seen: http2.IncomingHttpHeaders | undefined
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          seen = headers
          bodyEcho(stream, headers)
        }
      })
      const pool = yield* Pool.make({ http2: true, tls })
      const parts = Array.from({ length: 50 }, (_, i) => new TextEncoder().encode(`part${i};`))
      const response = yield* pool.request("POST", `${server.url}/stream`, { content: Stream.fromIterable(parts) })
      const json = (yield* response.json) as { length: number; text: string; cl: string | null }
      expect(json.length).toBe(parts.reduce((n, p) => n + p.length, 0))
      expect(json.text.startsWith("part0;part1;")).toBe(true)
      expect(json.cl).toBe(null)
      expect(seen?.["transfer-encoding"]).toBeUndefined()
    }))

  it.scopedLive("a large streamed body is written with backpressure and arrives whole", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: bodyEcho })
      const pool = yield* Pool.make({ http2: true, tls })
      const chunk = new Uint8Array(64 * 1024).fill(98)
      const response = yield* pool.request("POST", `${server.url}/big-stream`, {
        content: Stream.fromIterable(Array.from({ length: 32 }, () => chunk))
      })
      expect(((yield* response.json) as { length: number }).length).toBe(32 * chunk.length)
    }))

  it.scopedLive("a streamed body with a declared Content-Length that lies fails with LocalProtocolError", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: bodyEcho })
      const pool = yield* Pool.make({ http2: true, tls })
      const url = `${server.url}/lies`
      const error = yield* Effect.flip(pool.request("POST", url, {
        headers: { "Content-Length": "3" },
        content: Stream.make(new TextEncoder().encode("too long"))
      }))
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain(url)
      // Only that stream was cancelled.
      const next = yield* pool.request("POST", `${server.url}/ok`, { content: "ok" })
      expect(next.status).toBe(200)
      expect(server.sessions()).toBe(1)
    }))

  it.scopedLive("a body stream's own failure cancels the stream and surfaces as is", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: bodyEcho })
      const pool = yield* Pool.make({ http2: true, tls })
      const failing = Stream.concat(Stream.make(new Uint8Array([1, 2, 3])), Stream.fail("body broke" as const))
      const error = yield* Effect.flip(pool.request("POST", `${server.url}/broken`, { content: failing }))
      expect(error).toBe("body broke")
      const next = yield* pool.request("GET", `${server.url}/ok`)
      expect(next.status).toBe(200)
      expect(server.sessions()).toBe(1)
      const connections = yield* pool.connections
      expect(connections.map((c) => c.state)).toEqual(["IDLE"])
    }))
})

// ---- the client ----------------------------------------------------------------------------------------------------

describe("Client", () => {
  it.scopedLive("Client.make({ http2: true }) works end to end", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          stream.respond({ ":status": 200, "content-type": "application/json" })
          stream.end(JSON.stringify({ path: headers[":path"], agent: headers["user-agent"] }))
        }
      })
      const client = yield* Client.make({ http2: true, tls: { ca }, baseUrl: server.url })
      const responses = yield* Effect.all(
        Array.from({ length: 4 }, (_, i) => client.get("/json", { params: { i } })),
        { concurrency: "unbounded" }
      )
      for (const [i, response] of responses.entries()) {
        expect(response.httpVersion).toBe("HTTP/2")
        expect(yield* response.json).toEqual({ path: `/json?i=${i}`, agent: expect.stringMatching(/^httpfx\//) })
      }
      const streamed = yield* client.stream("GET", "/streamed")
      expect(streamed.httpVersion).toBe("HTTP/2")
      const text = yield* Stream.mkString(streamed.text)
      expect(JSON.parse(text).path).toBe("/streamed")
      const pool = yield* client.pool
      expect(pool.map(String)).toEqual([`<HTTPConnection ['${server.url}', HTTP/2, IDLE, Request Count: 5]>`])
    }))
})
