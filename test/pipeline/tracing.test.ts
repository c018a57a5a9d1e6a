/**
 * The tracing steps (pipeline/tracing.ts) under a tracer that keeps its spans, and under Effect's own: which spans a
 * call makes, what the request carries as its traceparent, the phase events, and the head encoding of the one field
 * the client adds to its once-serialised defaults.
 */
import * as Headers from "@effect/platform/Headers"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option, Tracer } from "effect"
import { Auth, Client, Transport } from "httpfx"
import type { Response } from "httpfx"
import { CHUNKED, encodeHead, NO_BODY, serialiseOnce, withField } from "../../src/internal/wire/requestHead.js"
import { httpServer } from "../utils/servers.js"
import { recorder } from "../utils/tracer.js"

/** A server answering 200 that keeps each request's raw header lines. */
const headerServer = () => {
  const requests: Array<ReadonlyArray<string>> = []
  return Effect.map(
    httpServer((req, res) => {
      requests.push(req.rawHeaders)
      req.resume()
      res.end("ok")
    }),
    (info) => ({ ...info, requests })
  )
}

const traceparents = (raw: ReadonlyArray<string>) =>
  raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === "traceparent")

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/

describe("tracing under Effect's own tracer", () => {
  it.scoped("a caller's span is carried: its trace id, a new span id, sampled; without one, no traceparent", () =>
    Effect.gen(function*() {
      const server = yield* headerServer()
      const client = yield* Client.make()
      const caller = yield* Effect.withSpan(
        Effect.zipLeft(Effect.orDie(Effect.currentSpan), client.get(server.url)),
        "caller"
      )
      const [value] = traceparents(server.requests[0]!)
      const [, traceId, spanId] = TRACEPARENT.exec(value!)!
      expect(traceId).toBe(caller.traceId)
      expect(spanId).not.toBe(caller.spanId)
      // No caller's span, nothing that records: there is no trace to carry.
      yield* client.get(server.url)
      expect(traceparents(server.requests[1]!)).toEqual([])
    }))

  it.scoped("each hop of a redirect carries its own span id in the caller's trace", () =>
    Effect.gen(function*() {
      const requests: Array<ReadonlyArray<string>> = []
      const server = yield* httpServer((req, res) => {
        requests.push(req.rawHeaders)
        req.resume()
        if (req.url === "/from") res.writeHead(302, { location: "/to" })
        res.end()
      })
      const client = yield* Client.make({ followRedirects: true })
      const caller = yield* Effect.withSpan(
        Effect.zipLeft(Effect.orDie(Effect.currentSpan), client.get(`${server.url}/from`)),
        "caller"
      )
      const ids = requests.map((raw) => TRACEPARENT.exec(traceparents(raw)[0]!)!)
      expect(ids.map((match) => match[1])).toEqual([caller.traceId, caller.traceId])
      expect(ids[0]![2]).not.toBe(ids[1]![2])
    }))

  it.scoped("the traceparent is one more line after the client's default headers, which go as before", () =>
    Effect.gen(function*() {
      const server = yield* headerServer()
      const client = yield* Client.make({ headers: { "x-default": "d" } })
      yield* Effect.withSpan(client.get(server.url), "caller")
      yield* client.get(server.url)
      const [traced, plain] = server.requests
      const names = (raw: ReadonlyArray<string>) => raw.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase())
      expect(names(traced!)).toEqual([...names(plain!).filter((name) => name !== "host"), "traceparent", "host"])
      expect(names(plain!)).not.toContain("traceparent")
    }))
})

