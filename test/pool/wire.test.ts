/**
 * The pool on the wire, against real loopback peers: well-formed exchanges with a Node `http` server, requests that
 * must be refused before a byte is sent, and hostile or broken responses that must fail cleanly without leaking a
 * socket or poisoning the pool.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type { Scope } from "effect"
import { Pool } from "httpfx"
import type { HttpError } from "httpfx"
import type * as http from "node:http"
import type * as net from "node:net"
import { eventually, httpServer, rawServer, scriptedServer } from "../utils/servers.js"
import type { TestServer } from "../utils/servers.js"

// ---- process safety: a broken peer must never surface outside the Effect that asked ------------------------------

let unhandledRejections = 0
let uncaughtExceptions = 0
const onUnhandledRejection = () => {
  unhandledRejections++
}
const onUncaughtException = () => {
  uncaughtExceptions++
}

beforeAll(() => {
  process.on("unhandledRejection", onUnhandledRejection)
  process.on("uncaughtException", onUncaughtException)
})

afterAll(() => {
  process.off("unhandledRejection", onUnhandledRejection)
  process.off("uncaughtException", onUncaughtException)
})

// ---- helpers -------------------------------------------------------------------------------------------------------

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Reads the whole request body, then answers with what the server saw, as JSON. */
const echoServer = () =>
  httpServer((req, res) => {
    const parts: Array<Buffer> = []
    req.on("data", (part: Buffer) => parts.push(part))
    req.on("end", () => {
      const body = Buffer.concat(parts)
      res.setHeader("Content-Type", "application/json")
      res.end(JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: body.toString("base64")
      }))
    })
  })

interface Echo {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly rawHeaders: Array<string>
  readonly body: string
}

const echoOf = (text: string): Echo => JSON.parse(text) as Echo

/** A raw server that records every byte it receives: proof that an invalid request sent nothing. */
const recordingServer = () =>
  Effect.gen(function*() {
    let received = 0
    const server = yield* rawServer((socket) => {
      socket.on("data", (data: Buffer) => {
        received += data.length
      })
    })
    return { server, received: () => received }
  })

/** A raw server that answers the first request head on each connection with `head`, then does `after`. */
const answerOnce = (response: string, after: (socket: net.Socket) => void) =>
  rawServer((socket) => {
    let buffered = ""
    let answered = false
    socket.on("data", (data: Buffer) => {
      buffered += data.toString("latin1")
      if (answered || buffered.indexOf("\r\n\r\n") < 0) return
      answered = true
      socket.write(response, "latin1", () => after(socket))
    })
  })

/** Let in-flight bytes and socket events land before checking that nothing happened. */
const settle = Effect.sleep("50 millis")

/**
 * After a failed exchange: nothing of it is left in the pool, the peer sees its socket closed, and the same pool
 * still serves a good request.
 */
const expectRecovered = (pool: Pool.Pool, hostile: TestServer) =>
  Effect.gen(function*() {
    const busy = (yield* pool.connections).filter((c) => c.state === "ACTIVE" || c.state === "CONNECTING")
    expect(busy.map(String)).toEqual([])
    yield* eventually(() => hostile.openSockets() === 0, 2_000, "the peer to see its socket closed")
    const good = yield* httpServer((_req, res) => res.end("fine"))
    const response = yield* pool.request("GET", `${good.url}/after`)
    expect(response.status).toBe(200)
    expect(response.text).toBe("fine")
  })

// A bounded default, so that a response the pool fails to reject shows up as a wrong tag rather than a hung test.
const hostilePool = () => Pool.make({ timeout: 2_000 })

// ---- well-formed exchanges -----------------------------------------------------------------------------------------

