/**
 * Platform.layer: @effect/platform's HttpClient on httpfx. Code written for platform (HttpApiClient, HttpClient.get,
 * schemaBodyJson, filterStatusOk, retryTransient, followRedirects, tracing) runs unchanged; every HttpBody kind
 * reaches the server intact; the buffered accessors share one read; and the response body's lifetime (end of
 * stream, interruption, withScope) is proven by socket counts taken on the server side.
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
  HttpClientResponse,
  HttpRouter,
  HttpServer,
  HttpServerResponse
} from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Deferred, Effect, Either, Fiber, Layer, Option, Schema, Stream } from "effect"
import { Client, Platform } from "httpfx"
import * as http from "node:http"
import * as v8 from "node:v8"
import * as vm from "node:vm"

import { eventually, httpServer, rawServer, scriptedServer } from "./utils/servers.js"

// ---- an HttpApi served by @effect/platform-node ------------------------------------------------------------------

class User extends Schema.Class<User>("User")({ id: Schema.Number, name: Schema.String }) {}

const Api = HttpApi.make("api").add(
  HttpApiGroup.make("users")
    .add(
      HttpApiEndpoint.get("byId", "/users/:id")
        .setPath(Schema.Struct({ id: Schema.NumberFromString }))
        .addSuccess(User)
        .addError(HttpApiError.NotFound)
    )
    .add(
      HttpApiEndpoint.post("create", "/users")
        .setPayload(Schema.Struct({ name: Schema.String }))
        .addSuccess(User, { status: 201 })
    )
)

const UsersLive = HttpApiBuilder.group(Api, "users", (handlers) =>
  handlers
    .handle("byId", ({ path }) =>
      path.id === 0
        ? Effect.fail(new HttpApiError.NotFound())
        : Effect.succeed(new User({ id: path.id, name: `user ${path.id}` })))
    .handle("create", ({ payload }) => Effect.succeed(new User({ id: 42, name: payload.name }))))

const ApiServerLive = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide(UsersLive))),
  Layer.provideMerge(NodeHttpServer.layer(() => http.createServer(), { port: 0, host: "127.0.0.1" }))
)

/** The API server, running until the scope closes; its base URL. */
const apiServer = Effect.map(Layer.build(ApiServerLive), (context) => {
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return `http://127.0.0.1:${address.port}`
})

// ---- plain servers -------------------------------------------------------------------------------------------------

interface Echoed {
  readonly method: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
}

/** Echoes what it received, as JSON with the body in base64. */
const echoServer = () =>
  httpServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      res.setHeader("content-type", "application/json")
      const body = Buffer.concat(chunks).toString("base64")
      res.end(JSON.stringify({ method: req.method, headers: req.headers, body }))
    })
  })

const echoed = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.map(response.json, (json) => {
    const value = json as { method: string; headers: http.IncomingHttpHeaders; body: string }
    return { ...value, body: Buffer.from(value.body, "base64") } as Echoed
  })

const MiB = 1024 * 1024

/** A server whose every answer is `size` bytes, written in 64 KiB chunks as the client reads. */
const bigServer = (size: number) =>
  httpServer((req, res) => {
    req.resume()
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(size) })
    const chunk = Buffer.alloc(64 * 1024, 7)
    let sent = 0
    const pump = () => {
      while (sent < size) {
        const n = Math.min(chunk.length, size - sent)
        sent += n
        if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void res.once("drain", pump)
      }
      res.end()
    }
    pump()
  })

const withPlatform = Effect.provide(Platform.layer())

/** Counts the AbortControllers made anywhere until the scope closes. */
const abortControllerCount = Effect.acquireRelease(
  Effect.sync(() => {
    const original = globalThis.AbortController
    const counter = { count: 0, original }
    globalThis.AbortController = class extends original {
      constructor() {
        super()
        counter.count++
      }
    }
    return counter
  }),
  (counter) => Effect.sync(() => void (globalThis.AbortController = counter.original))
)

// ---- HttpApiClient -----------------------------------------------------------------------------------------------

