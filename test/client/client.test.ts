/**
 * The Client service itself, against loopback servers: construction and lifetimes (make, layer, accessors, pool),
 * how a request is built from client and request options (base URL, params, headers, defaults), buildRequest and
 * send, and the errors a bad URL or an unreachable host give.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope, Stream } from "effect"
import { Client, HttpError, Transport } from "httpfx"
import { readFileSync } from "node:fs"
import type * as http from "node:http"
import * as zlib from "node:zlib"
import { StreamBodyResponse } from "../../src/internal/message/response.js"
import { eventually, httpServer } from "../utils/servers.js"

// ---- helpers -------------------------------------------------------------------------------------------------------

interface Echo {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly rawHeaders: ReadonlyArray<string>
  readonly body: string
}

/** Answers every request with what the server saw, as JSON. */
const echoServer = () =>
  httpServer((req, res) => {
    const parts: Array<Buffer> = []
    req.on("data", (part: Buffer) => parts.push(part))
    req.on("end", () => {
      res.setHeader("Content-Type", "application/json")
      res.end(JSON.stringify({
        method: req.method,
        url: req.url,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(parts).toString("utf8")
      }))
    })
  })

const echoOf = (response: { readonly json: Effect.Effect<unknown, HttpError.DecodingError> }) =>
  Effect.map(response.json, (json) => json as Echo)

/** How often a header name appears among the raw header lines the server received. */
const countHeader = (echo: Echo, name: string) =>
  echo.rawHeaders.filter((value, i) => i % 2 === 0 && value.toLowerCase() === name).length

/** A transport answering 200 "ok" in memory. */
const okTransport = Transport.make((request) =>
  Effect.succeed(
    new StreamBodyResponse(
      { status: 200, reasonPhrase: "OK", httpVersion: "HTTP/1.1", flatHeaders: [], url: request.url, request },
      Stream.make(new TextEncoder().encode("ok")),
      Effect.void,
      performance.now()
    )
  )
)

/** A port nothing listens on: a server's, after it closed. */
const closedPort = Effect.scoped(Effect.map(httpServer((_req, res) => res.end()), (server) => server.port))

// ---- construction --------------------------------------------------------------------------------------------------

describe("Client construction", () => {
  it.scopedLive("make is scoped: closing its scope closes the pool's sockets", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("hi"))
      const scope = yield* Scope.make()
      const client = yield* Scope.extend(Client.make(), scope)
      const response = yield* client.get(`${server.url}/`)
      expect(response.text).toBe("hi")
      // The connection is kept alive after the request...
      expect(server.openSockets()).toBe(1)
      expect((yield* client.pool).map((c) => c.state)).toEqual(["IDLE"])
      // ...until the client's scope closes.
      yield* Scope.close(scope, Exit.void)
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket closed")
    }))

  it.scopedLive("layer provides the Client tag, and the module accessors use it", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const program = Effect.gen(function*() {
        const client = yield* Client.Client
        expect(Client.isClient(client)).toBe(true)
        const got = yield* echoOf(yield* Client.get(`${server.url}/get`))
        const posted = yield* echoOf(yield* Client.post(`${server.url}/post`, { content: "body" }))
        const requested = yield* echoOf(yield* Client.request("PUT", `${server.url}/put`, { content: "x" }))
        const streamed = yield* Effect.scoped(
          Effect.flatMap(Client.stream("GET", `${server.url}/stream`), (response) => response.read)
        )
        return { got, posted, requested, streamed: (yield* echoOf(streamed)) }
      })
      const { got, posted, requested, streamed } = yield* Effect.provide(program, Client.layer())
      expect([got.method, got.url]).toEqual(["GET", "/get"])
      expect([posted.method, posted.url, posted.body]).toEqual(["POST", "/post", "body"])
      expect([requested.method, requested.url, requested.body]).toEqual(["PUT", "/put", "x"])
      expect([streamed.method, streamed.url]).toEqual(["GET", "/stream"])
      // The layer's pool closed with the layer.
      yield* eventually(() => server.openSockets() === 0, 2_000, "the layer's sockets to close")
    }))

  it.scopedLive("every method helper sends its method", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const client = yield* Client.make()
      const url = `${server.url}/m`
      const methods = [
        yield* client.get(url),
        yield* client.options(url),
        yield* client.delete(url),
        yield* client.post(url),
        yield* client.put(url),
        yield* client.patch(url)
      ]
      const seen = yield* Effect.forEach(methods, (response) => Effect.map(echoOf(response), (echo) => echo.method))
      expect(seen).toEqual(["GET", "OPTIONS", "DELETE", "POST", "PUT", "PATCH"])
      const head = yield* client.head(url)
      expect(head.status).toBe(200)
      expect(head.content.length).toBe(0)
      expect(head.request.method).toBe("HEAD")
    }))

  it.scopedLive("pool lists the default transport's connections", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("x"))
      const client = yield* Client.make()
      expect(yield* client.pool).toEqual([])
      yield* client.get(`${server.url}/`)
      const connections = yield* client.pool
      expect(connections.length).toBe(1)
      expect(connections[0]!.origin).toBe(`http://127.0.0.1:${server.port}`)
      expect(connections[0]!.state).toBe("IDLE")
      expect(connections[0]!.requestCount).toBe(1)
    }))

  it.effect("pool is empty for a custom transport", () =>
    Effect.gen(function*() {
      const client = yield* Client.make({ transport: okTransport })
      const response = yield* client.get("http://example.test/")
      expect(response.text).toBe("ok")
      expect(yield* client.pool).toEqual([])
    }).pipe(Effect.scoped))
})

