/**
 * Platform.layer() as a drop-in for @effect/platform-node's NodeHttpClient.layer: the same programs run once on each,
 * against one recording server, and what the server saw and what the program got must be the same.
 *
 * What is not compared, and why: the `Connection` request field (NodeHttpClient's `new http.Agent()` has keep-alive
 * off, so node:http sends `Connection: close`; httpfx keeps connections alive, HTTP/1.1's default, with no field),
 * the server's answers to that choice (`connection`, `keep-alive` response fields) and `date`. The values of
 * `traceparent` and `b3`, which platform's own HttpClient adds on both, are new ids on each run: their names and
 * places are compared. Everything else is: field names with their case, values, order, Host, and the framing each
 * chose (Content-Length or Transfer-Encoding).
 */
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiClient,
  HttpApiEndpoint,
  HttpApiError,
  HttpApiGroup,
  HttpBody,
  HttpClient,
  HttpClientRequest,
  HttpServer,
  HttpServerRequest,
  UrlParams
} from "@effect/platform"
import type { HttpClientError, HttpClientResponse } from "@effect/platform"
import { NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Either, Layer, Schema, Stream } from "effect"
import { Client, Platform, Transport } from "httpfx"
import * as http from "node:http"
import * as zlib from "node:zlib"
import type { ClientImpl } from "../../src/internal/client/client.js"
import { clientOptions } from "../../src/internal/platform/platform.js"
import { resolve } from "../../src/internal/core/timeouts.js"
import { poolOf } from "../../src/internal/transport/transport.js"
import { withEnv } from "../utils/env.js"
import { httpServer } from "../utils/servers.js"

// ---- the recording server ----------------------------------------------------------------------------------------

interface Seen {
  readonly method: string
  readonly url: string
  /** field lines as they came, name and value, in order */
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: string
}

/** Fields whose values are new on each run: compared by name and place only. */
const FRESH = new Set(["traceparent", "b3"])

const seenHeaders = (raw: ReadonlyArray<string>): Array<readonly [string, string]> => {
  const out: Array<readonly [string, string]> = []
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    if (lower === "connection") continue
    out.push([name, FRESH.has(lower) ? "<fresh>" : raw[i + 1]!])
  }
  return out
}

const gzipped = zlib.gzipSync("hello, gzip")

/** A scripted answer per path; anything else is 200 "ok". */
const respond = (req: http.IncomingMessage, res: http.ServerResponse): void => {
  const path = new URL(req.url!, "http://x").pathname
  const status = /^\/status\/(\d+)$/.exec(path)
  if (status !== null) {
    const code = Number(status[1])
    res.writeHead(code, { "content-type": "text/plain", "x-status": String(code) })
    return void res.end(code === 204 ? undefined : `status ${code}`)
  }
  switch (path) {
    case "/gzip":
      res.writeHead(200, { "content-type": "text/plain", "content-encoding": "gzip", "content-length": gzipped.length })
      return void res.end(gzipped)
    case "/slow":
      return void setTimeout(() => res.end("worth the wait"), 1_500)
    case "/chunks": {
      res.writeHead(200, { "content-type": "application/octet-stream" })
      let n = 0
      const next = () => {
        if (n === 3) return void res.end()
        res.write(`chunk ${n++};`)
        setTimeout(next, 10)
      }
      return next()
    }
    case "/reset":
      res.writeHead(200, { "content-length": "100" })
      res.write("0123456789")
      return void setTimeout(() => res.socket?.destroy(), 20)
    case "/redirect":
      res.writeHead(302, { location: "/status/200" })
      return void res.end()
    case "/fields":
      res.setHeader("set-cookie", ["a=1; Path=/", "b=2; Path=/"])
      res.setHeader("x-many", ["1", "2"])
      res.setHeader("X-Mixed-Case", "yes")
      return void res.end("fields")
    default:
      res.writeHead(200, { "content-type": "text/plain" })
      return void res.end("ok")
  }
}