describe("HttpApiClient over Platform.layer", () => {
  it.scoped("calls a GET endpoint with a path parameter and decodes the success schema", () =>
    Effect.gen(function*() {
      const baseUrl = yield* apiServer
      const user = yield* Effect.flatMap(
        HttpApiClient.make(Api, { baseUrl }),
        (client) => client.users.byId({ path: { id: 7 } })
      ).pipe(withPlatform)
      expect(user).toBeInstanceOf(User)
      expect(user).toEqual(new User({ id: 7, name: "user 7" }))
    }))

  it.scoped("sends a JSON payload to a POST endpoint", () =>
    Effect.gen(function*() {
      const baseUrl = yield* apiServer
      const user = yield* Effect.flatMap(
        HttpApiClient.make(Api, { baseUrl }),
        (client) => client.users.create({ payload: { name: "Ada" } })
      ).pipe(withPlatform)
      expect(user).toEqual(new User({ id: 42, name: "Ada" }))
    }))

  it.scoped("decodes a declared error into its typed class", () =>
    Effect.gen(function*() {
      const baseUrl = yield* apiServer
      const result = yield* Effect.flatMap(
        HttpApiClient.make(Api, { baseUrl }),
        (client) => client.users.byId({ path: { id: 0 } })
      ).pipe(Effect.either, withPlatform)
      expect(Either.isLeft(result) && result.left).toBeInstanceOf(HttpApiError.NotFound)
    }))
})

// ---- HttpClient ----------------------------------------------------------------------------------------------------

