/**
 * Transports with no socket: `Transport.mock` (httpx's MockTransport) and `Transport.handler` (httpx's ASGITransport)
 * for fetch-style handlers and @effect/platform HttpApps, driven through the client as a user would.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Deferred, Effect, Exit, Layer, Option, Stream } from "effect"
import { Client, HttpError, Platform, Transport } from "httpfx"
import { gzipSync } from "node:zlib"
import type { Request } from "../src/internal/message/request.js"

// ---- helpers -------------------------------------------------------------------------------------------------------

const utf8 = new TextEncoder()

/** Run `body` with a client over `transport`, made through the layer as an application would. */
const withClient = <A, E>(
  transport: Transport.Transport,
  body: (client: Client.Client) => Effect.Effect<A, E>,
  options: Client.Options = {}
): Effect.Effect<A, E> =>
  Effect.provide(Effect.flatMap(Client.Client, body), Layer.orDie(Client.layer({ transport, ...options })))

/** A web ReadableStream of text chunks, each produced only when `gate(index)` resolves. */
const gatedStream = (
  chunks: ReadonlyArray<string>,
  gate: (index: number) => Promise<void>,
  onCancel: () => void = () => {}
) => {
  let index = 0
  return new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      if (index >= chunks.length) return controller.close()
      await gate(index)
      controller.enqueue(utf8.encode(chunks[index++]!))
    },
    cancel: onCancel
  }, { highWaterMark: 0 })
}

/** A bound on anything that would hang if the transport buffered: a clear failure instead of a test timeout. */
const bounded = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutFail(effect, { duration: "5 seconds", onTimeout: () => new Error("timed out: the body was buffered") })

// ---- Transport.mock ------------------------------------------------------------------------------------------------