// ---- building requests ---------------------------------------------------------------------------------------------

describe("Client merging: base URL", () => {
  const build = (baseUrl: string, url: string) =>
    Effect.map(Client.make({ baseUrl, transport: okTransport }), (client) => client.buildRequest("GET", url).url).pipe(
      Effect.scoped
    )

  it.effect("a path is appended to the base path (httpx's rule), with or without a leading slash", () =>
    Effect.gen(function*() {
      expect(yield* build("http://h/api", "/get")).toBe("http://h/api/get")
      expect(yield* build("http://h/api", "get")).toBe("http://h/api/get")
      expect(yield* build("http://h/api/", "/get")).toBe("http://h/api/get")
      expect(yield* build("http://h", "/get")).toBe("http://h/get")
      expect(yield* build("http://h/api", "/get?x=1")).toBe("http://h/api/get?x=1")
    }))

  it.effect("an absolute URL overrides the base", () =>
    Effect.gen(function*() {
      expect(yield* build("http://h/api", "http://other/x")).toBe("http://other/x")
      expect(yield* build("http://h/api", "https://h/y")).toBe("https://h/y")
    }))

  it.scopedLive("the server sees the merged path, dot segments resolved", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const client = yield* Client.make({ baseUrl: `${server.url}/api` })
      expect((yield* echoOf(yield* client.get("/get"))).url).toBe("/api/get")
      expect((yield* echoOf(yield* client.get("get"))).url).toBe("/api/get")
      expect((yield* echoOf(yield* client.get("./x"))).url).toBe("/api/x")
      expect((yield* echoOf(yield* client.get(`${server.url}/elsewhere`))).url).toBe("/elsewhere")
    }))
})

describe("Client merging: params", () => {
  it.scopedLive("a record: numbers stringified, arrays as repeated keys, appended to an existing query", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const client = yield* Client.make()
      const params = { a: 1, b: ["x", "y"], c: "s p" }
      const echo = yield* echoOf(yield* client.get(`${server.url}/p?q=0`, { params }))
      expect(echo.url).toBe("/p?q=0&a=1&b=x&b=y&c=s+p")
    }))

  it.scopedLive("a list of pairs keeps order and repeats", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const client = yield* Client.make()
      const echo = yield* echoOf(yield* client.get(`${server.url}/p`, { params: [["z", "1"], ["a", 2], ["z", "3"]] }))
      expect(echo.url).toBe("/p?z=1&a=2&z=3")
    }))

  it.scopedLive("request params replace client params of the same name and add the rest", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const client = yield* Client.make({ params: { keep: "k", same: ["c1", "c2"] } })
      const plain = yield* echoOf(yield* client.get(`${server.url}/p`))
      expect(plain.url).toBe("/p?keep=k&same=c1&same=c2")
      const merged = yield* echoOf(yield* client.get(`${server.url}/p`, { params: { same: "r", extra: 1 } }))
      expect(merged.url).toBe("/p?keep=k&same=r&extra=1")
    }))
})

