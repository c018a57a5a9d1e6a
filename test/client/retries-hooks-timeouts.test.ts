/**
 * Retries, event hooks and timeouts through the client. Where the length of a wait is the point, an in-memory
 * transport and the TestClock prove it without sleeping; where the wire is the point, loopback servers.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schedule, Stream, TestClock } from "effect"
import { Client, HttpError, Transport } from "httpfx"
import type * as net from "node:net"
import type { Request } from "../../src/internal/message/request.js"
import type { StreamingResponse } from "../../src/internal/message/response.js"
import { StreamBodyResponse } from "../../src/internal/message/response.js"
import { eventually, httpServer, rawServer } from "../utils/servers.js"

// ---- helpers -------------------------------------------------------------------------------------------------------

const bytes = (s: string) => new TextEncoder().encode(s)

interface Answer {
  readonly status?: number
  readonly headers?: Record<string, string>
  readonly body?: string | Stream.Stream<Uint8Array, HttpError.HttpError>
}

/** An in-memory transport: `respond` gets each request and its index; every request handed over is recorded. */
const mockTransport = (respond: (request: Request, index: number) => Effect.Effect<Answer, HttpError.HttpError>) => {
  const seen: Array<Request> = []
  const transport = Transport.make((request) =>
    Effect.suspend(() => {
      const index = seen.length
      seen.push(request)
      return Effect.map(respond(request, index), (answer) =>
        new StreamBodyResponse(
          {
            status: answer.status ?? 200,
            reasonPhrase: "",
            httpVersion: "HTTP/1.1",
            flatHeaders: Object.entries(answer.headers ?? {}).flat(),
            url: request.url,
            request
          },
          answer.body === undefined
            ? Stream.empty
            : typeof answer.body === "string"
            ? Stream.make(bytes(answer.body))
            : answer.body,
          Effect.void,
          performance.now()
        ))
    })
  )
  return { seen, transport }
}

const pathOf = (url: string) => new URL(url).pathname

const readError = (request: Request) =>
  new HttpError.ReadError({ message: "connection reset", request: { method: request.method, url: request.url } })

/** Answers 503 with `retryAfter` for the first `failures` requests, then 200. */
const unavailableThen = (failures: number, retryAfter: () => string | undefined) =>
  mockTransport((_request, index) =>
    Effect.succeed<Answer>(
      index < failures
        ? { status: 503, headers: retryAfter() === undefined ? {} : { "retry-after": retryAfter()! }, body: "busy" }
        : { status: 200, body: "done" }
    )
  )

/** A raw server that resets the first `resets` connections as soon as a request arrives, then answers "ok". */
const resettingServer = (resets: number) =>
  Effect.suspend(() => {
    let connections = 0
    return rawServer((socket: net.Socket) => {
      const index = connections++
      socket.on("data", () => {
        if (index < resets) socket.resetAndDestroy()
        else socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
      })
    })
  })

// ---- retries -------------------------------------------------------------------------------------------------------

