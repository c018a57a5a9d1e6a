/**
 * Platform.layer traces its requests as @effect/platform's own clients do: the same programs run on
 * NodeHttpClient.layer and on Platform.layer under a recording tracer, and the spans (name, kind, attributes,
 * parent, outcome) and the trace fields the server saw must be the same. Platform.layer builds its HttpClient
 * without platform's `HttpClient.make` (which makes an AbortController per request), so nothing else holds this.
 *
 * Not compared: ids, times, the response fields a connection answers with (`connection`, `keep-alive`, `date`:
 * NodeHttpClient.layer's agent does not keep connections alive, httpfx does), and httpfx's own `http.client` span,
 * which the contract keeps under Platform.layer (where it sits is pinned here; what it holds in
 * test/pipeline/tracing.test.ts).
 */
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Tracer } from "effect"
import { Platform } from "httpfx"
import { httpServer } from "../utils/servers.js"
import { recorder } from "../utils/tracer.js"

interface SeenSpan {
  readonly name: string
  readonly kind: Tracer.SpanKind
  readonly parent: string | undefined
  readonly attributes: Record<string, unknown>
  readonly outcome: string
}

const ANSWERS_TO_CONNECTION = /^http\.response\.header\.(connection|keep-alive|date)$/

/** The spans a recording tracer kept, as compared: read once they have ended. */
const recordingTracer = Effect.map(recorder, ({ spans, tracer }) => {
  /** platform's spans and the caller's */
  const seen = (): Array<SeenSpan> =>
    spans.filter((span) => !isHttpfxSpan(span)).map((span) => ({
      name: span.name,
      kind: span.kind,
      parent: Option.match(span.parent, {
        onNone: () => undefined,
        onSome: (parent) => parent._tag === "Span" ? parent.name : "external"
      }),
      attributes: Object.fromEntries([...span.attributes].filter(([name]) => !ANSWERS_TO_CONNECTION.test(name))),
      outcome: span.status._tag === "Ended" ? (Exit.isSuccess(span.status.exit) ? "success" : "failure") : "open"
    }))
  return { tracer, spans, seen }
})

/** httpfx's own span: a client span without `url.path`, which platform's always has and httpfx never records */
const isHttpfxSpan = (span: Tracer.Span): boolean => span.kind === "client" && !span.attributes.has("url.path")

const parentName = (span: Tracer.Span): string | undefined =>
  Option.isSome(span.parent) && span.parent.value._tag === "Span" ? span.parent.value.name : undefined

/** A server that keeps the trace fields of each request and answers with fields that are redacted in spans. */
const traceServer = Effect.gen(function*() {
  const fields: Array<{ traceparent?: string; b3?: string }> = []
  const server = yield* httpServer((req, res) => {
    req.resume()
    fields.push({
      ...(req.headers.traceparent === undefined ? {} : { traceparent: String(req.headers.traceparent) }),
      ...(req.headers.b3 === undefined ? {} : { b3: String(req.headers.b3) })
    })
    res.writeHead(200, { "content-type": "text/plain", "set-cookie": "session=secret", "x-answer": "42" })
    res.end("ok")
  })
  return { url: server.url, fields }
})

type Program = Effect.Effect<unknown, unknown, HttpClient.HttpClient>

/** `program` on NodeHttpClient.layer, then on Platform.layer(): the spans each made and the trace fields sent. */
const sideBySide = (server: Effect.Effect.Success<typeof traceServer>, program: Program) =>
  Effect.gen(function*() {
    const run = (layer: Layer.Layer<HttpClient.HttpClient>) =>
      Effect.gen(function*() {
        const recording = yield* recordingTracer
        server.fields.splice(0)
        const exit = yield* Effect.exit(Effect.provide(program, layer).pipe(Effect.withTracer(recording.tracer)))
        return {
          exit: exit._tag,
          spans: recording.seen(),
          fields: server.fields.map((sent) => Object.keys(sent)),
          raw: { spans: recording.spans, fields: [...server.fields] }
        }
      })
    return { node: yield* run(NodeHttpClient.layer), httpfx: yield* run(Platform.layer()) }
  })

const textOf = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.flatMap(HttpClient.execute(request), (response) => response.text)

/** A GET, read as text, through the HttpClient in the context as `f` makes it over. */
const getWith = (f: (client: HttpClient.HttpClient) => HttpClient.HttpClient, url: string) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => Effect.flatMap(f(client).get(url), (response) => response.text))