const recordingServer = Effect.gen(function*() {
  const seen: Array<Seen> = []
  const server = yield* httpServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      seen.push({
        method: req.method!,
        url: req.url!,
        headers: seenHeaders(req.rawHeaders),
        body: Buffer.concat(chunks).toString("latin1")
      })
      respond(req, res)
    })
  })
  return { url: server.url, seen, clear: () => void seen.splice(0) }
})

// ---- running a program on both layers ----------------------------------------------------------------------------

/** What a program got from a response: status, fields (but the connection's own and `date`) and body bytes. */
interface Got {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

const ANSWERS_TO_CONNECTION = new Set(["connection", "keep-alive", "date"])

const got = (response: HttpClientResponse.HttpClientResponse, body: Uint8Array): Got => ({
  status: response.status,
  headers: Object.fromEntries(Object.entries(response.headers).filter(([name]) => !ANSWERS_TO_CONNECTION.has(name))),
  body: Buffer.from(body).toString("latin1")
})

/** The whole body with `arrayBuffer`. */
const buffered = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(response.arrayBuffer, (body) => got(response, new Uint8Array(body)))

/** The body read with `stream`, its chunks joined. */
const streamed = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(Stream.runCollect(response.stream), (chunks) => got(response, Buffer.concat(Chunk.toArray(chunks))))

interface Failed {
  readonly error: string
  readonly reason: string
  readonly status?: number
}

/** A platform error as a program sees it: which error, which reason, and for a ResponseError which status. */
const failed = (error: HttpClientError.HttpClientError): Failed =>
  error._tag === "ResponseError"
    ? { error: error._tag, reason: error.reason, status: error.response.status }
    : { error: error._tag, reason: error.reason }

const outcome = <A>(
  program: Effect.Effect<A, HttpClientError.HttpClientError, HttpClient.HttpClient>
): Effect.Effect<A | Failed, never, HttpClient.HttpClient> =>
  Effect.catchAll(program, (error) => Effect.succeed(failed(error)))

type Server = Effect.Effect.Success<typeof recordingServer>

interface Run<A> {
  readonly got: A
  readonly seen: ReadonlyArray<Seen>
}

/** Run `program` on NodeHttpClient.layer, then on `layer` (Platform.layer() unless given): what each saw and got. */
const sideBySide = <A, E>(
  server: Server,
  program: Effect.Effect<A, E, HttpClient.HttpClient>,
  layer: Layer.Layer<HttpClient.HttpClient, unknown> = Platform.layer()
) =>
  Effect.gen(function*() {
    const run = (client: Layer.Layer<HttpClient.HttpClient, unknown>) =>
      Effect.gen(function*() {
        server.clear()
        const result = yield* Effect.orDie(Effect.provide(program, client))
        return { got: result, seen: [...server.seen] } as Run<A>
      })
    return { node: yield* run(NodeHttpClient.layer), httpfx: yield* run(layer) }
  })

const get = (url: string) => Effect.flatMap(HttpClient.get(url), buffered)

const execute = (request: HttpClientRequest.HttpClientRequest) => Effect.flatMap(HttpClient.execute(request), buffered)

// ---- what the server saw -----------------------------------------------------------------------------------------

describe("headers sent", () => {
  it.scoped("a plain GET carries Host and nothing else: no user-agent, accept or accept-encoding", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const { httpfx, node } = yield* sideBySide(server, get(`${server.url}/`))
      expect(httpfx).toEqual(node)
      expect(httpfx.seen[0]!.headers.map(([name]) => name)).toEqual(["b3", "traceparent", "Host"])
    }))