describe("HttpClient over Platform.layer", () => {
  it.scoped("HttpClient.get with response.json and HttpClientResponse.schemaBodyJson", () =>
    Effect.gen(function*() {
      const baseUrl = yield* apiServer
      const json = yield* HttpClient.get(`${baseUrl}/users/3`).pipe(
        Effect.flatMap((response) => response.json),
        withPlatform
      )
      expect(json).toEqual({ id: 3, name: "user 3" })
      const user = yield* HttpClient.get(`${baseUrl}/users/4`).pipe(
        Effect.flatMap(HttpClientResponse.schemaBodyJson(User)),
        withPlatform
      )
      expect(user).toEqual(new User({ id: 4, name: "user 4" }))
    }))

  it.scoped("the request carries urlParams, headers and the client's default headers, and no user-agent of ours", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => res.end(JSON.stringify({ url: req.url, headers: req.headers })))
      const json = (yield* HttpClientRequest.get(`${server.url}/p`).pipe(
        HttpClientRequest.setUrlParams({ a: "1", b: ["x", "y"] }),
        HttpClientRequest.setHash("frag"),
        HttpClientRequest.setHeader("x-custom", "yes"),
        HttpClient.execute,
        Effect.flatMap((response) => response.json),
        Effect.provide(Platform.layer({ headers: { "x-default": "d" } }))
      )) as { url: string; headers: http.IncomingHttpHeaders }
      expect(json.url).toBe("/p?a=1&b=x&b=y")
      expect(json.headers["x-custom"]).toBe("yes")
      expect(json.headers["x-default"]).toBe("d")
      expect(json.headers["user-agent"]).toBeUndefined()
    }))

  it.scoped("a request header that replaces a client default is sent once, with the request's value", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => res.end(JSON.stringify(req.rawHeaders)))
      const raw = (yield* HttpClientRequest.get(server.url).pipe(
        HttpClientRequest.setHeader("user-agent", "mine/2"),
        HttpClient.execute,
        Effect.flatMap((response) => response.json),
        Effect.provide(Platform.layer({ headers: { "user-agent": "default/1" } }))
      )) as Array<string>
      const agents = raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === "user-agent")
      expect(agents).toEqual(["mine/2"])
    }))

  it.scoped("with cookies: true, the client's jar works through the platform API: stored, then sent with the next", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        if (req.url === "/login") res.setHeader("set-cookie", "session=s1; Path=/")
        res.end(req.headers.cookie ?? "")
      })
      const sent = yield* Effect.gen(function*() {
        const first = yield* Effect.flatMap(HttpClient.get(`${server.url}/login`), (response) => response.text)
        const second = yield* Effect.flatMap(HttpClient.get(`${server.url}/me`), (response) => response.text)
        return [first, second]
      }).pipe(Effect.provide(Platform.layer({ cookies: true })))
      expect(sent).toEqual(["", "session=s1"])
    }))

  it.scoped("the buffered accessors share one read: text twice, then json, arrayBuffer, urlParamsBody and stream", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => {
        res.setHeader("content-type", "application/json")
        res.end(JSON.stringify({ hello: "wörld" }))
      })
      yield* Effect.gen(function*() {
        const response = yield* HttpClient.get(server.url)
        // Printing an unread response shows no body and does not start a read.
        expect(response.toJSON()).not.toHaveProperty("body")
        const first = yield* response.text
        expect(yield* response.text).toBe(first)
        expect(first).toBe(`{"hello":"wörld"}`)
        expect(yield* response.json).toEqual({ hello: "wörld" })
        expect(new TextDecoder().decode(yield* response.arrayBuffer)).toBe(first)
        const streamed = yield* Stream.runCollect(response.stream)
        expect(Buffer.concat(Chunk.toArray(streamed)).toString()).toBe(first)
        // Once read, the body is printed too.
        expect((response.toJSON() as { body: unknown }).body).toEqual({ hello: "wörld" })
      }).pipe(withPlatform)
    }))

  it.scoped("concurrent buffered reads wait for the one read in progress", () =>
    Effect.gen(function*() {
      const server = yield* bigServer(2 * MiB)
      const lengths = yield* HttpClient.get(server.url).pipe(
        Effect.flatMap((response) =>
          Effect.all([response.arrayBuffer, response.arrayBuffer, response.text], { concurrency: "unbounded" })
        ),
        Effect.map(([a, b, text]) => [a.byteLength, b.byteLength, text.length]),
        withPlatform
      )
      expect(lengths).toEqual([2 * MiB, 2 * MiB, 2 * MiB])
    }))

  it.scopedLive("a buffered read that is interrupted fails its waiters (never hangs them) and closes the connection", () =>
    Effect.gen(function*() {
      // Head and a first piece, then nothing: the read can only end by interruption.
      const server = yield* rawServer((socket) => {
        socket.once("data", () => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"))
      })
      yield* Effect.gen(function*() {
        const response = yield* HttpClient.get(server.url)
        const first = yield* Effect.fork(response.text)
        yield* Effect.sleep("20 millis")
        const waiter = yield* Effect.fork(Effect.either(response.arrayBuffer))
        yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(first)
        const result = yield* Fiber.join(waiter)
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) {
          expect(result.left._tag).toBe("ResponseError")
          expect(result.left.message).toContain("interrupted")
        }
        // Later readers get the same answer at once.
        const later = yield* Effect.either(response.text)
        expect(Either.isLeft(later)).toBe(true)
        yield* eventually(() => server.openSockets() === 0, 2_000, "the interrupted read's connection to close")
      }).pipe(withPlatform)
    }))

  it.scoped("a streamed body is gone: stream twice, or text after stream, fails with ResponseError Decode", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("once"))
      yield* Effect.gen(function*() {
        const response = yield* HttpClient.get(server.url)
        const bytes = yield* Stream.runCollect(response.stream)
        expect(Buffer.concat(Chunk.toArray(bytes)).toString()).toBe("once")
        const again = yield* Effect.flip(Stream.runDrain(response.stream))
        expect(again._tag).toBe("ResponseError")
        expect(again.reason).toBe("Decode")
        expect(again.message).toMatch(/already read by `stream`/)
        const text = yield* Effect.flip(response.text)
        expect(text.reason).toBe("Decode")
      }).pipe(withPlatform)
    }))

  it.scoped("formData parses a urlencoded body and a multipart body", () =>
    Effect.gen(function*() {
      const server = yield* httpServer(async (req, res) => {
        if (req.url === "/multipart") {
          const form = new FormData()
          form.append("field", "value")
          form.append("file", new Blob(["content"], { type: "text/plain" }), "f.txt")
          const encoded = new Response(form)
          res.setHeader("content-type", encoded.headers.get("content-type")!)
          res.end(Buffer.from(await encoded.arrayBuffer()))
        } else {
          res.setHeader("content-type", "application/x-www-form-urlencoded")
          res.end("a=1&b=two+words")
        }
      })
      yield* Effect.gen(function*() {
        const urlencoded = yield* Effect.flatMap(HttpClient.get(server.url), (response) => response.formData)
        expect(urlencoded.get("b")).toBe("two words")
        const params = yield* Effect.flatMap(HttpClient.get(server.url), (response) => response.urlParamsBody)
        expect(params).toEqual([["a", "1"], ["b", "two words"]])
        const multipart = yield* Effect.flatMap(
          HttpClient.get(`${server.url}/multipart`),
          (response) => response.formData
        )
        expect(multipart.get("field")).toBe("value")
        const file = multipart.get("file") as File
        expect(file.name).toBe("f.txt")
        expect(yield* Effect.promise(() => file.text())).toBe("content")
      }).pipe(withPlatform)
    }))

  it.scoped("HEAD and 204 responses have empty bodies: text is \"\" and json is null", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        if (req.method === "HEAD") {
          res.writeHead(200, { "content-type": "application/json", "content-length": "100" })
          return res.end()
        }
        res.writeHead(204)
        res.end()
      })
      yield* Effect.gen(function*() {
        const head = yield* HttpClient.head(server.url)
        expect(head.status).toBe(200)
        expect(yield* head.text).toBe("")
        const noContent = yield* HttpClient.del(server.url)
        expect(noContent.status).toBe(204)
        expect(yield* noContent.json).toBeNull()
        // Bodiless responses hold nothing: both went out on one connection.
        expect(server.acceptedSockets()).toBe(1)
      }).pipe(withPlatform)
    }))

  it.scoped("response.cookies keeps each Set-Cookie line apart", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => {
        res.setHeader("set-cookie", ["a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/", "b=2"])
        res.end()
      })
      const cookies = yield* HttpClient.get(server.url).pipe(Effect.map((response) => response.cookies), withPlatform)
      expect(cookies.cookies.a?.value).toBe("1")
      expect(cookies.cookies.b?.value).toBe("2")
    }))

  it.scoped("HttpClient.filterStatusOk turns a 404 into ResponseError StatusCode", () =>
    Effect.gen(function*() {
      const baseUrl = yield* apiServer
      const error = yield* Effect.flatMap(HttpClient.HttpClient, (client) =>
        HttpClient.filterStatusOk(client).get(`${baseUrl}/nowhere`)).pipe(Effect.flip, withPlatform)
      expect(error._tag).toBe("ResponseError")
      expect(error._tag === "ResponseError" && error.reason).toBe("StatusCode")
      expect(error._tag === "ResponseError" && error.response.status).toBe(404)
    }))

  it.scoped("HttpClient.retryTransient retries a connection the server resets", () =>
    Effect.gen(function*() {
      let connections = 0
      const server = yield* rawServer((socket) => {
        if (++connections === 1) return void socket.once("data", () => socket.resetAndDestroy())
        socket.once("data", () => socket.end("HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nagain"))
      })
      const text = yield* Effect.flatMap(HttpClient.HttpClient, (client) =>
        HttpClient.retryTransient(client, { times: 2 }).get(server.url)).pipe(
          Effect.flatMap((response) => response.text),
          withPlatform
        )
      expect(text).toBe("again")
      expect(server.acceptedSockets()).toBe(2)
    }))

  it.scoped("redirects are not followed by default; the followRedirects option and HttpClient.followRedirects do", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        if (req.url === "/from") {
          res.writeHead(302, { location: "/to" })
          return res.end()
        }
        res.end(`at ${req.url}`)
      })
      const plain = yield* HttpClient.get(`${server.url}/from`).pipe(withPlatform)
      expect(plain.status).toBe(302)
      const option = yield* HttpClient.get(`${server.url}/from`).pipe(
        Effect.flatMap((response) => response.text),
        Effect.provide(Platform.layer({ followRedirects: true }))
      )
      expect(option).toBe("at /to")
      const onTop = yield* Effect.flatMap(HttpClient.HttpClient, (client) =>
        HttpClient.followRedirects(client).get(`${server.url}/from`)).pipe(
          Effect.flatMap((response) => response.text),
          withPlatform
        )
      expect(onTop).toBe("at /to")
    }))

  it.scoped("platform's tracer propagation sends the active span's trace id in traceparent", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => res.end(String(req.headers.traceparent)))
      const [traceId, traceparent] = yield* Effect.gen(function*() {
        const span = yield* Effect.currentSpan
        const response = yield* HttpClient.get(server.url)
        return [span.traceId, yield* response.text] as const
      }).pipe(Effect.withSpan("outer"), withPlatform)
      expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
      expect(traceparent.split("-")[1]).toBe(traceId)
    }))
})