describe("Platform.layer's spans are platform's", () => {
  it.scoped("a GET under a parent span: name, kind, attributes (redacted), parent and outcome", () =>
    Effect.gen(function*() {
      const server = yield* traceServer
      const request = HttpClientRequest.get(`${server.url}/path?q=1`).pipe(
        HttpClientRequest.setUrlParam("n", "2"),
        HttpClientRequest.setHeaders({ authorization: "Bearer secret", "x-mine": "yes" })
      )
      const { httpfx, node } = yield* sideBySide(server, Effect.withSpan(textOf(request), "parent"))
      expect(httpfx.spans).toEqual(node.spans)
      expect(httpfx.fields).toEqual(node.fields)
      // The contract keeps httpfx's own span under Platform.layer: beside platform's, under the caller's span, as
      // Effect's own HttpServer "tracing" test expects of every client span of a call.
      const own = httpfx.raw.spans.filter(isHttpfxSpan)
      expect(own.map((span) => [span.name, parentName(span)])).toEqual([["http.client GET", "parent"]])
      expect(own[0]!.attributes.get("network.protocol.version")).toBe("1.1")
      expect(own[0]!.traceId).toBe(httpfx.raw.spans.find((span) => span.name === "parent")!.traceId)
      const client = httpfx.spans.find((span) => span.kind === "client")!
      expect(client).toMatchObject({
        name: "http.client GET",
        parent: "parent",
        outcome: "success",
        attributes: {
          "http.request.method": "GET",
          "url.path": "/path",
          "url.query": "q=1&n=2",
          "url.scheme": "http",
          "http.request.header.authorization": "<redacted>",
          "http.request.header.x-mine": "yes",
          "http.response.status_code": 200,
          "http.response.header.set-cookie": "<redacted>",
          "http.response.header.x-answer": "42"
        }
      })
    }))

  it.scoped("traceparent and b3 carry the client span's own trace and span ids", () =>
    Effect.gen(function*() {
      const server = yield* traceServer
      const { httpfx } = yield* sideBySide(server, textOf(HttpClientRequest.get(server.url)))
      const span = httpfx.raw.spans.find((span) => span.kind === "client" && !isHttpfxSpan(span))!
      expect(httpfx.raw.fields[0]!.traceparent).toBe(`00-${span.traceId}-${span.spanId}-01`)
      expect(httpfx.raw.fields[0]!.b3).toBe(`${span.traceId}-${span.spanId}-1`)
      // With no span of the caller's, httpfx's goes under platform's: the request stays one trace.
      const own = httpfx.raw.spans.find(isHttpfxSpan)!
      expect(own.parent).toEqual(Option.some(span))
    }))

  it.scoped("withTracerPropagation(false): the span is made, no trace field is sent", () =>
    Effect.gen(function*() {
      const server = yield* traceServer
      const program = getWith((client) => HttpClient.withTracerPropagation(client, false), server.url)
      const { httpfx, node } = yield* sideBySide(server, program)
      expect(httpfx.spans).toEqual(node.spans)
      expect(httpfx.spans.map((span) => span.kind)).toEqual(["client"])
      expect(httpfx.fields).toEqual([[]])
      expect(node.fields).toEqual([[]])
    }))

  it.scoped("withTracerDisabledWhen and a disabled tracer: no span and no trace field", () =>
    Effect.gen(function*() {
      const server = yield* traceServer
      const disabledWhen = getWith(
        (client) => HttpClient.withTracerDisabledWhen(client, (request) => request.url.endsWith("/quiet")),
        `${server.url}/quiet`
      )
      const off = Effect.withTracerEnabled(textOf(HttpClientRequest.get(server.url)), false)
      for (const program of [disabledWhen, off]) {
        const { httpfx, node } = yield* sideBySide(server, program)
        // httpfx's own span is not made either: the caller asked for no span for this request.
        expect(httpfx.raw.spans).toEqual([])
        expect(node.raw.spans).toEqual([])
        expect(httpfx.fields).toEqual([[]])
      }
    }))

  it.scoped("withSpanNameGenerator names the span", () =>
    Effect.gen(function*() {
      const server = yield* traceServer
      const program = getWith(
        (client) => HttpClient.withSpanNameGenerator(client, (request) => `fetch ${request.method} ${request.url}`),
        `${server.url}/named`
      )
      const { httpfx, node } = yield* sideBySide(server, program)
      expect(httpfx.spans).toEqual(node.spans)
      expect(httpfx.spans[0]!.name).toBe(`fetch GET ${server.url}/named`)
    }))

  it.scoped("a refused connection ends the span as a failure, with the request's attributes", () =>
    Effect.gen(function*() {
      const server = yield* traceServer
      // A port that was just free: nothing listens there.
      const closed = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const { createServer } = await import("node:net")
          const probe = createServer()
          await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve))
          const port = (probe.address() as { port: number }).port
          await new Promise<void>((resolve) => probe.close(() => resolve()))
          return port
        }),
        () => Effect.void
      )
      const { httpfx, node } = yield* sideBySide(server, textOf(HttpClientRequest.get(`http://127.0.0.1:${closed}/`)))
      expect(httpfx.exit).toBe("Failure")
      expect(httpfx.spans).toEqual(node.spans)
      expect(httpfx.spans[0]).toMatchObject({ outcome: "failure", attributes: { "server.port": closed } })
    }))
})