describe("Client retries", () => {
  it.scopedLive("off by default: a reset connection fails the request", () =>
    Effect.gen(function*() {
      const server = yield* resettingServer(1)
      const client = yield* Client.make()
      const error = yield* Effect.flip(client.get(`${server.url}/`))
      expect(HttpError.isTransportError(error)).toBe(true)
      expect(server.acceptedSockets()).toBe(1)
    }))

  it.scopedLive("retry { times: 2 }: a GET survives two reset connections", () =>
    Effect.gen(function*() {
      const server = yield* resettingServer(2)
      const client = yield* Client.make({ retry: { times: 2, backoff: "10 millis" } })
      const response = yield* client.get(`${server.url}/`)
      expect(response.text).toBe("ok")
      expect(server.acceptedSockets()).toBe(3)
    }))

  it.scopedLive("retry { times: 1 } is not enough for two resets; POST is never retried", () =>
    Effect.gen(function*() {
      const once = yield* resettingServer(2)
      const client = yield* Client.make({ retry: { times: 1, backoff: "10 millis" } })
      const error = yield* Effect.flip(client.get(`${once.url}/`))
      expect(HttpError.isTransportError(error)).toBe(true)
      expect(once.acceptedSockets()).toBe(2)

      const post = yield* resettingServer(1)
      const posting = yield* Client.make({ retry: { times: 5, backoff: "10 millis" } })
      expect((yield* Effect.flip(posting.post(`${post.url}/`, { content: "x" })))._tag).toMatch(/Error$/)
      expect(post.acceptedSockets()).toBe(1)
      // PUT is idempotent: retried.
      expect((yield* posting.put(`${post.url}/`, { content: "x" })).text).toBe("ok")
    }))

  it.effect("transport errors are retried with exponential backoff from `backoff`", () =>
    Effect.gen(function*() {
      const { seen, transport } = mockTransport((request, index) =>
        index < 3 ? Effect.fail(readError(request)) : Effect.succeed({ body: "finally" })
      )
      const client = yield* Client.make({ transport, retry: { times: 3, backoff: "1 second" } })
      const fiber = yield* Effect.fork(client.get("http://api.test/"))
      yield* TestClock.adjust("999 millis")
      expect(seen.length).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(seen.length).toBe(2)
      yield* TestClock.adjust("2 seconds")
      expect(seen.length).toBe(3)
      yield* TestClock.adjust("3999 millis")
      expect(seen.length).toBe(3)
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(fiber)).text).toBe("finally")
      expect(seen.length).toBe(4)
    }).pipe(Effect.scoped))

  it.effect("503 with Retry-After in seconds: the retry waits that long (not backoff on top of it)", () =>
    Effect.gen(function*() {
      const { seen, transport } = unavailableThen(1, () => "10")
      const client = yield* Client.make({ transport, retry: { times: 2, backoff: "1 second" } })
      const fiber = yield* Effect.fork(client.get("http://api.test/"))
      yield* TestClock.adjust("9999 millis")
      expect(seen.length).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(seen.length).toBe(2)
      const response = yield* Fiber.join(fiber)
      expect(response.status).toBe(200)
      expect(response.text).toBe("done")
      expect(seen.length).toBe(2)
    }).pipe(Effect.scoped))

  it.effect("429 with Retry-After as an HTTP-date: the retry waits until then, by Effect's clock", () =>
    Effect.gen(function*() {
      // The date is read against the clock the wait is slept on: a TestClock set to a day in 2026, not the machine's.
      const now = Date.parse("2026-03-01T12:00:00.400Z")
      yield* TestClock.setTime(now)
      // An HTTP-date is whole seconds, so the wait is between 29 and 30 seconds.
      const { seen, transport } = mockTransport((_request, index) =>
        Effect.succeed(
          index === 0
            ? { status: 429, headers: { "retry-after": new Date(now + 30_000).toUTCString() } }
            : { status: 200, body: "done" }
        )
      )
      const client = yield* Client.make({ transport, retry: { times: 1, backoff: "1 millis" } })
      const fiber = yield* Effect.fork(client.get("http://api.test/"))
      yield* TestClock.adjust("28 seconds")
      expect(seen.length).toBe(1)
      yield* TestClock.adjust("2 seconds")
      expect((yield* Fiber.join(fiber)).text).toBe("done")
    }).pipe(Effect.scoped))

  it.effect("when retries run out, the last 503 is returned; POST gets no retry on 503", () =>
    Effect.gen(function*() {
      const { seen, transport } = unavailableThen(10, () => "1")
      const client = yield* Client.make({ transport, retry: { times: 2, backoff: "1 millis" } })
      const fiber = yield* Effect.fork(client.get("http://api.test/"))
      yield* TestClock.adjust("1 minute")
      const response = yield* Fiber.join(fiber)
      expect(response.status).toBe(503)
      expect(response.text).toBe("busy")
      expect(seen.length).toBe(3)

      const post = yield* client.post("http://api.test/", { content: "x" })
      expect(post.status).toBe(503)
      expect(seen.length).toBe(4)
    }).pipe(Effect.scoped))

  it.scopedLive("streaming: a 503 being retried gives its connection back first (maxConnections 1)", () =>
    Effect.gen(function*() {
      let requests = 0
      const server = yield* httpServer((_req, res) => {
        if (requests++ === 0) {
          res.writeHead(503, { "Retry-After": "0", "Content-Length": String(256 * 1024) })
          res.end(Buffer.alloc(256 * 1024, 33))
        } else {
          res.end("recovered")
        }
      })
      const client = yield* Client.make({
        maxConnections: 1,
        timeout: { pool: 2_000 },
        retry: { times: 1, backoff: "10 millis" }
      })
      const text = yield* Effect.scoped(
        Effect.flatMap(client.stream("GET", `${server.url}/`), (response) => Stream.mkString(response.text))
      )
      expect(text).toBe("recovered")
      expect(requests).toBe(2)
    }))

  it.effect("a retry sends the cookies the failed attempt's response set (a load balancer's sticky cookie)", () =>
    Effect.gen(function*() {
      const { seen, transport } = mockTransport((_request, index) =>
        Effect.succeed<Answer>(
          index === 0
            ? { status: 503, headers: { "set-cookie": "backend=b2; Path=/", "retry-after": "1" } }
            : { status: 200, body: "ok" }
        )
      )
      const client = yield* Client.make({ transport, retry: { times: 1, backoff: "1 millis" } })
      const fiber = yield* Effect.fork(client.get("http://api.test/"))
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).text).toBe("ok")
      expect(seen.map((r) => r.headers["cookie"])).toEqual([undefined, "backend=b2"])
    }).pipe(Effect.scoped))

  it.effect("a PUT whose body is a Stream (not replayable) is not retried", () =>
    Effect.gen(function*() {
      const { seen, transport } = mockTransport((request) => Effect.fail(readError(request)))
      const client = yield* Client.make({ transport, retry: { times: 3, backoff: "1 millis" } })
      const error = yield* Effect.flip(client.put("http://api.test/", { content: Stream.make(bytes("once")) }))
      expect(error._tag).toBe("ReadError")
      expect(seen.length).toBe(1)
      // The same PUT with bytes is retried.
      const fiber = yield* Effect.fork(Effect.flip(client.put("http://api.test/", { content: "again" })))
      yield* TestClock.adjust("1 minute")
      expect((yield* Fiber.join(fiber))._tag).toBe("ReadError")
      expect(seen.length).toBe(5)
    }).pipe(Effect.scoped))

  it.effect("a Schedule is accepted as the retry policy", () =>
    Effect.gen(function*() {
      const { seen, transport } = mockTransport((request, index) =>
        index < 2 ? Effect.fail(readError(request)) : Effect.succeed({ body: "ok" })
      )
      const retry = Schedule.intersect(Schedule.spaced("5 seconds"), Schedule.recurs(2))
      const client = yield* Client.make({ transport, retry })
      const fiber = yield* Effect.fork(client.get("http://api.test/"))
      yield* TestClock.adjust("4 seconds")
      expect(seen.length).toBe(1)
      yield* TestClock.adjust("1 second")
      expect(seen.length).toBe(2)
      yield* TestClock.adjust("5 seconds")
      expect((yield* Fiber.join(fiber)).text).toBe("ok")
    }).pipe(Effect.scoped))

  it.effect("errors that are not the transport's (a 404, a bad URL) are not retried", () =>
    Effect.gen(function*() {
      const { seen, transport } = mockTransport(() => Effect.succeed({ status: 404 }))
      const client = yield* Client.make({ transport, retry: { times: 3, backoff: "1 millis" } })
      expect((yield* client.get("http://api.test/")).status).toBe(404)
      expect(seen.length).toBe(1)
    }).pipe(Effect.scoped))
})