describe("Pool on the wire: well-formed responses", () => {
  it.scopedLive("reads a body framed by Content-Length", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => {
        res.setHeader("Content-Length", "5")
        res.end("hello")
      })
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/length`)
      expect(response.status).toBe(200)
      expect(response.reasonPhrase).toBe("OK")
      expect(response.headers["content-length"]).toBe("5")
      expect(response.text).toBe("hello")
    }))

  it.scopedLive("reads a chunked body written in several pieces", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => {
        res.write("one,")
        // a pause so the pieces travel as separate chunks rather than one coalesced write
        setTimeout(() => {
          res.write("two,")
          setTimeout(() => res.end("three"), 5)
        }, 5)
      })
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/chunked`)
      expect(response.headers["transfer-encoding"]).toBe("chunked")
      expect(response.text).toBe("one,two,three")
    }))

  it.scopedLive("reads no body for HEAD despite Content-Length, and reuses the connection", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        res.setHeader("Content-Length", "100")
        res.end(req.method === "HEAD" ? undefined : "x".repeat(100))
      })
      const pool = yield* Pool.make()
      const head = yield* pool.request("HEAD", `${server.url}/head`)
      expect(head.status).toBe(200)
      expect(head.headers["content-length"]).toBe("100")
      expect(head.content.length).toBe(0)
      const get = yield* pool.request("GET", `${server.url}/head`)
      expect(get.content.length).toBe(100)
      expect(server.acceptedSockets()).toBe(1)
    }))

  it.scopedLive("reads no body for 204 and reuses the connection", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        if (req.url === "/empty") {
          res.writeHead(204)
          res.end()
        } else {
          res.end("after")
        }
      })
      const pool = yield* Pool.make()
      const empty = yield* pool.request("GET", `${server.url}/empty`)
      expect(empty.status).toBe(204)
      expect(empty.content.length).toBe(0)
      const next = yield* pool.request("GET", `${server.url}/next`)
      expect(next.text).toBe("after")
      expect(server.acceptedSockets()).toBe(1)
    }))

  it.scopedLive("reads no body for 304 even with a Content-Length, and reuses the connection", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        if (req.url === "/cached") {
          // RFC 9110 §8.6: on a 304 Content-Length describes the representation, not this message
          res.writeHead(304, { "Content-Length": "10", ETag: "\"v1\"" })
          res.end()
        } else {
          res.end("after")
        }
      })
      const pool = yield* Pool.make()
      const cached = yield* pool.request("GET", `${server.url}/cached`)
      expect(cached.status).toBe(304)
      expect(cached.headers["etag"]).toBe("\"v1\"")
      expect(cached.content.length).toBe(0)
      const next = yield* pool.request("GET", `${server.url}/next`)
      expect(next.text).toBe("after")
      expect(server.acceptedSockets()).toBe(1)
    }))

  it.scopedLive("skips a 100 Continue interim response", () =>
    Effect.gen(function*() {
      const server = yield* scriptedServer(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
      )
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/continue`)
      expect(response.status).toBe(200)
      expect(response.text).toBe("ok")
    }))

  it.scopedLive("skips a 103 Early Hints interim response and keeps its fields out of the final head", () =>
    Effect.gen(function*() {
      const server = yield* scriptedServer(
        "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
      )
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/hints`)
      expect(response.status).toBe(200)
      expect(response.text).toBe("ok")
      expect(response.headers["link"]).toBeUndefined()
      expect(response.rawHeaders).toEqual([["Content-Length", "2"]])
    }))

  it.scopedLive("skips interim responses sent by a Node server (writeContinue, writeEarlyHints)", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => {
        res.writeContinue()
        res.writeEarlyHints({ link: "</style.css>; rel=preload; as=style" })
        res.end("final")
      })
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/interim`)
      expect(response.status).toBe(200)
      expect(response.text).toBe("final")
    }))

  it.scopedLive("closes the connection after an HTTP/1.0 response without keep-alive", () =>
    Effect.gen(function*() {
      // The server leaves its socket open: closing it is the client's job.
      const server = yield* scriptedServer("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
      const pool = yield* Pool.make()
      const first = yield* pool.request("GET", `${server.url}/one`)
      expect(first.httpVersion).toBe("HTTP/1.0")
      expect(first.text).toBe("ok")
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the HTTP/1.0 socket closed")
      const second = yield* pool.request("GET", `${server.url}/two`)
      expect(second.text).toBe("ok")
      expect(server.acceptedSockets()).toBe(2)
    }))

  it.scopedLive("closes the connection after a response with Connection: close", () =>
    Effect.gen(function*() {
      const server = yield* scriptedServer("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
      const pool = yield* Pool.make()
      const first = yield* pool.request("GET", `${server.url}/one`)
      expect(first.text).toBe("ok")
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket closed")
      const second = yield* pool.request("GET", `${server.url}/two`)
      expect(second.text).toBe("ok")
      expect(server.acceptedSockets()).toBe(2)
    }))

  it.scopedLive("reads a close-delimited body to the end of the stream", () =>
    Effect.gen(function*() {
      const body = "0123456789".repeat(20_000)
      const server = yield* answerOnce("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body, (socket) => {
        socket.end()
      })
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/until-close`)
      expect(response.text.length).toBe(body.length)
      expect(response.text).toBe(body)
      // Such a connection can never be reused: its end is its framing.
      const connections = yield* pool.connections
      expect(connections.filter((c) => c.state !== "CLOSED").map(String)).toEqual([])
    }))

  it.scopedLive("reads a chunked body with trailers and reuses the connection", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => {
        res.setHeader("Trailer", "X-Checksum")
        res.write("with ")
        res.addTrailers({ "X-Checksum": "abc123" })
        res.end("trailers")
      })
      const pool = yield* Pool.make()
      const first = yield* pool.request("GET", `${server.url}/trailers`)
      expect(first.text).toBe("with trailers")
      const second = yield* pool.request("GET", `${server.url}/trailers`)
      expect(second.text).toBe("with trailers")
      expect(server.acceptedSockets()).toBe(1)
    }))

  it.scopedLive("sends Uint8Array content with Content-Length and the exact bytes", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const pool = yield* Pool.make()
      const content = new Uint8Array(256).map((_, i) => i)
      const response = yield* pool.request("POST", `${server.url}/upload`, { content })
      const echo = echoOf(response.text)
      expect(echo.method).toBe("POST")
      expect(echo.headers["content-length"]).toBe("256")
      expect(echo.headers["transfer-encoding"]).toBeUndefined()
      expect(Buffer.from(echo.body, "base64")).toEqual(Buffer.from(content))
    }))

  it.scopedLive("sends string content as UTF-8 with its byte length as Content-Length", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const pool = yield* Pool.make()
      const content = "héllo ✓ wörld"
      const response = yield* pool.request("POST", `${server.url}/upload`, { content })
      const echo = echoOf(response.text)
      expect(echo.headers["content-length"]).toBe(String(Buffer.byteLength(content, "utf8")))
      expect(Buffer.from(echo.body, "base64").toString("utf8")).toBe(content)
    }))

  it.scopedLive("sends Stream content chunked", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const pool = yield* Pool.make()
      const content = Stream.make(bytes("first "), bytes("second "), bytes("third"))
      const response = yield* pool.request("POST", `${server.url}/stream`, { content })
      const echo = echoOf(response.text)
      expect(echo.headers["transfer-encoding"]).toBe("chunked")
      expect(echo.headers["content-length"]).toBeUndefined()
      expect(Buffer.from(echo.body, "base64").toString("utf8")).toBe("first second third")
    }))

  it.scopedLive("sends exactly one Host header, with the port", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/host`)
      const echo = echoOf(response.text)
      expect(echo.headers.host).toBe(`127.0.0.1:${server.port}`)
      const hostLines = echo.rawHeaders.filter((_, i) => i % 2 === 0 && echo.rawHeaders[i]!.toLowerCase() === "host")
      expect(hostLines.length).toBe(1)
    }))

  it.scopedLive("joins repeated response fields with \", \" in headers and keeps them apart in rawHeaders", () =>
    Effect.gen(function*() {
      const server = yield* scriptedServer(
        "HTTP/1.1 200 OK\r\nX-Multi: a\r\nContent-Length: 0\r\nx-multi: b\r\nX-Multi: c\r\n\r\n"
      )
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/multi`)
      expect(response.headers["x-multi"]).toBe("a, b, c")
      expect(response.rawHeaders).toEqual([
        ["X-Multi", "a"],
        ["Content-Length", "0"],
        ["x-multi", "b"],
        ["X-Multi", "c"]
      ])
    }))

  it.scopedLive("reports HTTP/1.1 as the version of an HTTP/1.1 response", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("ok"))
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/version`)
      expect(response.httpVersion).toBe("HTTP/1.1")
    }))

  it.scopedLive("reports HTTP/1.0 as the version of an HTTP/1.0 response", () =>
    Effect.gen(function*() {
      const server = yield* scriptedServer("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/version`)
      expect(response.httpVersion).toBe("HTTP/1.0")
    }))

  it.scopedLive("gives the response its URL and the request's method and URL", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const pool = yield* Pool.make()
      const url = `${server.url}/path/to?q=1&r=two`
      const response = yield* pool.request("DELETE", url)
      expect(response.url).toBe(url)
      expect(response.request.method).toBe("DELETE")
      expect(response.request.url).toBe(url)
      const echo = echoOf(response.text)
      expect(echo.method).toBe("DELETE")
      expect(echo.url).toBe("/path/to?q=1&r=two")
    }))
})