describe("Transport.mock", () => {
  it.effect("serves a JSON response", () =>
    withClient(Transport.mock(() => Response.json({ name: "Ada", tags: ["a", "b"] })), (client) =>
      Effect.gen(function*() {
        const response = yield* client.get("http://api.test/user")
        expect(response.status).toBe(200)
        expect(response.headers["content-type"]).toBe("application/json")
        expect(yield* response.json).toEqual({ name: "Ada", tags: ["a", "b"] })
      })))

  it.effect("serves text and binary bodies byte for byte", () => {
    const binary = new Uint8Array([0, 1, 2, 254, 255, 0x80])
    const transport = Transport.mock((request) =>
      request.url.endsWith("/text")
        ? new Response("héllo wörld", { headers: { "content-type": "text/plain; charset=utf-8" } })
        : new Response(binary, { headers: { "content-type": "application/octet-stream" } })
    )
    return withClient(transport, (client) =>
      Effect.gen(function*() {
        const text = yield* client.get("http://api.test/text")
        expect(text.text).toBe("héllo wörld")
        const bytes = yield* client.get("http://api.test/bytes")
        expect(Array.from(bytes.content)).toEqual(Array.from(binary))
      }))
  })

  it.effect("keeps the status and statusText, and fills in the standard reason phrase when statusText is empty", () => {
    const transport = Transport.mock((request) =>
      request.url.endsWith("/teapot")
        ? new Response("short and stout", { status: 418, statusText: "I'm a little teapot" })
        : new Response(null, { status: 404 })
    )
    return withClient(transport, (client) =>
      Effect.gen(function*() {
        const teapot = yield* client.get("http://api.test/teapot")
        expect([teapot.status, teapot.reasonPhrase, teapot.httpVersion])
          .toEqual([418, "I'm a little teapot", "HTTP/1.1"])
        const missing = yield* client.get("http://api.test/missing")
        expect([missing.status, missing.reasonPhrase]).toEqual([404, "Not Found"])
        expect(missing.isClientError).toBe(true)
        expect(missing.content.length).toBe(0)
      }))
  })

  it.effect("keeps repeated fields joined and every Set-Cookie line apart, and the jar stores each cookie", () => {
    const seen: Array<string | undefined> = []
    const transport = Transport.mock((request) => {
      seen.push(request.headers["cookie"])
      const headers = new Headers()
      headers.append("x-multi", "one")
      headers.append("x-multi", "two")
      headers.append("set-cookie", "session=abc; Path=/")
      headers.append("set-cookie", "theme=dark; Path=/")
      return new Response("ok", { headers })
    })
    return withClient(transport, (client) =>
      Effect.gen(function*() {
        const first = yield* client.get("http://api.test/login")
        expect(first.headers["x-multi"]).toBe("one, two")
        expect(first.rawHeaders.filter(([name]) => name === "set-cookie")).toEqual([
          ["set-cookie", "session=abc; Path=/"],
          ["set-cookie", "theme=dark; Path=/"]
        ])
        yield* client.get("http://api.test/profile")
        expect(seen[0]).toBeUndefined()
        expect(seen[1]?.split("; ").sort()).toEqual(["session=abc", "theme=dark"])
      }))
  })

  it.effect("accepts a handler that returns an Effect of a Response", () =>
    withClient(
      Transport.mock(() => Effect.succeed(new Response("from an effect", { status: 201 }))),
      (client) =>
        Effect.gen(function*() {
          const response = yield* client.post("http://api.test/things")
          expect([response.status, response.reasonPhrase, response.text]).toEqual([201, "Created", "from an effect"])
        })
    ))

  it.effect("sees the request the client built: merged URL, params, headers and body", () => {
    const seen: Array<Request> = []
    const transport = Transport.mock((request) => {
      seen.push(request)
      return new Response("ok")
    })
    return withClient(
      transport,
      (client) =>
        Effect.gen(function*() {
          const response = yield* client.post("items", {
            params: { page: 2 },
            headers: { "X-Request": "r" },
            json: { name: "widget" }
          })
          const request = seen[0]!
          expect(request.method).toBe("POST")
          expect(request.url).toBe("http://api.test/v1/items?token=t&page=2")
          expect(request.headers["x-client"]).toBe("c")
          expect(request.headers["x-request"]).toBe("r")
          expect(request.headers["content-type"]).toBe("application/json")
          expect(request.headers["user-agent"]).toMatch(/^httpfx\//)
          expect(request.body._tag).toBe("Bytes")
          const bytes = request.body._tag === "Bytes" ? request.body.bytes : new Uint8Array()
          expect(JSON.parse(new TextDecoder().decode(bytes))).toEqual({ name: "widget" })
          expect(response.url).toBe("http://api.test/v1/items?token=t&page=2")
          expect(response.request.url).toBe(request.url)
          expect(yield* client.pool).toEqual([])
        }),
      { baseUrl: "http://api.test/v1", headers: { "X-Client": "c" }, params: { token: "t" } }
    )
  })

  it.effect("makes the request die with the very error the handler threw", () => {
    const boom = new Error("the app broke")
    return withClient(
      Transport.mock(() => {
        throw boom
      }),
      (client) =>
        Effect.gen(function*() {
          const exit = yield* Effect.exit(client.get("http://api.test/"))
          expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
          if (Exit.isFailure(exit)) expect(Cause.squash(exit.cause)).toBe(boom)
        })
    )
  })

  it.effect("makes the request die with the error of a failing or dying handler Effect", () => {
    const failure = { reason: "failed" }
    const defect = new RangeError("died")
    const transport = Transport.mock((request) =>
      request.url.endsWith("/fail") ? Effect.fail(failure) : Effect.die(defect)
    )
    return withClient(transport, (client) =>
      Effect.gen(function*() {
        const failed = yield* Effect.exit(client.get("http://api.test/fail"))
        const died = yield* Effect.exit(client.get("http://api.test/die"))
        expect(Exit.isFailure(failed) && Cause.isDie(failed.cause) && Cause.squash(failed.cause)).toBe(failure)
        expect(Exit.isFailure(died) && Cause.isDie(died.cause) && Cause.squash(died.cause)).toBe(defect)
      }))
  })

  it.effect("serves a gzip body that the client decodes", () => {
    const original = "compressed ".repeat(200)
    const transport = Transport.mock(() =>
      new Response(gzipSync(original), { headers: { "content-encoding": "gzip", "content-type": "text/plain" } })
    )
    return withClient(transport, (client) =>
      Effect.gen(function*() {
        const response = yield* client.get("http://api.test/big")
        expect(response.text).toBe(original)
        expect(response.headers["content-encoding"]).toBe("gzip")
      }))
  })
})

// ---- Transport.handler with a fetch-style handler ------------------------------------------------------------------

describe("Transport.handler (fetch-style)", () => {
  it.effect("gives the handler the method, URL, headers and body", () => {
    const echo = Transport.handler(async (request) =>
      Response.json({
        method: request.method,
        url: request.url,
        custom: request.headers.get("x-custom"),
        contentType: request.headers.get("content-type"),
        body: await request.text()
      })
    )
    return withClient(echo, (client) =>
      Effect.gen(function*() {
        const response = yield* client.put("http://app.test/things/1?x=y", {
          headers: { "X-Custom": "yes" },
          json: { done: true }
        })
        expect(yield* response.json).toEqual({
          method: "PUT",
          url: "http://app.test/things/1?x=y",
          custom: "yes",
          contentType: "application/json",
          body: "{\"done\":true}"
        })
        const get = yield* client.get("http://app.test/")
        expect(yield* get.json).toMatchObject({ method: "GET", body: "" })
      }))
  })

  it.effect("drops the body of a response to HEAD", () =>
    withClient(Transport.handler(() => new Response("body", { headers: { "content-length": "4" } })), (client) =>
      Effect.map(client.head("http://app.test/"), (response) => {
        expect(response.headers["content-length"]).toBe("4")
        expect(response.content.length).toBe(0)
      })))

  it.effect("accepts a synchronous handler", () =>
    withClient(Transport.handler(() => new Response("sync")), (client) =>
      Effect.map(client.get("http://app.test/"), (response) => expect(response.text).toBe("sync")))
  )

  it.live("streams a request body to the handler chunk by chunk", () => {
    const chunks: Array<string> = []
    const transport = Transport.handler(async (request) => {
      const reader = request.body!.getReader()
      const decoder = new TextDecoder()
      for (let i = 0; i < 100; i++) {
        const { done, value } = await reader.read()
        if (done) break
        chunks.push(decoder.decode(value))
      }
      return new Response(`got ${chunks.length} chunks`)
    })
    const body = Stream.fromIterable(["alpha ", "beta ", "gamma"]).pipe(
      Stream.tap(() => Effect.sleep("5 millis")),
      Stream.map((text) => utf8.encode(text))
    )
    return withClient(transport, (client) =>
      Effect.gen(function*() {
        const response = yield* client.post("http://app.test/upload", { content: body })
        expect(response.text).toBe("got 3 chunks")
        expect(chunks).toEqual(["alpha ", "beta ", "gamma"])
        expect(response.request.headers["transfer-encoding"]).toBeUndefined()
      }))
  })

  it.live("fails with the request body stream's own error when that stream fails", () => {
    class BodyBroke {
      readonly _tag = "BodyBroke"
    }
    const transport = Transport.handler(async (request) => new Response(await request.text()))
    const body = Stream.concat(Stream.make(utf8.encode("start")), Stream.fail(new BodyBroke()))
    return withClient(transport, (client) =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(client.post("http://app.test/upload", { content: body }))
        expect(Exit.isFailure(exit) && Option.getOrUndefined(Cause.failureOption(exit.cause))).toBeInstanceOf(BodyBroke)
      }))
  })

  it.live("streams the response body: the first chunk arrives before the handler has finished", () =>
    Effect.gen(function*() {
      const firstChunkSeen = yield* Deferred.make<void>()
      let release!: () => void
      const released = new Promise<void>((resolve) => {
        release = resolve
      })
      // The second chunk waits for the test to have seen the first: a buffering transport would never finish.
      const transport = Transport.handler(() =>
        new Response(gatedStream(["first ", "second"], (index) => index === 0 ? Promise.resolve() : released))
      )
      const received = yield* withClient(transport, (client) =>
        Effect.scoped(Effect.gen(function*() {
          const response = yield* client.stream("GET", "http://app.test/events")
          expect(response.status).toBe(200)
          return yield* response.text.pipe(
            Stream.tap(() => Effect.zipRight(Deferred.succeed(firstChunkSeen, void 0), Effect.sync(release))),
            Stream.runCollect
          )
        })))
      expect(Chunk.toReadonlyArray(received)).toEqual(["first ", "second"])
      expect(yield* Deferred.isDone(firstChunkSeen)).toBe(true)
    }).pipe(bounded))

  it.live("closing the scope of a streaming response cancels the handler's body stream", () =>
    Effect.gen(function*() {
      let cancelled = 0
      let aborted = 0
      const transport = Transport.handler((request) => {
        request.signal.addEventListener("abort", () => aborted++)
        return new Response(gatedStream(["one ", "two ", "three"], () => Promise.resolve(), () => cancelled++))
      })
      yield* withClient(transport, (client) =>
        Effect.gen(function*() {
          // Read one chunk and walk away.
          yield* Effect.scoped(Effect.gen(function*() {
            const response = yield* client.stream("GET", "http://app.test/feed")
            yield* Effect.scoped(Effect.flatMap(Stream.toPull(response.stream), (pull) => pull))
          }))
          expect(cancelled).toBe(1)
          expect(aborted).toBe(1)
          // Not reading at all is the same.
          yield* Effect.scoped(client.stream("GET", "http://app.test/feed"))
          expect(cancelled).toBe(2)
          // A body read to its end is not cancelled.
          const whole = yield* client.get("http://app.test/feed")
          expect(whole.text).toBe("one two three")
          expect([cancelled, aborted]).toEqual([2, 2])
        }))
    }).pipe(bounded))

  it.effect("makes the request die with the error the handler threw or rejected with", () => {
    const thrown = new Error("thrown")
    const rejected = new Error("rejected")
    const transport = Transport.handler((request) => {
      if (request.url.endsWith("/throw")) throw thrown
      return Promise.reject(rejected)
    })
    return withClient(transport, (client) =>
      Effect.gen(function*() {
        const a = yield* Effect.exit(client.get("http://app.test/throw"))
        const b = yield* Effect.exit(client.get("http://app.test/reject"))
        expect(Exit.isFailure(a) && Cause.isDie(a.cause) && Cause.squash(a.cause)).toBe(thrown)
        expect(Exit.isFailure(b) && Cause.isDie(b.cause) && Cause.squash(b.cause)).toBe(rejected)
      }))
  })

  it.live("aborts the web request's signal when the client gives up waiting", () =>
    Effect.gen(function*() {
      const aborted = yield* Deferred.make<void>()
      const transport = Transport.handler((request) =>
        new Promise<Response>((_, reject) => {
          request.signal.addEventListener("abort", () => {
            Effect.runSync(Deferred.succeed(aborted, void 0))
            reject(request.signal.reason)
          })
        })
      )
      const exit = yield* withClient(transport, (client) =>
        Effect.exit(client.get("http://app.test/slow", { timeout: { total: "50 millis" } })))
      expect(Exit.isFailure(exit) && Option.getOrUndefined(Cause.failureOption(exit.cause))).toMatchObject({
        _tag: "RequestTimeout"
      })
      yield* Deferred.await(aborted)
    }).pipe(bounded))
})