// ---- event hooks ---------------------------------------------------------------------------------------------------

describe("Client event hooks", () => {
  it.effect("request hooks see the Request before it is sent, response hooks the head before the body; in order", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const { transport } = mockTransport((request) =>
        Effect.sync(() => {
          events.push(`transport ${request.method} ${request.url}`)
          return {
            headers: { "x-answer": "42" },
            body: Stream.fromEffect(Effect.sync(() => {
              events.push("body read")
              return bytes("payload")
            }))
          }
        })
      )
      const client = yield* Client.make({
        transport,
        headers: { "X-Client": "c" },
        eventHooks: {
          request: [
            (request) =>
              Effect.sync(() => events.push(`request hook 1 ${request.method} ${request.headers["x-client"]}`)),
            (request) => Effect.sync(() => events.push(`request hook 2 ${request.url}`))
          ],
          response: [
            (response) =>
              Effect.sync(() => events.push(`response hook 1 ${response.status} ${response.headers["x-answer"]}`)),
            (response) => Effect.sync(() => events.push(`response hook 2 ${response.request.url}`))
          ]
        }
      })
      const response = yield* client.post("http://api.test/p", { content: "x" })
      expect(response.text).toBe("payload")
      expect(events).toEqual([
        "request hook 1 POST c",
        "request hook 2 http://api.test/p",
        "transport POST http://api.test/p",
        "response hook 1 200 42",
        "response hook 2 http://api.test/p",
        "body read"
      ])
    }).pipe(Effect.scoped))

  it.effect("a response hook gets a StreamingResponse whose body is still unread", () =>
    Effect.gen(function*() {
      const { transport } = mockTransport(() => Effect.succeed({ body: "streamed" }))
      let captured: StreamingResponse | undefined
      const client = yield* Client.make({
        transport,
        eventHooks: { response: [(response) => Effect.sync(() => void (captured = response))] }
      })
      yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* client.stream("GET", "http://api.test/")
        // The hook saw the very response the caller streams from.
        expect(captured).toBe(response)
        expect(yield* Stream.mkString(response.text)).toBe("streamed")
      }))
    }).pipe(Effect.scoped))

  it.scopedLive("hooks run for every hop of a redirect chain, in order", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        const n = Number(req.url!.slice(1))
        if (n > 0) res.writeHead(302, { Location: `/${n - 1}` })
        res.end(`at ${n}`)
      })
      const events: Array<string> = []
      const client = yield* Client.make({
        followRedirects: true,
        eventHooks: {
          request: [(request) => Effect.sync(() => events.push(`> ${request.method} ${pathOf(request.url)}`))],
          response: [(response) => Effect.sync(() => events.push(`< ${response.status} ${pathOf(response.url)}`))]
        }
      })
      const response = yield* client.get(`${server.url}/2`)
      expect(response.text).toBe("at 0")
      expect(events).toEqual(["> GET /2", "< 302 /2", "> GET /1", "< 302 /1", "> GET /0", "< 200 /0"])
    }))

  it.scopedLive("a hook failing with an HttpError fails the request; nothing stays pinned", () =>
    Effect.gen(function*() {
      let requests = 0
      const server = yield* httpServer((_req, res) => {
        requests++
        res.end("x".repeat(256 * 1024))
      })
      const refuse = new HttpError.LocalProtocolError({ message: "hook says no" })
      const byRequestHook = yield* Client.make({ eventHooks: { request: [() => Effect.fail(refuse)] } })
      expect(yield* Effect.flip(byRequestHook.get(`${server.url}/`))).toBe(refuse)
      expect(requests).toBe(0)

      const client = yield* Client.make({
        maxConnections: 1,
        timeout: { pool: 2_000 },
        eventHooks: {
          response: [(response) =>
            new URL(response.url).pathname === "/refused"
              ? Effect.fail(new HttpError.RemoteProtocolError({ message: "refused by hook" }))
              : Effect.void]
        }
      })
      const error = yield* Effect.flip(client.get(`${server.url}/refused`))
      expect(error._tag).toBe("RemoteProtocolError")
      expect(error.message).toBe("refused by hook")
      const streamed = yield* Effect.flip(Effect.scoped(client.stream("GET", `${server.url}/refused`)))
      expect(streamed._tag).toBe("RemoteProtocolError")
      // The unread bodies of the refused responses did not keep the only connection.
      expect((yield* client.get(`${server.url}/fine`)).content.length).toBe(256 * 1024)
    }))

  it.scopedLive("a response hook failing a stream() releases the response even while the caller's scope lives on", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("x".repeat(256 * 1024)))
      const client = yield* Client.make({
        maxConnections: 1,
        timeout: { pool: 1_000 },
        eventHooks: {
          response: [(response) =>
            response.url.endsWith("/refused")
              ? Effect.fail(new HttpError.RemoteProtocolError({ message: "refused by hook" }))
              : Effect.void]
        }
      })
      // No inner scope: the response would belong to the test's scope, which stays open.
      expect((yield* Effect.flip(client.stream("GET", `${server.url}/refused`)))._tag).toBe("RemoteProtocolError")
      expect((yield* client.get(`${server.url}/fine`)).content.length).toBe(256 * 1024)
    }))

  it.scopedLive("a response hook calling raiseForStatus turns 4xx/5xx into HttpStatusError", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        res.statusCode = req.url === "/missing" ? 404 : 200
        res.end()
      })
      const client = yield* Client.make({
        eventHooks: { response: [(response) => Effect.asVoid(response.raiseForStatus)] }
      })
      expect((yield* client.get(`${server.url}/present`)).status).toBe(200)
      const error = yield* Effect.flip(client.get(`${server.url}/missing`))
      expect(error._tag).toBe("HttpStatusError")
      if (error._tag === "HttpStatusError") expect(error.response.status).toBe(404)
    }))
})