// ---- invalid requests: refused before a connection is opened ------------------------------------------------------

describe("Pool on the wire: invalid requests send nothing", () => {
  const refused = (
    name: string,
    tag: "LocalProtocolError" | "UnsupportedProtocol" | "InvalidUrl",
    run: (pool: Pool.Pool, base: string) => Effect.Effect<unknown, HttpError.HttpError>
  ) =>
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        const { received, server } = yield* recordingServer()
        const pool = yield* Pool.make()
        const error = yield* Effect.flip(run(pool, server.url))
        expect(error._tag).toBe(tag)
        yield* settle
        expect(server.acceptedSockets()).toBe(0)
        expect(received()).toBe(0)
        expect(yield* pool.connections).toEqual([])
      }))

  refused("refuses CR LF in a header value", "LocalProtocolError", (pool, base) =>
    pool.request("GET", `${base}/a`, { headers: { "X-Test": "a\r\nX-Injected: 1" } }))

  refused("refuses a bare LF in a header value", "LocalProtocolError", (pool, base) =>
    pool.request("GET", `${base}/a`, { headers: { "X-Test": "a\nX-Injected: 1" } }))

  refused("refuses LF in a header name", "LocalProtocolError", (pool, base) =>
    pool.request("GET", `${base}/a`, { headers: { "X-\nTest": "v" } }))

  refused("refuses NUL in a header value", "LocalProtocolError", (pool, base) =>
    pool.request("GET", `${base}/a`, { headers: { "X-Test": "a\0b" } }))

  refused("refuses a space in a header name", "LocalProtocolError", (pool, base) =>
    pool.request("GET", `${base}/a`, { headers: { "X Test": "v" } }))

  refused("refuses an invalid header given as pairs", "LocalProtocolError", (pool, base) =>
    pool.request("GET", `${base}/a`, { headers: [["X-Ok", "v"], ["X-Bad", "v\r\n"]] }))

  refused("refuses a method with a space (\"GE T\")", "LocalProtocolError", (pool, base) =>
    pool.request("GE T", `${base}/a`))

  refused("refuses a method with CR LF (\"GET\\r\\n\")", "LocalProtocolError", (pool, base) =>
    pool.request("GET\r\n", `${base}/a`))

  refused("refuses CR LF in the URL target", "LocalProtocolError", (pool, base) =>
    pool.request("GET", `${base}/a\r\nX: y`))

  refused("refuses a non-http scheme with UnsupportedProtocol", "UnsupportedProtocol", (pool, base) =>
    pool.request("GET", base.replace("http://", "ftp://") + "/a"))

  refused("refuses \"not a url\" with InvalidUrl", "InvalidUrl", (pool) => pool.request("GET", "not a url"))

  refused("refuses \"http://\" with InvalidUrl", "InvalidUrl", (pool) => pool.request("GET", "http://"))

  it.scopedLive("names the request in a LocalProtocolError", () =>
    Effect.gen(function*() {
      const { server } = yield* recordingServer()
      const pool = yield* Pool.make()
      const url = `${server.url}/named`
      const error = yield* Effect.flip(pool.request("GET", url, { headers: { "X-Test": "a\r\nb" } }))
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain(url)
      expect(error.request).toEqual({ method: "GET", url })
    }))
})