// ---- Transport.handler with an @effect/platform HttpApp ------------------------------------------------------------

class Unexpected extends Error {}
const routeFailure = new Unexpected("route failed")
const routeDefect = new Unexpected("route died")
/** What the app's routes below saw happen to them. */
const appEvents: Array<string> = []

const app = HttpRouter.empty.pipe(
  HttpRouter.get("/hello", HttpServerResponse.text("hi")),
  HttpRouter.post(
    "/echo",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const body = yield* request.json
      return yield* HttpServerResponse.json({ received: body, contentType: request.headers["content-type"] })
    })
  ),
  HttpRouter.get("/stream", HttpServerResponse.stream(Stream.make("a", "b", "c").pipe(Stream.encodeText))),
  HttpRouter.get(
    "/forever",
    HttpServerResponse.stream(
      Stream.repeatValue("tick ").pipe(
        Stream.encodeText,
        Stream.ensuring(Effect.sync(() => appEvents.push("forever: stream released")))
      )
    )
  ),
  HttpRouter.get(
    "/slow",
    Effect.zipRight(Effect.never, HttpServerResponse.empty()).pipe(
      Effect.onInterrupt(() => Effect.sync(() => appEvents.push("slow: interrupted")))
    )
  ),
  HttpRouter.get("/fail", Effect.fail(routeFailure)),
  HttpRouter.get("/die", Effect.die(routeDefect))
)