  it.scoped("the caller's fields and URL params go out as set, in order, and nothing is added", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const request = HttpClientRequest.get(`${server.url}/path`).pipe(
        HttpClientRequest.setUrlParams({ q: "a b", n: ["1", "2"] }),
        HttpClientRequest.setHeaders({ "x-one": "1", authorization: "Bearer t", accept: "text/plain" }),
        HttpClientRequest.setHeader("user-agent", "mine/1")
      )
      const { httpfx, node } = yield* sideBySide(server, execute(request))
      expect(httpfx).toEqual(node)
      expect(httpfx.seen[0]!.url).toBe("/path?q=a+b&n=1&n=2")
      expect(httpfx.seen[0]!.headers.filter(([name]) => !FRESH.has(name))).toEqual([
        ["x-one", "1"],
        ["authorization", "Bearer t"],
        ["accept", "text/plain"],
        ["user-agent", "mine/1"],
        ["Host", new URL(server.url).host]
      ])
    }))

  it.scoped("no cookie jar: a Set-Cookie is not sent back on the next request", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const { httpfx, node } = yield* sideBySide(
        server,
        Effect.zip(get(`${server.url}/fields`), get(`${server.url}/again`))
      )
      expect(httpfx).toEqual(node)
      expect(httpfx.seen[1]!.headers.some(([name]) => name.toLowerCase() === "cookie")).toBe(false)
    }))

  it.scoped("HTTP_PROXY is ignored, as node:http ignores it: the request goes straight to the server", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      // Nothing listens on port 1: a client that used the variable would fail to connect.
      const { httpfx, node } = yield* withEnv(
        { HTTP_PROXY: "http://127.0.0.1:1", http_proxy: undefined, ALL_PROXY: undefined, NO_PROXY: undefined },
        sideBySide(server, get(`${server.url}/direct`))
      )
      expect(httpfx).toEqual(node)
      expect(httpfx.got).toMatchObject({ status: 200, body: "ok" })
    }))
})

describe("request bodies", () => {
  const post = (body: HttpBody.HttpBody) => (url: string) =>
    execute(HttpClientRequest.post(`${url}/body`).pipe(HttpClientRequest.setBody(body)))

  const bodies: ReadonlyArray<readonly [string, (url: string) => Effect.Effect<Got, unknown, HttpClient.HttpClient>]> = [
    ["no body", post(HttpBody.empty)],
    ["text", post(HttpBody.text("héllo", "text/plain; charset=utf-8"))],
    ["json", post(HttpBody.unsafeJson({ a: [1, 2], b: "ü" }))],
    ["Uint8Array", post(HttpBody.uint8Array(new Uint8Array([0, 1, 2, 255])))],
    ["urlParams", post(HttpBody.urlParams(UrlParams.fromInput({ a: "1", b: "x y" })))],
    ["a stream without a length", post(HttpBody.stream(Stream.make(Buffer.from("ab"), Buffer.from("cd"))))],
    ["a stream with a length", post(HttpBody.stream(Stream.make(Buffer.from("ab"), Buffer.from("cd")), "x/y", 4))]
  ]

  for (const [name, program] of bodies) {
    it.scoped(`${name}: the same fields, framing and bytes reach the server`, () =>
      Effect.gen(function*() {
        const server = yield* recordingServer
        const { httpfx, node } = yield* sideBySide(server, program(server.url))
        expect(httpfx).toEqual(node)
        expect(httpfx.seen).toHaveLength(1)
      }))
  }
})

// ---- what the program got ----------------------------------------------------------------------------------------

