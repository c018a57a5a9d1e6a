/**
 * What reaches OpenTelemetry: httpfx's spans recorded through @effect/opentelemetry's tracer into the SDK's in-memory
 * exporter, checked against OpenTelemetry's HTTP client conventions, with the traceparent each request carried as the
 * server saw it. The calls run in test/fixtures/otel-spans.ts, in a child process (see why there), once for the file.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

// OpenTelemetry's numbers: SpanKind.CLIENT, SpanStatusCode.OK and ERROR.
const CLIENT = 2
const OK = 1
const ERROR = 2

interface SpanJson {
  readonly name: string
  readonly kind: number
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly attributes: Record<string, unknown>
  readonly status: number
}

interface Scenario<A = unknown> {
  readonly value: A
  readonly spans: ReadonlyArray<SpanJson>
  readonly seen: ReadonlyArray<{ readonly path: string; readonly traceparent: ReadonlyArray<string> }>
}

interface Results {
  readonly port: number
  readonly closedPort: number
  readonly [scenario: string]: Scenario | number
}

let run: Promise<Results> | undefined

/** The fixture's output, run on first use (starting tsx takes a few seconds on a loaded machine). */
const results = (): Promise<Results> =>
  run ??= new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--conditions=httpfx-source", "--import", "tsx", "test/fixtures/otel-spans.ts"],
      { cwd: root, timeout: 60_000 },
      (error, stdout, stderr) =>
        error !== null ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout))
    )
  })

const scenario = async <A = unknown>(name: string) => {
  const all = await results()
  return { ...(all[name] as Scenario<A>), port: all.port, closedPort: all.closedPort }
}

const http = (spans: ReadonlyArray<SpanJson>) => spans.filter((span) => span.name === "http.client GET")

const traceparentOf = (span: SpanJson) => `00-${span.traceId}-${span.spanId}-01`