// ---- timeouts ------------------------------------------------------------------------------------------------------

/** A server that answers after `delayMs`, or never when it is undefined. */
const slowServer = (delayMs: number | undefined) =>
  httpServer((_req, res) => {
    if (delayMs === undefined) return
    const timer = setTimeout(() => res.end("late"), delayMs)
    res.on("close", () => clearTimeout(timer))
  })

describe("Client timeouts", () => {
  it.scopedLive("the client's timeout applies to its requests (ReadTimeout)", () =>
    Effect.gen(function*() {
      const server = yield* slowServer(undefined)
      const client = yield* Client.make({ timeout: "150 millis" })
      const error = yield* Effect.flip(client.get(`${server.url}/`))
      expect(error._tag).toBe("ReadTimeout")
      expect(HttpError.isTimeout(error)).toBe(true)
      yield* eventually(() => server.openSockets() === 0, 2_000, "the timed-out connection to close")
    }))

  it.scopedLive("a request's timeout overrides the client's, either way", () =>
    Effect.gen(function*() {
      const server = yield* slowServer(300)
      const strict = yield* Client.make({ timeout: "100 millis" })
      expect((yield* strict.get(`${server.url}/`, { timeout: "5 seconds" })).text).toBe("late")
      expect((yield* strict.get(`${server.url}/`, { timeout: { read: "5 seconds" } })).text).toBe("late")
      const lenient = yield* Client.make()
      expect((yield* Effect.flip(lenient.get(`${server.url}/`, { timeout: { read: "100 millis" } })))._tag).toBe(
        "ReadTimeout"
      )
    }))

  it.scopedLive("null disables the timeouts", () =>
    Effect.gen(function*() {
      const server = yield* slowServer(300)
      const strict = yield* Client.make({ timeout: "100 millis" })
      expect((yield* strict.get(`${server.url}/`, { timeout: null })).text).toBe("late")
      const none = yield* Client.make({ timeout: null })
      expect((yield* none.get(`${server.url}/`)).text).toBe("late")
    }))

  it.scopedLive("total bounds a body that keeps dripping (each byte within the read timeout)", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => {
        res.writeHead(200, { "Content-Type": "text/plain" })
        const timer = setInterval(() => res.write("."), 20)
        res.on("close", () => clearInterval(timer))
      })
      const client = yield* Client.make({ timeout: { read: "1 second", total: "300 millis" } })
      const error = yield* Effect.flip(client.get(`${server.url}/drip`))
      expect(error._tag).toBe("RequestTimeout")
      expect(error.message).toContain("300 ms")
      expect(error.request?.url).toBe(`${server.url}/drip`)
      // Per request too, and the dripping connection is closed, not kept.
      const perRequest = yield* Effect.flip(Client.make().pipe(
        Effect.flatMap((c) => c.get(`${server.url}/drip`, { timeout: { total: "200 millis" } }))
      ))
      expect(perRequest._tag).toBe("RequestTimeout")
      yield* eventually(() => server.openSockets() === 0, 2_000, "the dripping connections to close")
    }))

  it.effect("total covers a whole redirect chain", () =>
    Effect.gen(function*() {
      const { seen, transport } = mockTransport((request) => {
        const n = Number(new URL(request.url).pathname.slice(1))
        return Effect.as(
          Effect.sleep("1 second"),
          n > 0 ? { status: 302, headers: { location: `/${n - 1}` } } : { body: "end" }
        )
      })
      const client = yield* Client.make({ transport, followRedirects: true, timeout: { total: "3500 millis" } })
      const fiber = yield* Effect.fork(Effect.exit(client.get("http://api.test/10")))
      yield* TestClock.adjust("3 seconds")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("500 millis")
      const exit = yield* Fiber.join(fiber)
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag).toBe("RequestTimeout")
      expect(seen.length).toBe(4)
      // Each hop within it, the chain completes: 3 hops in 3 seconds.
      const short = yield* Effect.fork(client.get("http://api.test/2"))
      yield* TestClock.adjust("3 seconds")
      expect((yield* Fiber.join(short)).text).toBe("end")
    }).pipe(Effect.scoped))

  it.effect("total covers reading a slow body in memory; a request's timeout: null lifts it", () =>
    Effect.gen(function*() {
      const slowBody = Stream.repeatEffect(Effect.as(Effect.sleep("1 second"), bytes("."))).pipe(Stream.take(10))
      const { transport } = mockTransport(() => Effect.succeed({ body: slowBody }))
      const client = yield* Client.make({ transport, timeout: { total: "5 seconds" } })
      const bounded = yield* Effect.fork(Effect.flip(client.get("http://api.test/")))
      yield* TestClock.adjust("5 seconds")
      expect((yield* Fiber.join(bounded))._tag).toBe("RequestTimeout")

      const unbounded = yield* Effect.fork(client.get("http://api.test/", { timeout: null }))
      yield* TestClock.adjust("11 seconds")
      expect((yield* Fiber.join(unbounded)).text).toBe("..........")

      const override = yield* Effect.fork(client.get("http://api.test/", { timeout: { total: "20 seconds" } }))
      yield* TestClock.adjust("11 seconds")
      expect((yield* Fiber.join(override)).text).toBe("..........")
    }).pipe(Effect.scoped))

  it.effect("total bounds stream() while it waits for the head", () =>
    Effect.gen(function*() {
      const { transport } = mockTransport(() => Effect.as(Effect.sleep("10 seconds"), { body: "late" }))
      const client = yield* Client.make({ transport, timeout: { total: "2 seconds" } })
      const fiber = yield* Effect.fork(Effect.flip(Effect.scoped(client.stream("GET", "http://api.test/"))))
      yield* TestClock.adjust("2 seconds")
      expect((yield* Fiber.join(fiber))._tag).toBe("RequestTimeout")
    }).pipe(Effect.scoped))
})
