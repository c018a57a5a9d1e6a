/**
 * Tracing: a call under OpenTelemetry (@effect/opentelemetry over the SDK's tracer provider, spans kept in memory),
 * printed as a span tree with each span's attributes, then the response's timings. The call follows a redirect, so
 * it is a call span with one span per request on the wire under it; the server prints the traceparent each request
 * carried, the id of that request's span.
 *
 * It starts its own server on loopback, so it needs no network:
 * `npx tsx --conditions=httpfx-source examples/tracing.ts`.
 */
import * as OtelResource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { Console, Duration, Effect, Layer } from "effect"
import * as http from "node:http"
import type * as net from "node:net"
import { Client } from "httpfx"

// ---- a loopback server: /old redirects to /new -----------------------------------------------------------------

const server = http.createServer((request, response) => {
  console.log(`server: ${request.method} ${request.url} traceparent: ${request.headers.traceparent}`)
  if (request.url === "/old") {
    response.writeHead(302, { location: "/new" })
    return response.end()
  }
  response.writeHead(200, { "content-type": "text/plain" })
  response.end("hello")
})

const listening = Effect.acquireRelease(
  Effect.async<number>((resume) => {
    server.listen(0, "127.0.0.1", () => {
      resume(Effect.succeed((server.address() as net.AddressInfo).port))
    })
  }),
  () =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
)

// ---- OpenTelemetry: a tracer provider whose spans stay in memory --------------------------------------------------

const exporter = new InMemorySpanExporter()

const TracingLive = OtelTracer.layer.pipe(
  Layer.provide(Layer.succeed(
    OtelTracer.OtelTracerProvider,
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  )),
  Layer.provide(OtelResource.layer({ serviceName: "tracing-example" }))
)

// ---- printing -----------------------------------------------------------------------------------------------------

const millis = (span: ReadableSpan) => (span.duration[0] * 1e3 + span.duration[1] / 1e6).toFixed(2)

const printTree = (spans: ReadonlyArray<ReadableSpan>, parent: string | undefined, depth: number): void => {
  for (const span of spans.filter((span) => span.parentSpanContext?.spanId === parent)) {
    const indent = "  ".repeat(depth)
    console.log(`${indent}${span.name} [${span.spanContext().spanId}] ${millis(span)} ms`)
    for (const [name, value] of Object.entries(span.attributes)) console.log(`${indent}    ${name} = ${value}`)
    for (const event of span.events) console.log(`${indent}    event ${event.name}`)
    printTree(spans, span.spanContext().spanId, depth + 1)
  }
}

// ---- the program --------------------------------------------------------------------------------------------------

const program = Effect.gen(function*() {
  const port = yield* listening
  const client = yield* Client.make({ followRedirects: true })
  // The caller's own span: httpfx's spans are its children, in its trace.
  const response = yield* Effect.withSpan(client.get(`http://127.0.0.1:${port}/old`), "example")
  yield* Console.log(`\n${response.status} ${response.text} from ${response.url}\n\nspans:`)
  printTree(exporter.getFinishedSpans(), undefined, 0)
  yield* Console.log("\ntimings of the last hop:")
  for (const [phase, duration] of Object.entries(response.timings)) {
    yield* Console.log(`  ${phase.padEnd(9)} ${Duration.format(duration)}`)
  }
})

Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(TracingLive)))