describe("Client merging: headers", () => {
  const expectedEncodings = ["gzip", "deflate", "br", ...((zlib as any).zstdDecompressSync ? ["zstd"] : [])]
  const packageVersion = (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    version: string
  }).version

  it.scopedLive("defaults: User-Agent httpfx/<package version>, Accept */*, Accept-Encoding what Node decodes", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const client = yield* Client.make()
      const echo = yield* echoOf(yield* client.get(`${server.url}/h`))
      expect(echo.headers["user-agent"]).toBe(`httpfx/${packageVersion}`)
      expect(echo.headers["accept"]).toBe("*/*")
      expect(echo.headers["accept-encoding"]).toBe(expectedEncodings.join(", "))
    }))

  it.scopedLive("request headers replace client headers of the same name (any case) and add the rest", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const client = yield* Client.make({ headers: { "X-A": "client-a", "X-B": "client-b", "User-Agent": "mine/1" } })
      const plain = yield* echoOf(yield* client.get(`${server.url}/h`))
      expect(plain.headers["x-a"]).toBe("client-a")
      expect(plain.headers["user-agent"]).toBe("mine/1")
      const echo = yield* echoOf(yield* client.get(`${server.url}/h`, { headers: { "x-a": "request-a", "X-C": "c" } }))
      expect(echo.headers["x-a"]).toBe("request-a")
      expect(countHeader(echo, "x-a")).toBe(1)
      expect(echo.headers["x-b"]).toBe("client-b")
      expect(echo.headers["x-c"]).toBe("c")
      expect(countHeader(echo, "user-agent")).toBe(1)
      expect(echo.headers["accept"]).toBe("*/*")
    }))
})

describe("Client buildRequest and send", () => {
  it.scopedLive("buildRequest returns the merged request; send executes it, buffered or streaming", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const client = yield* Client.make({
        baseUrl: `${server.url}/api`,
        headers: { "X-Client": "1" },
        params: { a: 1 }
      })
      const request = client.buildRequest("post", "/items", {
        params: { b: 2 },
        headers: { "X-Req": "2" },
        json: { n: 1 }
      })
      expect(request.method).toBe("POST")
      expect(request.url).toBe(`${server.url}/api/items?a=1&b=2`)
      expect(request.headers["x-client"]).toBe("1")
      expect(request.headers["x-req"]).toBe("2")
      expect(request.headers["content-type"]).toBe("application/json")
      expect(request.body._tag).toBe("Bytes")

      const buffered = yield* client.send(request)
      const echo = yield* echoOf(buffered)
      expect([echo.method, echo.url, echo.body]).toEqual(["POST", "/api/items?a=1&b=2", "{\"n\":1}"])
      expect(buffered.request.url).toBe(request.url)

      // The same request again, streaming: a request is a value and can be sent twice.
      const streamed = yield* Effect.scoped(
        Effect.gen(function*() {
          const response = yield* client.send(request, { stream: true })
          expect(response.status).toBe(200)
          return yield* response.read
        })
      )
      expect(yield* echoOf(streamed)).toEqual(echo)
    }))

  it.effect("buildRequest does not send", () =>
    Effect.gen(function*() {
      let sent = 0
      const client = yield* Client.make({
        transport: Transport.make((request) => {
          sent++
          return okTransport.handle(request)
        })
      })
      const request = client.buildRequest("GET", "http://example.test/")
      expect(sent).toBe(0)
      yield* client.send(request)
      expect(sent).toBe(1)
    }).pipe(Effect.scoped))
})

// ---- errors --------------------------------------------------------------------------------------------------------

describe("Client errors", () => {
  it.scopedLive("a URL that does not parse fails with InvalidUrl", () =>
    Effect.gen(function*() {
      const client = yield* Client.make()
      const error = yield* Effect.flip(client.get("not a url"))
      expect(error._tag).toBe("InvalidUrl")
      const noHost = yield* Effect.flip(client.get("http://"))
      expect(noHost._tag).toBe("InvalidUrl")
      expect(noHost.request?.url).toBe("http://")
    }))

  it.scopedLive("an ftp:// URL fails with UnsupportedProtocol", () =>
    Effect.gen(function*() {
      const client = yield* Client.make()
      const error = yield* Effect.flip(client.get("ftp://127.0.0.1/file"))
      expect(error._tag).toBe("UnsupportedProtocol")
      expect(error.message).toContain("ftp")
    }))

  it.scopedLive("a refused connection fails with ConnectError naming the URL, catchable by tag", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const client = yield* Client.make()
      const url = `http://127.0.0.1:${port}/nothing`
      const error = yield* Effect.flip(client.get(url))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toContain(`127.0.0.1:${port}`)
      expect(error.request?.url).toBe(url)
      expect(HttpError.isTransportError(error)).toBe(true)
      const caught = yield* client.get(url).pipe(
        Effect.as("connected"),
        Effect.catchTag("ConnectError", () => Effect.succeed("caught"))
      )
      expect(caught).toBe("caught")
    }))
})