describe("httpfx spans in OpenTelemetry", () => {
  it("a call is one client span under the caller's, with OpenTelemetry's attributes and its traceparent", async () => {
    const { spans, seen, port } = await scenario("single")
    const caller = spans.find((span) => span.name === "caller")!
    const calls = http(spans)
    expect(calls.length).toBe(1)
    const span = calls[0]!
    expect(span.kind).toBe(CLIENT)
    expect(span.parentSpanId).toBe(caller.spanId)
    expect(span.traceId).toBe(caller.traceId)
    expect(span.attributes).toEqual({
      "http.request.method": "GET",
      "url.full": `http://127.0.0.1:${port}/ok?q=1`,
      "server.address": "127.0.0.1",
      "server.port": port,
      "network.protocol.version": "1.1",
      "http.response.status_code": 200
    })
    expect(span.status).toBe(OK)
    expect(seen).toEqual([{ path: "/ok", traceparent: [traceparentOf(span)] }])
  }, 60_000)

  it("each redirect hop is a span under the call's, with resend_count and its own traceparent", async () => {
    const { spans, seen, port } = await scenario("redirect")
    const all = http(spans)
    expect(all.length).toBe(3)
    const call = all.find((span) => span.parentSpanId === undefined)!
    const hops = all.filter((span) => span !== call)
    expect(hops.map((span) => span.parentSpanId)).toEqual([call.spanId, call.spanId])
    expect(hops.map((span) => span.kind)).toEqual([CLIENT, CLIENT])
    expect(hops.map((span) => span.attributes["url.full"])).toEqual([
      `http://127.0.0.1:${port}/redirect`,
      `http://127.0.0.1:${port}/final`
    ])
    expect(hops.map((span) => span.attributes["http.request.resend_count"])).toEqual([undefined, 1])
    expect(hops.map((span) => span.attributes["http.response.status_code"])).toEqual([302, 200])
    expect(call.kind).toBe(CLIENT)
    expect(call.attributes["url.full"]).toBe(`http://127.0.0.1:${port}/redirect`)
    expect(call.attributes["http.response.status_code"]).toBe(200)
    expect(seen).toEqual([
      { path: "/redirect", traceparent: [traceparentOf(hops[0]!)] },
      { path: "/final", traceparent: [traceparentOf(hops[1]!)] }
    ])
  }, 60_000)

  it("a retried request is a hop span per attempt, the second with resend_count 1", async () => {
    const { spans, seen } = await scenario("retry")
    const hops = http(spans).filter((span) => span.parentSpanId !== undefined)
    expect(hops.map((span) => span.attributes["http.response.status_code"])).toEqual([503, 200])
    expect(hops.map((span) => span.attributes["http.request.resend_count"])).toEqual([undefined, 1])
    expect(hops.map((span) => span.attributes["error.type"])).toEqual(["503", undefined])
    expect(seen.map((request) => request.traceparent)).toEqual(hops.map((span) => [traceparentOf(span)]))
  }, 60_000)

  it("a failure sets error.type to the HttpError's tag and the span's status to error", async () => {
    const { value, spans, closedPort } = await scenario("failure")
    expect(value).toBe("ConnectError")
    const [span] = http(spans)
    expect(span!.attributes["error.type"]).toBe("ConnectError")
    expect(span!.attributes["server.port"]).toBe(closedPort)
    expect(span!.attributes["http.response.status_code"]).toBeUndefined()
    expect(span!.status).toBe(ERROR)
  }, 60_000)

  it("a 4xx response sets error.type to its status code and the span's status to error", async () => {
    const { value, spans } = await scenario("missing")
    expect(value).toBe(404)
    const [span] = http(spans)
    expect(span!.attributes["error.type"]).toBe("404")
    expect(span!.attributes["http.response.status_code"]).toBe(404)
    expect(span!.status).toBe(ERROR)
  }, 60_000)

  it("url.full has no credentials, and the values of signature parameters are redacted", async () => {
    const { spans, port } = await scenario("secrets")
    const [span] = http(spans)
    expect(span!.attributes["url.full"]).toBe(
      `http://127.0.0.1:${port}/s?X-Goog-Signature=REDACTED&keep=1&sig=REDACTED&AWSAccessKeyId=REDACTED`
    )
    // The secrets are no hex digits, so a random trace or span id cannot contain one.
    expect(JSON.stringify(spans)).not.toMatch(/secret|user:|qwx|zz/)
  }, 60_000)

  it("captureHeaders records the listed fields as lists, never Authorization, Cookie or Set-Cookie", async () => {
    const { spans } = await scenario("capture")
    const [span] = http(spans)
    const captured = Object.keys(span!.attributes).filter((name) => name.includes(".header."))
    expect(captured.sort()).toEqual(["http.request.header.x-req", "http.response.header.x-res"])
    expect(span!.attributes["http.request.header.x-req"]).toEqual(["1"])
    expect(span!.attributes["http.response.header.x-res"]).toEqual(["a"])
    expect(JSON.stringify(spans)).not.toMatch(/t0ken|c=1|s=1/)
  }, 60_000)

  it("tracePropagation: false sends no traceparent; the span is still recorded", async () => {
    const { spans, seen } = await scenario("unpropagated")
    expect(http(spans).length).toBe(1)
    expect(seen).toEqual([{ path: "/ok", traceparent: [] }])
  }, 60_000)

  it("a streamed call's span has ended when the head is in, before its body is read", async () => {
    const { value, spans } = await scenario<{ endedAtHead: number; text: string }>("stream")
    expect(value).toEqual({ endedAtHead: 1, text: "ok" })
    expect(http(spans).length).toBe(1)
  }, 60_000)

  it("under Platform.layer one traceparent, platform's; with no span of the caller's, httpfx's is under platform's", async () => {
    const { value, spans, seen, port } = await scenario("platform")
    expect(value).toBe(200)
    const named = http(spans)
    expect(named.length).toBe(2)
    const platform = named.find((span) => span.parentSpanId === undefined)!
    const own = named.find((span) => span !== platform)!
    expect(own.parentSpanId).toBe(platform.spanId)
    expect(own.attributes["url.full"]).toBe(`http://127.0.0.1:${port}/ok`)
    expect(own.attributes["server.address"]).toBe("127.0.0.1")
    expect(seen).toEqual([{ path: "/ok", traceparent: [traceparentOf(platform)] }])
  }, 60_000)

  it("examples/tracing.ts prints a span per hop under the call's, each the traceparent sent", async () => {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ["--conditions=httpfx-source", "--import", "tsx", "examples/tracing.ts"],
        { cwd: root, timeout: 60_000 },
        (error, out, stderr) => error !== null ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(out)
      )
    })
    const sent = [...stdout.matchAll(/^server: GET (\S+) traceparent: 00-[0-9a-f]{32}-([0-9a-f]{16})-01$/gm)]
    expect(sent.map((match) => match[1])).toEqual(["/old", "/new"])
    const tree = [...stdout.matchAll(/^( *)(\S+(?: GET)?) \[([0-9a-f]{16})\]/gm)].map((match) => ({
      depth: match[1]!.length / 2,
      name: match[2],
      spanId: match[3]
    }))
    expect(tree).toEqual([
      { depth: 0, name: "example", spanId: expect.any(String) },
      { depth: 1, name: "http.client GET", spanId: expect.any(String) },
      { depth: 2, name: "http.client GET", spanId: sent[0]![2] },
      { depth: 2, name: "http.client GET", spanId: sent[1]![2] }
    ])
    expect(stdout).toContain("http.request.resend_count = 1")
    expect(stdout).toMatch(/^ {2}firstByte/m)
  }, 60_000)
})