// ---- request bodies ------------------------------------------------------------------------------------------------

describe("request bodies", () => {
  const send = (request: HttpClientRequest.HttpClientRequest) =>
    HttpClient.execute(request).pipe(Effect.flatMap(echoed), withPlatform)

  it.scoped("every HttpBody kind reaches the server intact", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const url = server.url

      const empty = yield* send(HttpClientRequest.get(url))
      expect(empty.body.length).toBe(0)
      expect(empty.headers["content-length"]).toBeUndefined()
      expect(empty.headers["transfer-encoding"]).toBeUndefined()

      const raw = yield* send(HttpClientRequest.post(url).pipe(
        HttpClientRequest.setBody(HttpBody.raw("raw text ✓", { contentType: "text/plain" }))
      ))
      expect(raw.body.toString()).toBe("raw text ✓")
      expect(raw.headers["content-type"]).toBe("text/plain")

      const binary = new Uint8Array(1000).map((_, i) => i % 256)
      const bytes = yield* send(HttpClientRequest.put(url).pipe(HttpClientRequest.bodyUint8Array(binary)))
      expect(bytes.method).toBe("PUT")
      expect(Buffer.compare(bytes.body, binary)).toBe(0)
      expect(bytes.headers["content-length"]).toBe("1000")
      expect(bytes.headers["content-type"]).toBe("application/octet-stream")

      const form = new FormData()
      form.append("name", "Ada")
      form.append("file", new File([binary], "data.bin", { type: "application/x-test" }))
      const multipart = yield* send(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyFormData(form)))
      expect(multipart.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/)
      // Sent as it is read, as platform's Node client does (test/platform/formdata-streaming.test.ts has the rest).
      expect(multipart.headers["transfer-encoding"]).toBe("chunked")
      expect(multipart.headers["content-length"]).toBeUndefined()
      const parsed = yield* Effect.promise(() =>
        new Response(new Uint8Array(multipart.body), {
          headers: { "content-type": multipart.headers["content-type"]! }
        }).formData()
      )
      expect(parsed.get("name")).toBe("Ada")
      const file = parsed.get("file") as File
      expect(file.name).toBe("data.bin")
      expect(file.type).toBe("application/x-test")
      expect(Buffer.compare(Buffer.from(yield* Effect.promise(() => file.arrayBuffer())), binary)).toBe(0)

      const parts = ["one ", "two ", "three"].map((s) => new TextEncoder().encode(s))
      const sized = yield* send(HttpClientRequest.post(url).pipe(
        HttpClientRequest.bodyStream(Stream.fromIterable(parts), { contentType: "text/plain", contentLength: 13 })
      ))
      expect(sized.body.toString()).toBe("one two three")
      expect(sized.headers["content-length"]).toBe("13")

      const chunked = yield* send(HttpClientRequest.post(url).pipe(
        HttpClientRequest.bodyStream(Stream.fromIterable(parts))
      ))
      expect(chunked.body.toString()).toBe("one two three")
      expect(chunked.headers["transfer-encoding"]).toBe("chunked")

      const web = yield* send(HttpClientRequest.post(url).pipe(
        HttpClientRequest.setBody(HttpBody.raw(new Blob(["from a blob"])))
      ))
      expect(web.body.toString()).toBe("from a blob")
      expect(web.headers["content-length"]).toBe("11")
    }))

  it.scoped("HttpClientRequest.bodyJson and bodyUrlParams", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const json = yield* HttpClientRequest.post(server.url).pipe(
        HttpClientRequest.bodyJson({ a: [1, 2] }),
        Effect.flatMap(send)
      )
      expect(JSON.parse(json.body.toString())).toEqual({ a: [1, 2] })
      expect(json.headers["content-type"]).toBe("application/json")
      const form = yield* send(HttpClientRequest.post(server.url).pipe(HttpClientRequest.bodyUrlParams({ q: "a b" })))
      expect(form.body.toString()).toBe("q=a+b")
    }))
})

