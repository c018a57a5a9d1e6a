/**
 * Responses as the client returns them, from loopback servers: text and charsets, json, status predicates,
 * raiseForStatus, elapsed, url/request/history after redirects, content decoding (buffered and streamed), and the
 * lifetime of a streaming response's connection.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Exit, Scope, Stream } from "effect"
import { Client } from "httpfx"
import type { Response } from "httpfx"
import type * as http from "node:http"
import * as zlib from "node:zlib"
import { eventually, httpServer } from "../utils/servers.js"

// ---- helpers -------------------------------------------------------------------------------------------------------

/** A server whose handler is chosen by path. */
const routes = (table: Record<string, http.RequestListener>) =>
  httpServer((req, res) => {
    const path = new URL(req.url!, "http://x").pathname
    const handler = table[path]
    if (handler === undefined) {
      res.statusCode = 404
      res.end(`no route ${path}`)
    } else {
      handler(req, res)
    }
  })

const payload = "The quick brown fox jumps over the lazy dog. ".repeat(200)

const encoders: Record<string, (b: Buffer) => Buffer> = {
  gzip: (b) => zlib.gzipSync(b),
  deflate: (b) => zlib.deflateSync(b),
  br: (b) => zlib.brotliCompressSync(b)
}

/** Sends `payload` encoded with the coding named by the path, in several writes so a streamed decoder sees pieces. */
const encodedServer = () =>
  httpServer((req, res) => {
    const coding = new URL(req.url!, "http://x").pathname.slice(1)
    const body = encoders[coding]!(Buffer.from(payload))
    res.setHeader("Content-Encoding", coding)
    res.setHeader("Content-Type", "text/plain")
    const third = Math.ceil(body.length / 3)
    res.write(body.subarray(0, third))
    res.write(body.subarray(third, 2 * third))
    res.end(body.subarray(2 * third))
  })

// ---- tests ---------------------------------------------------------------------------------------------------------

describe("Client responses: bodies", () => {
  it.scopedLive("text decodes per the charset of Content-Type, utf-8 by default, bad bytes as U+FFFD", () =>
    Effect.gen(function*() {
      const server = yield* routes({
        "/latin1": (_req, res) => {
          res.setHeader("Content-Type", "text/plain; charset=ISO-8859-1")
          res.end(Buffer.from([0x63, 0x61, 0x66, 0xe9]))
        },
        "/utf8": (_req, res) => res.end(Buffer.from("café ✓", "utf8")),
        "/bad": (_req, res) => res.end(Buffer.from([0x61, 0xff, 0x62]))
      })
      const client = yield* Client.make()
      expect((yield* client.get(`${server.url}/latin1`)).text).toBe("café")
      expect((yield* client.get(`${server.url}/utf8`)).text).toBe("café ✓")
      expect((yield* client.get(`${server.url}/bad`)).text).toBe("a\uFFFDb")
    }))

  it.scopedLive("json parses the body; a body that is not JSON fails with DecodingError", () =>
    Effect.gen(function*() {
      const server = yield* routes({
        "/good": (_req, res) => res.end(JSON.stringify({ ok: [1, 2] })),
        "/bad": (_req, res) => res.end("<html>not json</html>")
      })
      const client = yield* Client.make()
      expect(yield* (yield* client.get(`${server.url}/good`)).json).toEqual({ ok: [1, 2] })
      const error = yield* Effect.flip((yield* client.get(`${server.url}/bad`)).json)
      expect(error._tag).toBe("DecodingError")
      expect(error.message).toContain("not valid JSON")
      expect(error.request?.url).toBe(`${server.url}/bad`)
    }))

  for (const coding of Object.keys(encoders)) {
    it.scopedLive(`${coding}: decoded by the client, buffered and streamed; raw keeps the wire bytes`, () =>
      Effect.gen(function*() {
        const server = yield* encodedServer()
        const client = yield* Client.make()
        const buffered = yield* client.get(`${server.url}/${coding}`)
        expect(buffered.headers["content-encoding"]).toBe(coding)
        expect(buffered.text).toBe(payload)
        const streamed = yield* Effect.scoped(
          Effect.flatMap(client.stream("GET", `${server.url}/${coding}`), (response) => Stream.mkString(response.text))
        )
        expect(streamed).toBe(payload)
        const raw = yield* Effect.scoped(
          Effect.flatMap(client.stream("GET", `${server.url}/${coding}`), (response) => Stream.runCollect(response.raw))
        )
        const wire = Buffer.concat(Chunk.toReadonlyArray(raw))
        expect(wire.equals(encoders[coding]!(Buffer.from(payload)))).toBe(true)
      }))
  }
})