describe("responses", () => {
  for (const status of [200, 204, 404, 500]) {
    it.scoped(`a ${status} comes back with its fields and body`, () =>
      Effect.gen(function*() {
        const server = yield* recordingServer
        const { httpfx, node } = yield* sideBySide(server, get(`${server.url}/status/${status}`))
        expect(httpfx).toEqual(node)
        expect(httpfx.got).toMatchObject({ status, body: status === 204 ? "" : `status ${status}` })
      }))
  }

  it.scoped("repeated fields, Set-Cookie lines and their cookies come back the same", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const program = Effect.flatMap(HttpClient.get(`${server.url}/fields`), (response) =>
        Effect.map(buffered(response), (got) => ({ got, cookies: response.cookies.cookies })))
      const { httpfx, node } = yield* sideBySide(server, program)
      expect(httpfx).toEqual(node)
      expect(httpfx.got.got.headers).toMatchObject({ "x-many": "1, 2", "x-mixed-case": "yes" })
    }))

  it.scoped("a chunked body read with stream gives the same bytes", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const { httpfx, node } = yield* sideBySide(server, Effect.flatMap(HttpClient.get(`${server.url}/chunks`), streamed))
      expect(httpfx).toEqual(node)
      expect(httpfx.got.body).toBe("chunk 0;chunk 1;chunk 2;")
    }))

  it.scoped("a gzip body comes as it was sent, with its content-encoding and content-length", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const { httpfx, node } = yield* sideBySide(server, get(`${server.url}/gzip`))
      expect(httpfx).toEqual(node)
      expect(httpfx.got.headers["content-encoding"]).toBe("gzip")
      expect(Buffer.from(httpfx.got.body, "latin1")).toEqual(gzipped)
    }))

  it.scoped("a gzip body read with stream comes as it was sent too", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const { httpfx, node } = yield* sideBySide(server, Effect.flatMap(HttpClient.get(`${server.url}/gzip`), streamed))
      expect(httpfx).toEqual(node)
      expect(Buffer.from(httpfx.got.body, "latin1")).toEqual(gzipped)
    }))

  it.scoped("a 302 comes back as it is: redirects are not followed", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const { httpfx, node } = yield* sideBySide(server, get(`${server.url}/redirect`))
      expect(httpfx).toEqual(node)
      expect(httpfx.got).toMatchObject({ status: 302, headers: { location: "/status/200" } })
      expect(httpfx.seen).toHaveLength(1)
    }))

  it.scoped("a server that thinks for 1.5 s before it answers is waited for", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const { httpfx, node } = yield* sideBySide(server, get(`${server.url}/slow`))
      expect(httpfx).toEqual(node)
      expect(httpfx.got).toMatchObject({ status: 200, body: "worth the wait" })
    }), 10_000)
})

describe("errors", () => {
  it.scoped("a refused connection is RequestError Transport", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const port = yield* Effect.scoped(Effect.map(httpServer(() => {}), (closed) => closed.port))
      const { httpfx, node } = yield* sideBySide(server, outcome(get(`http://127.0.0.1:${port}/`)))
      expect(httpfx).toEqual(node)
      expect(httpfx.got).toEqual({ error: "RequestError", reason: "Transport" })
    }))

  it.scoped("a connection reset mid-body is ResponseError Decode, whether read whole or streamed", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const program = Effect.all([
        outcome(get(`${server.url}/reset`)),
        outcome(Effect.flatMap(HttpClient.get(`${server.url}/reset`), streamed))
      ])
      const { httpfx, node } = yield* sideBySide(server, program)
      expect(httpfx).toEqual(node)
      expect(httpfx.got).toEqual([
        { error: "ResponseError", reason: "Decode", status: 200 },
        { error: "ResponseError", reason: "Decode", status: 200 }
      ])
    }))

  it.scoped("an invalid URL is RequestError InvalidUrl", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const program = Effect.all([
        outcome(get("not a url")),
        outcome(get("http://[::1/")),
        outcome(get("http://127.0.0.1:99999/"))
      ])
      const { httpfx, node } = yield* sideBySide(server, program)
      expect(httpfx).toEqual(node)
      expect(httpfx.got).toEqual(Array(3).fill({ error: "RequestError", reason: "InvalidUrl" }))
    }))
})

// ---- opting in ---------------------------------------------------------------------------------------------------