describe("tracing under a tracer that records", () => {
  it.scoped("a call is a client span http.client <METHOD> under the caller's; its traceparent is the span's", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recorder
      const server = yield* headerServer()
      const client = yield* Client.make()
      yield* Effect.withSpan(client.request("PURGE", server.url), "caller").pipe(Effect.withTracer(tracer))
      const [caller, call] = spans
      expect(spans.length).toBe(2)
      expect(call!.name).toBe("http.client HTTP")
      expect(call!.kind).toBe("client")
      expect(Option.getOrUndefined(call!.parent)).toBe(caller)
      expect(call!.attributes.get("http.request.method")).toBe("_OTHER")
      expect(call!.attributes.get("http.request.method_original")).toBe("PURGE")
      expect(call!.status._tag).toBe("Ended")
      expect(traceparents(server.requests[0]!)).toEqual([`00-${call!.traceId}-${call!.spanId}-01`])
    }))

  it.scoped("a request that carries a traceparent keeps its own; its span is recorded all the same", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recorder
      const server = yield* headerServer()
      const client = yield* Client.make()
      const own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
      yield* client.get(server.url, { headers: { traceparent: own } }).pipe(Effect.withTracer(tracer))
      expect(traceparents(server.requests[0]!)).toEqual([own])
      expect(spans.map((span) => span.name)).toEqual(["http.client GET"])
    }))

  it.scoped("Effect.withTracerEnabled(false): no span, no traceparent", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recorder
      const server = yield* headerServer()
      const client = yield* Client.make()
      yield* client.get(server.url).pipe(Effect.withTracerEnabled(false), Effect.withTracer(tracer))
      expect(spans).toEqual([])
      expect(traceparents(server.requests[0]!)).toEqual([])
      // Enabled, the same call has both.
      yield* client.get(server.url).pipe(Effect.withTracer(tracer))
      expect(spans.length).toBe(1)
      expect(traceparents(server.requests[1]!).length).toBe(1)
    }))

  it.scoped("the spans carry the caller's Effect.annotateSpans", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recorder
      const server = yield* headerServer()
      const client = yield* Client.make()
      yield* client.get(server.url).pipe(Effect.annotateSpans("tenant", "t1"), Effect.withTracer(tracer))
      expect(spans[0]!.attributes.get("tenant")).toBe("t1")
    }))

  it.scoped("hooks and middleware see the span of the request they are part of as the current span", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recorder
      const server = yield* headerServer()
      const seen: Array<string> = []
      const client = yield* Client.make({
        eventHooks: {
          request: [() => Effect.map(Effect.orDie(Effect.currentSpan), (span) => void seen.push(span.spanId))]
        },
        middleware: [(next) =>
          Transport.make((request) =>
            Effect.zipRight(
              Effect.map(Effect.orDie(Effect.currentSpan), (span) => void seen.push(span.spanId)),
              next.handle(request)
            )
          )]
      })
      yield* client.get(server.url).pipe(Effect.withTracer(tracer))
      expect(spans.length).toBe(1)
      expect(seen).toEqual([spans[0]!.spanId, spans[0]!.spanId])
    }))

  it.scoped("an Auth's second round trip is a hop span with resend_count 1", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recorder
      const server = yield* httpServer((req, res) => {
        req.resume()
        res.writeHead(req.headers.authorization === undefined ? 401 : 200)
        res.end()
      })
      const auth = Auth.make((request, send) =>
        Effect.flatMap(send(request), (response) =>
          response.status !== 401
            ? Effect.succeed(response)
            : send({ ...request, headers: Headers.set(request.headers, "authorization", "Bearer t") }))
      )
      const client = yield* Client.make({ auth })
      const response = yield* client.get(server.url).pipe(Effect.withTracer(tracer))
      expect(response.status).toBe(200)
      const [call, ...hops] = spans
      expect(hops.map((span) => Option.getOrUndefined(span.parent))).toEqual([call, call])
      expect(hops.map((span) => span.attributes.get("http.request.resend_count"))).toEqual([undefined, 1])
      expect(hops.map((span) => span.attributes.get("http.response.status_code"))).toEqual([401, 200])
    }))

  it.scoped("one event per phase that happened, at its end: the request's start plus the phases so far", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recorder
      const server = yield* headerServer()
      // The measured timings are another step's: here a response reports some of its own.
      const timings = {
        poolWait: Duration.millis(1),
        dns: Duration.zero,
        connect: Duration.millis(2),
        tls: Duration.zero,
        send: Duration.micros(500n),
        firstByte: Duration.millis(3),
        download: Duration.millis(4)
      }
      const timed = (response: Response.StreamingResponse) =>
        Object.defineProperty(response, "timings", { value: timings })
      const client = yield* Client.make({
        middleware: [(next) => Transport.make((request) => Effect.map(next.handle(request), timed))]
      })
      // Streamed: the span ends with the response the middleware gave (a buffered call's is read from it anew).
      yield* Effect.scoped(client.stream("GET", server.url)).pipe(Effect.withTracer(tracer))
      const span = spans[0]! as Tracer.Span & { readonly events: Array<[string, bigint, unknown]> }
      const start = span.status.startTime
      expect(span.events.map(([name, at]) => [name, at - start])).toEqual([
        ["poolWait", 1_000_000n],
        ["connect", 3_000_000n],
        ["send", 3_500_000n],
        ["firstByte", 6_500_000n],
        ["download", 10_500_000n]
      ])
    }))
})

describe("phase events from measured timings", () => {
  it.live("a new connection: connect, send, firstByte and download events, in order, inside the span", () =>
    Effect.gen(function*() {
      const { spans, tracer } = yield* recorder
      const server = yield* headerServer()
      const client = yield* Client.make()
      const response = yield* client.get(server.url).pipe(Effect.withTracer(tracer))
      const span = spans[0]! as Tracer.Span & { readonly events: Array<[string, bigint, unknown]> }
      const names = span.events.map(([name]) => name)
      for (const phase of ["connect", "send", "firstByte", "download"]) expect(names).toContain(phase)
      expect(Duration.toNanos(response.timings.connect).pipe(Option.getOrThrow)).toBeGreaterThan(0n)
      const times = span.events.map(([, at]) => at)
      expect([...times].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(times)
      expect(span.status._tag).toBe("Ended")
      if (span.status._tag === "Ended") {
        expect(times[0]!).toBeGreaterThanOrEqual(span.status.startTime)
        // the events are placed from the span's start by the measured durations: within a millisecond of its end
        expect(times[times.length - 1]!).toBeLessThanOrEqual(span.status.endTime + 1_000_000n)
      }
    }).pipe(Effect.scoped))
})

describe("withField", () => {
  it("gives the head that serialising the whole object would", () => {
    const defaults = Headers.fromInput({ "user-agent": "ua", accept: "*/*" })
    serialiseOnce(defaults)
    const added = withField(defaults, "traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    const fresh = Headers.fromInput({ ...defaults, traceparent: added.traceparent! })
    for (const [method, length] of [["GET", NO_BODY], ["POST", 3], ["PUT", CHUNKED]] as const) {
      expect(encodeHead(method, "/p", "h", added, length)).toEqual(encodeHead(method, "/p", "h", fresh, length))
    }
    // Derived objects (a step that sets one more field) are serialised anew, with both fields.
    const derived = Headers.set(added, "x-more", "1")
    expect(encodeHead("GET", "/p", "h", derived, NO_BODY)).toContain("traceparent: 00-0af7651916cd")
    expect(encodeHead("GET", "/p", "h", derived, NO_BODY)).toContain("x-more: 1\r\n")
  })
})