// ---- errors --------------------------------------------------------------------------------------------------------

describe("errors", () => {
  it.effect("a refused connection is RequestError Transport with the httpfx ConnectError as cause", () =>
    Effect.gen(function*() {
      const port = yield* Effect.scoped(Effect.map(httpServer(() => {}), (server) => server.port))
      const error = yield* HttpClient.get(`http://127.0.0.1:${port}/`).pipe(Effect.flip, withPlatform)
      expect(error._tag).toBe("RequestError")
      expect(error.reason).toBe("Transport")
      expect((error.cause as { _tag: string })._tag).toBe("ConnectError")
    }))

  it.effect("an unsupported scheme is RequestError InvalidUrl", () =>
    Effect.gen(function*() {
      const error = yield* HttpClient.get("ftp://127.0.0.1/file").pipe(Effect.flip, withPlatform)
      expect(error.reason).toBe("InvalidUrl")
      expect((error.cause as { _tag: string })._tag).toBe("UnsupportedProtocol")
    }))

  it.scoped("a header httpfx refuses to send is RequestError Encode", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const error = yield* HttpClientRequest.get(server.url).pipe(
        HttpClientRequest.setHeader("x-bad", "a\r\nInjected: yes"),
        HttpClient.execute,
        Effect.flip,
        withPlatform
      )
      expect(error.reason).toBe("Encode")
      expect((error.cause as { _tag: string })._tag).toBe("LocalProtocolError")
    }))

  it.scoped("a failing body stream is RequestError Encode with the stream's own error as cause", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const boom = new Error("boom")
      const error = yield* HttpClientRequest.post(server.url).pipe(
        HttpClientRequest.bodyStream(Stream.concat(Stream.make(new Uint8Array([1])), Stream.fail(boom))),
        HttpClient.execute,
        Effect.flip,
        withPlatform
      )
      expect(error.reason).toBe("Encode")
      expect(error.cause).toBe(boom)
    }))

  it.scoped("a connection cut mid-body is ResponseError Decode with the httpfx error as cause", () =>
    Effect.gen(function*() {
      const server = yield* rawServer((socket) =>
        socket.once("data", () => {
          socket.write("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
          setTimeout(() => socket.destroy(), 20)
        })
      )
      const error = yield* HttpClient.get(server.url).pipe(
        Effect.flatMap((response) => response.text),
        Effect.flip,
        withPlatform
      )
      expect(error._tag).toBe("ResponseError")
      expect(error._tag === "ResponseError" && error.reason).toBe("Decode")
      expect((error.cause as { _tag: string })._tag).toMatch(/ReadError|RemoteProtocolError/)
    }))
})