describe("options opt in", () => {
  it.scoped("decompress: true decodes the body, asks with Accept-Encoding, and leaves the fields as sent", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const body = yield* Effect.flatMap(HttpClient.get(`${server.url}/gzip`), buffered).pipe(
        Effect.provide(Platform.layer({ decompress: true }))
      )
      expect(body.body).toBe("hello, gzip")
      expect(body.headers).toMatchObject({
        "content-encoding": "gzip",
        "content-length": String(gzipped.length)
      })
      expect(server.seen[0]!.headers.filter(([name]) => !FRESH.has(name))).toEqual([
        ["accept-encoding", expect.stringMatching(/^gzip, deflate, br/)],
        ["Host", new URL(server.url).host]
      ])
    }))

  it.scoped("decompress: true decodes a streamed body too, and a request's own Accept-Encoding wins", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const body = yield* HttpClientRequest.get(`${server.url}/gzip`).pipe(
        HttpClientRequest.setHeader("accept-encoding", "gzip"),
        HttpClient.execute,
        Effect.flatMap(streamed),
        Effect.provide(Platform.layer({ decompress: true }))
      )
      expect(body.body).toBe("hello, gzip")
      expect(server.seen[0]!.headers.filter(([name]) => !FRESH.has(name))).toEqual([
        ["accept-encoding", "gzip"],
        ["Host", new URL(server.url).host]
      ])
    }))

  it.scoped("trustEnv: true honours HTTP_PROXY, as Client does", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const result = yield* withEnv(
        { HTTP_PROXY: "http://127.0.0.1:1", http_proxy: undefined, ALL_PROXY: undefined, NO_PROXY: undefined },
        outcome(get(`${server.url}/direct`)).pipe(Effect.provide(Platform.layer({ trustEnv: true })))
      )
      expect(result).toEqual({ error: "RequestError", reason: "Transport" })
      expect(server.seen).toHaveLength(0)
    }))

  it.scoped("headers and cookies turn httpfx's default fields and cookie jar back on", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const layer = Platform.layer({ headers: { "user-agent": "app/1" }, cookies: true })
      yield* Effect.zip(get(`${server.url}/fields`), get(`${server.url}/again`)).pipe(Effect.provide(layer))
      const second = server.seen[1]!.headers.filter(([name]) => !FRESH.has(name))
      expect(second).toEqual([["user-agent", "app/1"], ["cookie", "a=1; b=2"], ["Host", new URL(server.url).host]])
    }))

  it.scoped("a read timeout, when asked for, cuts the slow server short", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const result = yield* outcome(get(`${server.url}/slow`)).pipe(
        Effect.provide(Platform.layer({ timeout: { read: "100 millis" } }))
      )
      expect(result).toEqual({ error: "RequestError", reason: "Transport" })
    }))
})

describe("the options behind Platform.layer", () => {
  /** The httpfx client Platform.make builds for these options. */
  const clientFor = (options?: Platform.Options) =>
    Effect.map(
      Client.make(clientOptions(options)),
      (client) => (client as unknown as { readonly impl: ClientImpl }).impl
    )

  it.scoped("with none, the pool has no timeout of any kind, decodes nothing, and the client adds no header", () =>
    Effect.gen(function*() {
      const impl = yield* clientFor()
      const pool = poolOf(impl.transport)!
      expect(pool.timeouts).toEqual({ connect: 0, read: 0, write: 0, pool: 0, total: 0, head: 0 })
      expect(pool.decompress).toBe(false)
      expect(impl.buildRequest("GET", "http://127.0.0.1/").headers).toEqual({})
      expect(impl.jar).toBeUndefined()
    }))

  it("one duration means what it means on Client; a record limits only the phases it names", () => {
    expect(resolve(clientOptions({ timeout: "5 seconds" }).timeout)).toEqual(resolve("5 seconds"))
    expect(resolve(clientOptions({ timeout: { read: "2 seconds" } }).timeout)).toEqual({
      connect: 0,
      read: 2_000,
      write: 0,
      pool: 0,
      total: 0,
      head: 0
    })
    expect(resolve(clientOptions({ timeout: null }).timeout).head).toBe(0)
  })

  it.scoped("a mock transport's gzip body comes as it was given, and decoded with decompress: true", () =>
    Effect.gen(function*() {
      const transport = Transport.mock(() =>
        new Response(gzipped, { headers: { "content-type": "text/plain", "content-encoding": "gzip" } })
      )
      const read = (options: Platform.Options) =>
        Effect.all([
          Effect.flatMap(HttpClient.get("http://mock.test/"), buffered),
          Effect.flatMap(HttpClient.get("http://mock.test/"), streamed)
        ]).pipe(Effect.provide(Platform.layer(options)))
      const [whole, stream] = yield* read({ transport })
      expect(Buffer.from(whole.body, "latin1")).toEqual(gzipped)
      expect(Buffer.from(stream.body, "latin1")).toEqual(gzipped)
      const decoded = yield* read({ transport, decompress: true })
      expect(decoded.map((got) => got.body)).toEqual(["hello, gzip", "hello, gzip"])
      expect(decoded[0].headers["content-encoding"]).toBe("gzip")
    }))

  it.scoped("Platform.fromClient keeps the given client's own behaviour: its headers and decoding", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer
      const client = yield* Client.make()
      const body = yield* Effect.flatMap(HttpClient.get(`${server.url}/gzip`), buffered).pipe(
        Effect.provideService(HttpClient.HttpClient, Platform.fromClient(client))
      )
      expect(body.body).toBe("hello, gzip")
      expect(server.seen[0]!.headers.map(([name]) => name)).toContain("user-agent")
    }))
})