describe("Client responses: status", () => {
  it.scopedLive("the status predicates", () =>
    Effect.gen(function*() {
      const server = httpServer((req, res) => {
        const status = Number(new URL(req.url!, "http://x").pathname.slice(1))
        if (status === 301) res.setHeader("Location", "/elsewhere")
        res.statusCode = status
        res.end()
      })
      const { url } = yield* server
      const client = yield* Client.make()
      const flags = (r: Response.Response) => [r.isSuccess, r.isRedirect, r.isClientError, r.isServerError, r.isError]
      expect(flags(yield* client.get(`${url}/204`))).toEqual([true, false, false, false, false])
      expect(flags(yield* client.get(`${url}/301`))).toEqual([false, true, false, false, false])
      // A 304 is not a redirect to follow.
      expect(flags(yield* client.get(`${url}/304`))).toEqual([false, false, false, false, false])
      expect(flags(yield* client.get(`${url}/404`))).toEqual([false, false, true, false, true])
      expect(flags(yield* client.get(`${url}/503`))).toEqual([false, false, false, true, true])
    }))

  it.scopedLive("raiseForStatus: the response on success, HttpStatusError carrying the response on 4xx/5xx", () =>
    Effect.gen(function*() {
      const server = yield* routes({
        "/ok": (_req, res) => res.end("fine"),
        "/teapot": (_req, res) => {
          res.statusCode = 418
          res.end("short and stout")
        }
      })
      const client = yield* Client.make()
      const ok = yield* client.get(`${server.url}/ok`)
      expect(yield* ok.raiseForStatus).toBe(ok)
      const error = yield* Effect.flip(Effect.flatMap(client.get(`${server.url}/teapot`), (r) => r.raiseForStatus))
      if (error._tag !== "HttpStatusError") return expect.unreachable(`expected HttpStatusError, got ${error._tag}`)
      expect(error.message).toContain("418")
      expect(error.message).toContain(`${server.url}/teapot`)
      expect(error.response.status).toBe(418)
      // The type names only status, reasonPhrase and url; at run time it is the whole buffered response.
      expect((error.response as unknown as { text: string }).text).toBe("short and stout")
      expect(error.request?.method).toBe("GET")
      // Catchable by tag.
      const caught = yield* Effect.flatMap(client.get(`${server.url}/teapot`), (r) => r.raiseForStatus).pipe(
        Effect.catchTag("HttpStatusError", (e) => Effect.succeed(e.response.status))
      )
      expect(caught).toBe(418)
    }))

  it.scopedLive("elapsed covers the time the server took", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => {
        setTimeout(() => res.end("late"), 80)
      })
      const client = yield* Client.make()
      const response = yield* client.get(`${server.url}/slow`)
      expect(Duration.toMillis(response.elapsed)).toBeGreaterThanOrEqual(50)
      expect(Duration.toMillis(response.elapsed)).toBeLessThan(10_000)
    }))
})