// ---- hostile and broken peers ---------------------------------------------------------------------------------------

describe("Pool on the wire: malformed responses", () => {
  const rejects = (
    name: string,
    makeServer: () => Effect.Effect<TestServer, never, Scope.Scope>,
    tags: ReadonlyArray<string>,
    extra?: (message: string) => void
  ) =>
    it.scopedLive(name, () =>
      Effect.gen(function*() {
        const server = yield* makeServer()
        const pool = yield* hostilePool()
        const url = `${server.url}/hostile`
        const error = yield* Effect.flip(pool.request("GET", url))
        expect(tags).toContain(error._tag)
        expect(error.message).toContain(url)
        extra?.(error.message)
        yield* expectRecovered(pool, server)
      }))

  const protocolError = (name: string, response: string, extra?: (message: string) => void) =>
    rejects(name, () => scriptedServer(response), ["RemoteProtocolError"], extra)

  protocolError("rejects a garbage status line", "garbage\r\n\r\n")

  protocolError("rejects an HTTP/2.0 status line", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")

  protocolError(
    "rejects conflicting Content-Length fields",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
  )

  protocolError(
    "rejects a repeated identical Content-Length",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
  )

  protocolError(
    "rejects Transfer-Encoding together with Content-Length",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
  )

  protocolError(
    "rejects an invalid chunk size",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
  )

  protocolError(
    "rejects chunk data not followed by CRLF",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n"
  )

  protocolError(
    "rejects whitespace between a field name and its colon",
    "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello"
  )

  protocolError(
    "rejects obsolete line folding",
    "HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\nContent-Length: 0\r\n\r\n"
  )

  protocolError(
    "rejects a response head larger than 64 KiB, naming the limit and the option that raises it",
    "HTTP/1.1 200 OK\r\n" + Array.from({ length: 1200 }, (_, i) => `X-Pad-${i}: ${"p".repeat(60)}\r\n`).join("") +
      "Content-Length: 0\r\n\r\n",
    (message) => expect(message).toContain("larger than 65536 bytes; raise limits.maxHeadSize")
  )

  protocolError(
    "rejects an unexpected 101 Switching Protocols",
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
  )

  rejects(
    "fails a Content-Length body cut short by the server",
    () => answerOnce("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", (socket) => socket.end()),
    ["RemoteProtocolError", "ReadError"]
  )

  rejects(
    "fails a chunked body cut short by the server",
    () => answerOnce("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", (socket) => socket.end()),
    ["RemoteProtocolError", "ReadError"]
  )

  rejects(
    "fails when the server closes without sending a response",
    () => answerOnce("", (socket) => socket.end()),
    ["RemoteProtocolError"],
    (message) => expect(message).toMatch(/without sending a response/)
  )

  rejects(
    "fails when the server resets the connection mid-body",
    () =>
      answerOnce("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789", (socket) => {
        // a moment for the partial body to reach the client before the RST
        setTimeout(() => socket.resetAndDestroy(), 20)
      }),
    ["ReadError", "RemoteProtocolError"]
  )

  it.scopedLive("fails with ReadTimeout when the server never answers", () =>
    Effect.gen(function*() {
      // reads and discards (a socket nobody reads never sees the peer's FIN), but never answers
      const server = yield* rawServer((socket) => socket.resume())
      const pool = yield* hostilePool()
      const url = `${server.url}/silent`
      const error = yield* Effect.flip(pool.request("GET", url, { timeout: { read: 200 } }))
      expect(error._tag).toBe("ReadTimeout")
      expect(error.message).toContain(url)
      yield* expectRecovered(pool, server)
    }))

  it.scopedLive("does not reuse a connection that sent bytes beyond the response", () =>
    Effect.gen(function*() {
      // Two responses for one request: the second would be taken as the answer to the next request.
      const server = yield* scriptedServer(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"
      )
      const pool = yield* hostilePool()
      const first = yield* pool.request("GET", `${server.url}/one`)
      expect(first.text).toBe("ok")
      const second = yield* pool.request("GET", `${server.url}/two`)
      expect(second.text).toBe("ok")
      expect(server.acceptedSockets()).toBe(2)
    }))

  it.scopedLive("drops an idle connection that receives unsolicited bytes", () =>
    Effect.gen(function*() {
      const server = yield* scriptedServer((index, socket) => {
        if (index === 0) {
          setTimeout(() => {
            if (!socket.destroyed) socket.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale")
          }, 30)
        }
        return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
      })
      const pool = yield* hostilePool()
      const first = yield* pool.request("GET", `${server.url}/one`)
      expect(first.text).toBe("ok")
      yield* eventually(() => server.openSockets() === 0, 2_000, "the idle connection to be dropped")
      expect((yield* pool.connections).filter((c) => c.state !== "CLOSED").map(String)).toEqual([])
      const second = yield* pool.request("GET", `${server.url}/two`)
      expect(second.text).toBe("ok")
      expect(server.acceptedSockets()).toBe(2)
    }))
})

// ---- last: the whole file ran without leaking a failure to the process ---------------------------------------------

describe("Pool on the wire: process safety", () => {
  it.scopedLive("raised no unhandled rejection and no uncaught exception", () =>
    Effect.gen(function*() {
      // late socket events (errors after a close) arrive asynchronously
      yield* Effect.sleep("100 millis")
      expect(unhandledRejections).toBe(0)
      expect(uncaughtExceptions).toBe(0)
    }))
})