// ---- HttpApiClient against a served HttpApi ----------------------------------------------------------------------

class Item extends Schema.Class<Item>("Item")({ id: Schema.Number, name: Schema.String }) {}

/** What the API's server saw of a request, by the same rules as the recording server. */
const Echo = Schema.Struct({
  headers: Schema.Array(Schema.Tuple(Schema.String, Schema.String)),
  body: Schema.String
})

const Api = HttpApi.make("api").add(
  HttpApiGroup.make("items")
    .add(
      HttpApiEndpoint.get("byId", "/items/:id")
        .setPath(Schema.Struct({ id: Schema.NumberFromString }))
        .addSuccess(Item)
        .addError(HttpApiError.NotFound)
    )
    .add(
      HttpApiEndpoint.post("echo", "/echo")
        .setPayload(Schema.Struct({ name: Schema.String }))
        .addSuccess(Echo, { status: 201 })
    )
)

const ItemsLive = HttpApiBuilder.group(Api, "items", (handlers) =>
  handlers
    .handle("byId", ({ path }) =>
      path.id === 0
        ? Effect.fail(new HttpApiError.NotFound())
        : Effect.succeed(new Item({ id: path.id, name: `item ${path.id}` })))
    .handle("echo", ({ payload }) =>
      Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
        const raw = (request as unknown as { readonly source: http.IncomingMessage }).source.rawHeaders
        return { headers: seenHeaders(raw), body: JSON.stringify(payload) }
      })))

const apiServer = Effect.map(
  Layer.build(
    HttpApiBuilder.serve().pipe(
      Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide(ItemsLive))),
      Layer.provideMerge(NodeHttpServer.layer(() => http.createServer(), { port: 0, host: "127.0.0.1" }))
    )
  ),
  (context) => {
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
    return `http://127.0.0.1:${address.port}`
  }
)

describe("HttpApiClient against a served HttpApi", () => {
  const calls = (baseUrl: string) =>
    Effect.flatMap(HttpApiClient.make(Api, { baseUrl }), (client) =>
      Effect.all([
        client.items.byId({ path: { id: 7 } }),
        Effect.either(client.items.byId({ path: { id: 0 } })),
        client.items.echo({ payload: { name: "Ada" } })
      ]))

  it.scoped("a success, a typed error and what the server saw of a payload are the same on both", () =>
    Effect.gen(function*() {
      const baseUrl = yield* apiServer
      const node = yield* calls(baseUrl).pipe(Effect.provide(NodeHttpClient.layer))
      const httpfx = yield* calls(baseUrl).pipe(Effect.provide(Platform.layer()))
      expect(httpfx).toEqual(node)
      const [item, missing, echo] = httpfx
      expect(item).toEqual(new Item({ id: 7, name: "item 7" }))
      expect(Either.isLeft(missing) && missing.left).toBeInstanceOf(HttpApiError.NotFound)
      expect(echo.headers.map(([name]) => name.toLowerCase())).not.toContain("user-agent")
      expect(echo.body).toBe(`{"name":"Ada"}`)
    }))
})