// ---- lifetimes -----------------------------------------------------------------------------------------------------

describe("lifetimes", () => {
  it.scoped("response.stream streams a large body; at its end the connection is back in the pool and reused", () =>
    Effect.gen(function*() {
      const size = 16 * MiB
      const server = yield* bigServer(size)
      yield* Effect.gen(function*() {
        const response = yield* HttpClient.get(server.url)
        let total = 0
        let chunks = 0
        yield* Stream.runForEach(response.stream, (chunk) =>
          Effect.sync(() => {
            total += chunk.length
            chunks++
          }))
        expect(total).toBe(size)
        expect(chunks).toBeGreaterThan(1)
        // Kept alive and idle: the next request goes out on the same socket.
        expect(server.openSockets()).toBe(1)
        const again = yield* Effect.flatMap(HttpClient.get(server.url), (r) => r.arrayBuffer)
        expect(again.byteLength).toBe(size)
        expect(server.acceptedSockets()).toBe(1)
      }).pipe(withPlatform)
      // The layer's scope closed the pool, and with it the idle connection.
      yield* eventually(() => server.openSockets() === 0, 2_000, "the pool's connection to close")
    }))

  it.scoped("a stream stopped early closes its connection", () =>
    Effect.gen(function*() {
      const server = yield* bigServer(64 * MiB)
      yield* Effect.gen(function*() {
        const response = yield* HttpClient.get(server.url)
        const first = yield* Stream.runHead(response.stream)
        expect(first._tag).toBe("Some")
        yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
      }).pipe(withPlatform)
    }))

  it.scoped("interrupting a read mid-body closes the socket", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const server = yield* httpServer((req, res) => {
        req.resume()
        res.writeHead(200, { "content-length": "1000000" })
        res.write("x".repeat(1000))
        Deferred.unsafeDone(started, Effect.void)
        // …and nothing more: the body never ends.
      })
      yield* Effect.gen(function*() {
        const fiber = yield* Effect.fork(Effect.flatMap(HttpClient.get(server.url), (response) => response.text))
        yield* Deferred.await(started)
        expect(server.openSockets()).toBe(1)
        yield* Fiber.interrupt(fiber)
        yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
      }).pipe(withPlatform)
    }))

  it.scoped("interrupting a stream mid-body closes the socket", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        req.resume()
        res.writeHead(200, { "content-length": "1000000" })
        res.write("x".repeat(1000))
      })
      yield* Effect.gen(function*() {
        const gotFirst = yield* Deferred.make<void>()
        const response = yield* HttpClient.get(server.url)
        const fiber = yield* Effect.fork(
          Stream.runForEach(response.stream, () => Deferred.succeed(gotFirst, undefined))
        )
        yield* Deferred.await(gotFirst)
        yield* Fiber.interrupt(fiber)
        yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
      }).pipe(withPlatform)
    }))

  it.scoped("interrupting the request before the head arrives closes the socket", () =>
    Effect.gen(function*() {
      const arrived = yield* Deferred.make<void>()
      const server = yield* httpServer((req) => {
        req.resume()
        Deferred.unsafeDone(arrived, Effect.void)
      })
      yield* Effect.gen(function*() {
        const fiber = yield* Effect.fork(HttpClient.get(server.url))
        yield* Deferred.await(arrived)
        yield* Fiber.interrupt(fiber)
        yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
      }).pipe(withPlatform)
    }))

  it.scoped("with one connection allowed, the slot an interrupted request held serves the next request", () =>
    Effect.gen(function*() {
      const arrived = yield* Deferred.make<void>()
      const server = yield* httpServer((req, res) => {
        req.resume()
        if (req.url === "/hang") Deferred.unsafeDone(arrived, Effect.void)
        else res.end("ok")
      })
      const text = yield* Effect.gen(function*() {
        const fiber = yield* Effect.fork(HttpClient.get(`${server.url}/hang`))
        yield* Deferred.await(arrived)
        yield* Fiber.interrupt(fiber)
        return yield* Effect.flatMap(HttpClient.get(`${server.url}/next`), (response) => response.text)
      }).pipe(Effect.provide(Platform.layer({ maxConnections: 1, timeout: { pool: "2 seconds" } })))
      expect(text).toBe("ok")
    }))

  it.scoped("no request makes an AbortController, whether its body came with the head or is still coming", () =>
    Effect.gen(function*() {
      // platform's own HttpClient.make makes one per request, ~4.5 µs on Node 20: a seventh of an undici request.
      // Interruption, reads, withScope and collection let an exchange go without one (the tests around this one).
      const controllers = yield* abortControllerCount
      const small = yield* scriptedServer("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
      const big = yield* bigServer(64 * MiB)
      yield* Effect.gen(function*() {
        const text = yield* Effect.flatMap(HttpClient.get(small.url), (response) => response.text)
        expect(text).toBe("ok")
        const status = yield* Effect.map(HttpClient.get(big.url), (response) => response.status)
        expect(status).toBe(200)
        expect(controllers.count).toBe(0)
      }).pipe(withPlatform)
    }))

  it.scoped("with HttpClient.withScope an unread body's connection closes with the caller's scope", () =>
    Effect.gen(function*() {
      const server = yield* bigServer(64 * MiB)
      yield* Effect.gen(function*() {
        const client = HttpClient.withScope(yield* HttpClient.HttpClient)
        const status = yield* Effect.scoped(Effect.map(client.get(server.url), (response) => response.status))
        expect(status).toBe(200)
        yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
      }).pipe(withPlatform)
    }))
})