describe("Client responses: url, request and history after redirects", () => {
  it.scopedLive("url is the final URL, request the final hop's request, history every hop oldest first", () =>
    Effect.gen(function*() {
      const server = yield* routes({
        "/start": (_req, res) => {
          res.writeHead(302, { Location: "/middle?x=1" })
          res.end("to middle")
        },
        "/middle": (_req, res) => {
          res.writeHead(301, { Location: "/end" })
          res.end()
        },
        "/end": (_req, res) => res.end("arrived")
      })
      const client = yield* Client.make({ followRedirects: true })
      const response = yield* client.post(`${server.url}/start`, { content: "payload" })
      expect(response.status).toBe(200)
      expect(response.text).toBe("arrived")
      expect(response.url).toBe(`${server.url}/end`)
      expect(response.request.url).toBe(`${server.url}/end`)
      expect(response.request.method).toBe("GET")
      expect(response.history.map((r) => [r.status, r.url])).toEqual([
        [302, `${server.url}/start`],
        [301, `${server.url}/middle?x=1`]
      ])
      expect(response.history[0]!.request.method).toBe("POST")
      expect(response.history[0]!.text).toBe("to middle")
      expect(response.history[1]!.request.method).toBe("GET")

      // The same through stream.
      const streamed = yield* Effect.scoped(Effect.gen(function*() {
        const r = yield* client.stream("GET", `${server.url}/start`)
        const history = r.history.map((h) => h.status)
        return { url: r.url, request: r.request.url, history, text: (yield* r.read).text }
      }))
      expect(streamed).toEqual({
        url: `${server.url}/end`,
        request: `${server.url}/end`,
        history: [302, 301],
        text: "arrived"
      })
    }))

  it.scopedLive("without redirects, history is empty and request is the one sent", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("x"))
      const client = yield* Client.make()
      const response = yield* client.get(`${server.url}/a?b=c`, { headers: { "X-Mine": "1" } })
      expect(response.history).toEqual([])
      expect(response.url).toBe(`${server.url}/a?b=c`)
      expect(response.request.method).toBe("GET")
      expect(response.request.headers["x-mine"]).toBe("1")
    }))
})

describe("Client responses: streaming lifetimes", () => {
  // Far more than one socket read (up to 256 KiB) and the 64 KiB a streaming body queues before it pauses the
  // socket: such a body cannot have arrived whole before the caller reads it.
  const BIG = 4 * 1024 * 1024
  const bigServer = () =>
    httpServer((_req, res) => {
      res.setHeader("Content-Length", String(BIG))
      res.end(Buffer.alloc(BIG, 97))
    })

  it.scopedLive("a body read to the end returns its connection to the pool (IDLE), reused by the next request", () =>
    Effect.gen(function*() {
      const server = yield* bigServer()
      const client = yield* Client.make({ maxConnections: 1 })
      yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* client.stream("GET", `${server.url}/big`)
        expect((yield* client.pool).map((c) => c.state)).toEqual(["ACTIVE"])
        const total = yield* Stream.runFold(response.stream, 0, (n, chunk) => n + chunk.length)
        expect(total).toBe(BIG)
        // Released at the last byte, before the scope closes.
        expect((yield* client.pool).map((c) => c.state)).toEqual(["IDLE"])
      }))
      yield* client.get(`${server.url}/again`)
      expect(server.acceptedSockets()).toBe(1)
    }))

  it.scopedLive("a scope closed before the body is read closes the connection", () =>
    Effect.gen(function*() {
      const server = yield* bigServer()
      const client = yield* Client.make({ maxConnections: 1 })
      const scope = yield* Scope.make()
      const response = yield* Scope.extend(client.stream("GET", `${server.url}/big`), scope)
      expect(response.status).toBe(200)
      expect(server.openSockets()).toBe(1)
      yield* Scope.close(scope, Exit.void)
      yield* eventually(() => server.openSockets() === 0, 2_000, "the unread connection to be closed")
      expect((yield* client.pool).filter((c) => c.state !== "CLOSED")).toEqual([])
      // With one connection allowed, the pool still serves: the closed one was not pinned.
      expect((yield* client.get(`${server.url}/again`)).status).toBe(200)
    }))

  it.scopedLive("close releases early; a body consumed twice fails with StreamConsumed", () =>
    Effect.gen(function*() {
      const server = yield* bigServer()
      const client = yield* Client.make()
      yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* client.stream("GET", `${server.url}/big`)
        yield* Stream.runDrain(response.stream)
        const error = yield* Effect.flip(Stream.runDrain(response.stream))
        expect(error._tag).toBe("StreamConsumed")
      }))
      yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* client.stream("GET", `${server.url}/big`)
        yield* response.close
        yield* eventually(() => server.openSockets() <= 1, 2_000, "the closed connection to go")
      }))
    }))
})