describe("Transport.handler (HttpApp)", () => {
  const transport = Transport.handler(app)

  it.effect("answers routes of an HttpRouter", () =>
    withClient(transport, (client) =>
      Effect.gen(function*() {
        const hello = yield* client.get("http://app.test/hello")
        expect([hello.status, hello.reasonPhrase, hello.text]).toEqual([200, "OK", "hi"])
        expect(hello.headers["content-type"]).toMatch(/^text\/plain/)
        const missing = yield* client.get("http://app.test/nowhere")
        expect(missing.status).toBe(404)
      })))

  it.effect("round-trips a JSON body", () =>
    withClient(transport, (client) =>
      Effect.gen(function*() {
        const response = yield* client.post("http://app.test/echo", { json: { n: 1, list: [true, null, "x"] } })
        expect(yield* response.json).toEqual({
          received: { n: 1, list: [true, null, "x"] },
          contentType: "application/json"
        })
        const streamed = yield* client.post("http://app.test/echo", {
          headers: { "content-type": "application/json" },
          content: Stream.make("{\"parts\":", "[1,", "2]}").pipe(Stream.encodeText)
        })
        expect(yield* streamed.json).toEqual({ received: { parts: [1, 2] }, contentType: "application/json" })
      })))

  it.effect("streams a Stream response body", () =>
    withClient(transport, (client) =>
      Effect.scoped(Effect.gen(function*() {
        const response = yield* client.stream("GET", "http://app.test/stream")
        const text = yield* Stream.mkString(response.text)
        expect(text).toBe("abc")
      }))))

  it.effect("makes the request die with the app's own unhandled failure or defect, not a 500", () =>
    withClient(transport, (client) =>
      Effect.gen(function*() {
        const failed = yield* Effect.exit(client.get("http://app.test/fail"))
        const died = yield* Effect.exit(client.get("http://app.test/die"))
        expect(Exit.isFailure(failed) && Cause.isDie(failed.cause) && Cause.squash(failed.cause)).toBe(routeFailure)
        expect(Exit.isFailure(died) && Cause.isDie(died.cause) && Cause.squash(died.cause)).toBe(routeDefect)
      })))

  it.effect("closing a streaming response stops the app's body stream and releases it", () =>
    withClient(transport, (client) =>
      Effect.gen(function*() {
        appEvents.length = 0
        const first = yield* Effect.scoped(Effect.gen(function*() {
          const response = yield* client.stream("GET", "http://app.test/forever")
          return yield* Stream.runHead(response.text)
        }))
        expect(Option.getOrUndefined(first)).toMatch(/^tick/)
        expect(appEvents).toEqual(["forever: stream released"])
      })))

  it.live("interrupts the app when the client gives up waiting", () =>
    withClient(transport, (client) =>
      Effect.gen(function*() {
        appEvents.length = 0
        const exit = yield* Effect.exit(client.get("http://app.test/slow", { timeout: { total: "50 millis" } }))
        expect(Exit.isFailure(exit) && Option.getOrUndefined(Cause.failureOption(exit.cause))).toMatchObject({
          _tag: "RequestTimeout"
        })
        expect(appEvents).toEqual(["slow: interrupted"])
      })).pipe(bounded))
})