describe("garbage collection", () => {
  const gc = (): (() => void) => {
    v8.setFlagsFromString("--expose-gc")
    return vm.runInNewContext("gc") as () => void
  }

  // The first layer sends through the bare pool, the second through a pipeline (its cookie jar) in a Scope.
  const layers = [["Platform.layer()", Platform.layer()], ["with cookies", Platform.layer({ cookies: true })]] as const
  for (const [name, layer] of layers) {
    it.scoped(`${name}: a response dropped with its body unread has its connection closed once it is collected`, () =>
      Effect.gen(function*() {
        const collect = gc()
        const server = yield* bigServer(64 * MiB)
        yield* Effect.gen(function*() {
          // Only the status is kept: the response is let go when it is collected, as platform's own clients do.
          const status = yield* Effect.map(HttpClient.get(server.url), (response) => response.status)
          expect(status).toBe(200)
          expect(server.openSockets()).toBe(1)
          yield* eventually(() => {
            collect()
            return server.openSockets() === 0
          }, 5_000, "the collected response's socket to close")
        }).pipe(Effect.provide(layer))
      }))
  }
})

describe("forwarding a streamed response (examples/forward-stream.ts)", () => {
  it.scoped("when the downstream client goes away, the request scope closes the upstream connection", () =>
    Effect.gen(function*() {
      // An upstream that never finishes: only a close from the forwarder ends its socket.
      const upstream = yield* httpServer((req, res) => {
        req.resume()
        res.write("first chunk\n")
        const timer = setInterval(() => res.write("more\n"), 20)
        res.on("close", () => clearInterval(timer))
      })
      const forward = Effect.gen(function*() {
        const client = yield* Client.Client
        const response = yield* client.stream("GET", upstream.url)
        return HttpServerResponse.stream(response.stream, { status: response.status })
      })
      const context = yield* Layer.build(
        HttpRouter.empty.pipe(
          HttpRouter.get("/forward", forward),
          HttpServer.serve(),
          Layer.provide(Client.layer()),
          Layer.provideMerge(NodeHttpServer.layer(() => http.createServer(), { port: 0, host: "127.0.0.1" }))
        )
      )
      const address = Context.get(context, HttpServer.HttpServer).address as HttpServer.TcpAddress
      yield* Effect.scoped(Effect.gen(function*() {
        const downstream = yield* Client.make()
        const response = yield* downstream.stream("GET", `http://127.0.0.1:${address.port}/forward`)
        const first = yield* Stream.runHead(response.lines)
        expect(first).toEqual(Option.some("first chunk"))
        expect(upstream.openSockets()).toBe(1)
      }))
      // The downstream scope closed its connection mid-body; platform interrupts the handler, whose scope owned the
      // upstream body.
      yield* eventually(() => upstream.openSockets() === 0, 2_000, "the upstream socket to close")
    }))
})