// ---- an httpfx error from the handler: a simulated network failure -------------------------------------------------

describe("an httpfx error raised by a mock or an in-process app", () => {
  const readTimeout = () => new HttpError.ReadTimeout({ message: "no byte within 5 seconds" })

  it.effect("fails the request with that typed error, which catchTag sees", () =>
    withClient(Transport.mock(() => Effect.fail(readTimeout())), (client) =>
      Effect.gen(function*() {
        const caught = yield* client.get("http://api.test/slow").pipe(
          Effect.as("answered"),
          Effect.catchTag("ReadTimeout", (error) => Effect.succeed(error.message))
        )
        expect(caught).toBe("GET http://api.test/slow: no byte within 5 seconds")
      })))

  it.effect("gives an error that names no request the one handled, and keeps one that names its own as it is", () => {
    const own = new HttpError.ConnectError({
      message: "GET http://elsewhere.test/: refused",
      request: { method: "GET", url: "http://elsewhere.test/" }
    })
    const transport = Transport.mock((request) =>
      Effect.fail(request.url.endsWith("/own") ? own : new HttpError.ConnectError({ message: "refused", cause: 7 }))
    )
    return withClient(transport, (client) =>
      Effect.gen(function*() {
        const filled = yield* Effect.flip(client.post("http://api.test/filled"))
        expect(filled).toBeInstanceOf(HttpError.ConnectError)
        expect(filled).toMatchObject({
          _tag: "ConnectError",
          message: "POST http://api.test/filled: refused",
          request: { method: "POST", url: "http://api.test/filled" },
          cause: 7
        })
        expect(yield* Effect.flip(client.get("http://api.test/own"))).toBe(own)
      }))
  })

  it.effect("fails typed when the mock throws, dies or rejects with an httpfx error", () => {
    const transport = Transport.mock((request) => {
      if (request.url.endsWith("/throw")) throw new HttpError.ReadError({ message: "reset" })
      if (request.url.endsWith("/die")) return Effect.die(new HttpError.WriteTimeout({ message: "stalled" }))
      return Promise.reject(new HttpError.ConnectTimeout({ message: "no answer" }))
    })
    return withClient(transport, (client) =>
      Effect.gen(function*() {
        const tags = yield* Effect.forEach(["/throw", "/die", "/reject"], (path) =>
          Effect.map(Effect.flip(client.get(`http://api.test${path}`)), (error) => error._tag))
        expect(tags).toEqual(["ReadError", "WriteTimeout", "ConnectTimeout"])
      }))
  })

  it.effect("serves the Response a mock's Promise resolves to, and dies with a rejection that is not ours", () => {
    const boom = new Error("the app broke")
    const transport = Transport.mock((request) =>
      request.url.endsWith("/ok") ? Promise.resolve(new Response("async")) : Promise.reject(boom)
    )
    return withClient(transport, (client) =>
      Effect.gen(function*() {
        expect((yield* client.get("http://api.test/ok")).text).toBe("async")
        const exit = yield* Effect.exit(client.get("http://api.test/broken"))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause) && Cause.squash(exit.cause)).toBe(boom)
      }))
  })

  it.live("is retried as the real error would be: two ConnectErrors, then an answer", () => {
    let calls = 0
    const transport = Transport.mock(() =>
      ++calls <= 2 ? Effect.fail(new HttpError.ConnectError({ message: "refused" })) : new Response("third time")
    )
    return withClient(transport, (client) =>
      Effect.gen(function*() {
        const response = yield* client.get("http://api.test/flaky")
        expect([response.text, calls]).toEqual(["third time", 3])
      }), { retry: { times: 2, backoff: "1 millis" } })
  })

  it.effect("reaches Platform.layer as a RequestError Transport with the httpfx error as its cause", () => {
    const timeout = readTimeout()
    return HttpClient.get("http://api.test/slow").pipe(
      Effect.flip,
      Effect.map((error) => {
        expect(error._tag).toBe("RequestError")
        expect(error._tag === "RequestError" && error.reason).toBe("Transport")
        expect(error.cause).toMatchObject({ _tag: "ReadTimeout", request: { method: "GET" } })
        expect(error.message).toContain("no byte within 5 seconds")
      }),
      Effect.provide(Layer.orDie(Platform.layer({ transport: Transport.mock(() => Effect.fail(timeout)) })))
    )
  })

  it.effect("fails a body read with the httpfx error the body stream errors with", () => {
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        controller.enqueue(utf8.encode("half"))
        controller.error(new HttpError.ReadError({ message: "connection reset mid-body" }))
      }
    })
    return withClient(Transport.mock(() => new Response(body)), (client) =>
      Effect.gen(function*() {
        const read = Effect.flatMap(client.stream("GET", "http://api.test/"), (r) => Stream.runDrain(r.stream))
        const error = yield* Effect.flip(Effect.scoped(read))
        expect(error).toMatchObject({ _tag: "ReadError", message: "GET http://api.test/: connection reset mid-body" })
      }))
  })

  it.effect("fails typed when a fetch handler throws or rejects with an httpfx error", () => {
    const transport = Transport.handler((request) => {
      if (request.url.endsWith("/throw")) throw new HttpError.ConnectError({ message: "refused" })
      return Promise.reject(new HttpError.ReadTimeout({ message: "slow" }))
    })
    return withClient(transport, (client) =>
      Effect.gen(function*() {
        expect(yield* Effect.flip(client.get("http://app.test/throw"))).toMatchObject({
          _tag: "ConnectError",
          message: "GET http://app.test/throw: refused"
        })
        expect((yield* Effect.flip(client.get("http://app.test/reject")))._tag).toBe("ReadTimeout")
      }))
  })

  it.effect("fails typed when an HttpApp fails with an httpfx error", () => {
    const app = HttpRouter.empty.pipe(
      HttpRouter.get("/slow", Effect.fail(new HttpError.ReadTimeout({ message: "slow" })))
    )
    return withClient(Transport.handler(app), (client) =>
      Effect.gen(function*() {
        expect(yield* Effect.flip(client.get("http://app.test/slow"))).toMatchObject({
          _tag: "ReadTimeout",
          message: "GET http://app.test/slow: slow"
        })
      }))
  })
})
