/**
 * Tracing: each call runs in a span named `http.client <METHOD>` (kind "client", a child of the caller's span), with
 * OpenTelemetry's HTTP client attributes (observability/attributes.ts), and each request that goes on the wire carries
 * a W3C `traceparent` from the span of that request. Two steps: `call`, outermost (a total timeout fails inside it),
 * and `hop`, under the retries, for chains that may send a call more than once (redirects, retries, auth round trips):
 * each request on the wire is then a span of its own under the call's, with `http.request.resend_count` from the
 * second on. A call that can only ever send one request has one span, which describes that request (OpenTelemetry's
 * HTTP span is the request on the wire; a span around a single one of them would say nothing more).
 *
 * Spans are made with the fiber's tracer directly (`Tracer.span`, `Span.end`), not with `Effect.withSpan`, which costs
 * several times more than the rest of a pooled request. Under Effect's own tracer, which is what a program has when it
 * installed none and which exports nothing, no span object is made at all: a request only gets a `traceparent` with
 * the caller's trace id and a new span id, and only when there is a caller's span (see `unrecordedTraceparent`). That
 * keeps the client's fast path within a few percent of what it costs untraced, and leaves the current span, as hooks
 * and middleware see it, the caller's (a span in the context also changes what `Effect.fail` makes of an error).
 */
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import * as HttpError from "../../HttpError.js"
import { parseTarget } from "../core/url.js"
import type { Timings } from "../core/model.js"
import {
  captureList,
  ERROR_TYPE,
  fullUrl,
  headerAttributes,
  HTTP_REQUEST_RESEND_COUNT,
  HTTP_RESPONSE_STATUS_CODE,
  methodAttributes,
  NETWORK_PROTOCOL_VERSION,
  SERVER_ADDRESS,
  SERVER_PORT,
  spanName,
  URL_FULL
} from "../observability/attributes.js"
import type { Request } from "../message/request.js"
import { copy as copyRequest } from "../message/request.js"
import type { Response, StreamingResponse } from "../message/response.js"
import type { Opening } from "../transport/transport.js"
import * as Transport from "../transport/transport.js"
import { withField } from "../wire/requestHead.js"
import { flatOf } from "./cookies.js"

// ---- settings ----------------------------------------------------------------------------------------------------

/** What the client's options say about tracing. */
export interface Settings {
  /** add a `traceparent` to each request on the wire that has none (`tracePropagation`) */
  readonly propagate: boolean
  /** request fields captured as `http.request.header.<name>` (lower case, never a credential) */
  readonly requestHeaders: ReadonlyArray<string>
  /** response fields captured as `http.response.header.<name>` */
  readonly responseHeaders: ReadonlyArray<string>
}

/** `Client.Options.captureHeaders` */
interface Capture {
  readonly request?: ReadonlyArray<string> | undefined
  readonly response?: ReadonlyArray<string> | undefined
}

/** The settings of `Client.Options`' `tracePropagation` and `captureHeaders`. */
export const settingsOf = (tracePropagation: boolean | undefined, captureHeaders: Capture | undefined): Settings => ({
  propagate: tracePropagation !== false,
  requestHeaders: captureList(captureHeaders?.request),
  responseHeaders: captureList(captureHeaders?.response)
})

/** How the call step sees the chain below it, decided when the client is made. */
interface Below {
  /** whether this request may go on the wire more than once: a `hop` step below then makes each one's span */
  readonly resends: (request: Request) => boolean
  /** whether code below may look at the current span: hooks, an Auth's flow, middleware, a transport not the pool */
  readonly observable: boolean
}

// ---- spans -------------------------------------------------------------------------------------------------------

/** Effect's own tracer, whose spans nothing exports: what a program has when it installed none. */
const nativeTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

type Sent = Response | StreamingResponse

type Parent = Option.Option<Tracer.AnySpan>

const NO_PARENT: Parent = Option.none()

/**
 * The caller's span, as Effect's own spans find it: a span whose context disables propagation is passed over for its
 * own parent, an external one ends the search.
 */
const parentOf = (span: Tracer.AnySpan | undefined): Parent => {
  while (span !== undefined) {
    if (!Context.get(span.context, Tracer.DisablePropagation)) return Option.some(span)
    span = span._tag === "Span" ? Option.getOrUndefined(span.parent) : undefined
  }
  return NO_PARENT
}

/** The span's clock, or undefined when timing is off (`Effect.withTracerTiming(false)`: every time is zero). */
const clockOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Clock.Clock | undefined =>
  fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
    ? Context.get(fiber.currentDefaultServices, Clock.Clock)
    : undefined

const now = (clock: Clock.Clock | undefined): bigint => clock === undefined ? 0n : clock.unsafeCurrentTimeNanos()

/**
 * A span as `Effect.withSpan` makes it: with the fiber's span links and annotations (`Effect.annotateSpans`). It starts
 * at `start`, the time its phase events are placed from.
 */
const startSpan = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  tracer: Tracer.Tracer,
  name: string,
  parent: Parent,
  start: bigint
): Tracer.Span => {
  const links = fiber.getFiberRef(FiberRef.currentTracerSpanLinks)
  const span = tracer.span(
    name,
    parent,
    Context.empty(),
    Chunk.isEmpty(links) ? [] : Chunk.toArray(links),
    start,
    "client",
    undefined
  )
  const annotations = fiber.getFiberRef(FiberRef.currentTracerSpanAnnotations)
  if (HashMap.size(annotations) > 0) HashMap.forEach(annotations, (value, key) => span.attribute(key, value))
  return span
}

/** What is known of the request before it is sent. */
const describeRequest = (span: Tracer.Span, request: Request): void => {
  const method = methodAttributes(request.method)
  for (const name in method) span.attribute(name, method[name])
  const target = parseTarget(request.url)
  if ("_tag" in target) {
    span.attribute(URL_FULL, fullUrl(request.url))
    return
  }
  span.attribute(URL_FULL, fullUrl(target.href))
  span.attribute(SERVER_ADDRESS, target.hostname)
  span.attribute(SERVER_PORT, target.port)
}

const captureRequest = (span: Tracer.Span, request: Request, settings: Settings): void => {
  if (settings.requestHeaders.length === 0) return
  const flat: Array<string> = []
  for (const name in request.headers) flat.push(name, request.headers[name]!)
  captured(span, headerAttributes("request", settings.requestHeaders, flat))
}

/**
 * Captured fields are lists of values (OpenTelemetry's `string[]`). @effect/opentelemetry's spans turn any attribute
 * that is not a string, number or boolean into its JSON text: the OpenTelemetry span under one (its `span`) is given
 * the list itself.
 */
const captured = (span: Tracer.Span, attributes: Record<string, Array<string>>): void => {
  const otel = (span as { readonly span?: { readonly setAttribute?: unknown } }).span
  const setList = typeof otel?.setAttribute === "function"
    ? (otel.setAttribute as (name: string, value: Array<string>) => unknown).bind(otel)
    : undefined
  for (const name in attributes) {
    span.attribute(name, attributes[name])
    setList?.(name, attributes[name]!)
  }
}

const PROTOCOL_VERSIONS: Readonly<Record<string, string>> = { "HTTP/1.0": "1.0", "HTTP/1.1": "1.1", "HTTP/2": "2" }

/** What the response adds: status, protocol, captured fields; a 4xx or 5xx is an error of the call (`error.type`). */
const describeResponse = (span: Tracer.Span, response: Sent, settings: Settings | undefined): void => {
  span.attribute(HTTP_RESPONSE_STATUS_CODE, response.status)
  span.attribute(NETWORK_PROTOCOL_VERSION, PROTOCOL_VERSIONS[response.httpVersion] ?? response.httpVersion)
  if (response.status >= 400) span.attribute(ERROR_TYPE, String(response.status))
  if (settings !== undefined && settings.responseHeaders.length > 0) {
    captured(span, headerAttributes("response", settings.responseHeaders, flatOf(response)))
  }
}

/** The phases of `Timings` in the order they happen. */
const PHASES: ReadonlyArray<keyof Timings> = ["poolWait", "dns", "connect", "tls", "send", "firstByte", "download"]

/**
 * One event per phase that happened (`response.timings`), named as the phase, at the moment it ended: the request's
 * start plus the durations of the phases up to it.
 */
const phaseEvents = (span: Tracer.Span, start: bigint, timings: Timings): void => {
  let at = start
  for (const phase of PHASES) {
    const duration = timings[phase]
    if (Duration.isZero(duration)) continue
    at += Duration.unsafeToNanos(duration)
    span.event(phase, at)
  }
}

/** What a span records of how its request ended. */
interface Ending {
  readonly span: Tracer.Span
  readonly start: bigint
  readonly clock: Clock.Clock | undefined
  /** the settings when the span describes one request on the wire (its captured fields and phases); else undefined */
  readonly wire: Settings | undefined
}

/**
 * End the span. A 4xx or 5xx ends it as failed with the response's `HttpStatusError`, since OpenTelemetry's client
 * spans have an error status for them (the Exit is how an Effect span is given its status); the call itself succeeds.
 */
const end = <A extends Sent>(ending: Ending, exit: Exit.Exit<A, HttpError.HttpError>): Effect.Effect<void> => {
  const span = ending.span
  if (Exit.isSuccess(exit)) {
    const response = exit.value
    describeResponse(span, response, ending.wire)
    if (ending.wire !== undefined && ending.clock !== undefined) phaseEvents(span, ending.start, response.timings)
    if (response.status >= 400) {
      return Effect.flatMap(
        Effect.exit(response.raiseForStatus as Effect.Effect<Sent, HttpError.HttpError>),
        (status) => Effect.sync(() => span.end(now(ending.clock), status))
      )
    }
  } else {
    const type = errorType(exit.cause)
    if (type !== undefined) span.attribute(ERROR_TYPE, type)
  }
  span.end(now(ending.clock), exit)
  return Effect.void
}

/** OpenTelemetry's `error.type`: the HttpError's tag, `_OTHER` for anything else; none for an interruption. */
const errorType = (cause: Cause.Cause<unknown>): string | undefined => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return HttpError.isHttpError(failure.value) ? failure.value._tag : "_OTHER"
  return Option.isSome(Cause.dieOption(cause)) ? "_OTHER" : undefined
}

// ---- ids, for a request whose span nothing can record ------------------------------------------------------------

const HEX: ReadonlyArray<string> = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"))

/**
 * `words` × 4 random bytes in hex. Math.random, as Effect's own span ids: node:crypto is loaded only for what needs it
 * (a multipart boundary, Digest auth), and an id that no tracer records needs no more than this.
 */
const randomHex = (words: number): string => {
  let out = ""
  for (let i = 0; i < words; i++) {
    const word = (Math.random() * 0x100000000) >>> 0
    out += HEX[word >>> 24]! + HEX[(word >>> 16) & 0xff]! + HEX[(word >>> 8) & 0xff]! + HEX[word & 0xff]!
  }
  return out
}

const TRACE_ID = /^[0-9a-f]{32}$/
const SPAN_ID = /^[0-9a-f]{16}$/

/** W3C Trace Context's `traceparent`, version 00; undefined for ids it cannot carry (a tracer of other ids). */
const traceparentOf = (traceId: string, spanId: string, sampled: boolean): string | undefined =>
  TRACE_ID.test(traceId) && SPAN_ID.test(spanId) ? `00-${traceId}-${spanId}-${sampled ? "01" : "00"}` : undefined

/**
 * The traceparent of a request whose span is not made (Effect's own tracer): the caller's trace with a new span id.
 * Without a caller's span there is no trace to carry, and none is sent (as OpenTelemetry's API sends none when no SDK
 * is installed): a program that traces nothing sends the same headers every time.
 */
const unrecordedTraceparent = (parent: Parent): string | undefined => {
  const caller = Option.getOrUndefined(parent)
  if (caller === undefined || !TRACE_ID.test(caller.traceId)) return undefined
  return `00-${caller.traceId}-${randomHex(2)}-${caller.sampled ? "01" : "00"}`
}

/** The request with `value` as its traceparent; one that has a traceparent of its own keeps it. */
const withTraceparent = (request: Request, value: string | undefined): Request =>
  value === undefined || request.headers.traceparent !== undefined
    ? request
    : copyRequest(request, { headers: withField(request.headers, "traceparent", value) })

/** The request with the traceparent of a span that is not made, in the trace of the fiber's current span. */
const unrecorded = (request: Request, fiber: Fiber.RuntimeFiber<unknown, unknown>): Request =>
  withTraceparent(request, unrecordedTraceparent(parentOf(fiber.currentSpan)))

const propagated = (request: Request, span: Tracer.Span, settings: Settings): Request =>
  settings.propagate && request.headers.traceparent === undefined
    ? withTraceparent(request, traceparentOf(span.traceId, span.spanId, span.sampled))
    : request

// ---- the steps ---------------------------------------------------------------------------------------------------

/** The call a hop belongs to: its span, and how many requests it has sent. Undefined: the call has no hop spans. */
interface Call {
  readonly span: Tracer.Span
  sent: number
}

const CurrentCall = Context.GenericTag<"httpfx/Tracing/Call", Call | undefined>("httpfx/Tracing/Call")

/** `effect` with `span` as the current span, and `call` as the call its hops belong to. */
const within = <A, E, R>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  effect: Effect.Effect<A, E, R>,
  span: Tracer.Span,
  call: Call | undefined
): Effect.Effect<A, E, R> =>
  Effect.locally(
    effect,
    FiberRef.currentContext,
    Context.add(Context.add(fiber.currentContext, Tracer.ParentSpan, span), CurrentCall, call)
  )

const isTracing = (fiber: Fiber.RuntimeFiber<unknown, unknown>): boolean =>
  fiber.getFiberRef(FiberRef.currentTracerEnabled)

/** One call: its span, and, when it sends one request only, that request's traceparent. */
const traceCall = <A extends Sent, R>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  settings: Settings,
  below: Below,
  request: Request,
  send: (request: Request) => Effect.Effect<A, HttpError.HttpError, R>
): Effect.Effect<A, HttpError.HttpError, R> => {
  const tracer = fiber.currentTracer
  const resends = below.resends(request)
  if (tracer === nativeTracer) {
    // Nothing records this span: only its traceparent is needed, which the hops add when there are hops.
    return send(settings.propagate && !resends ? unrecorded(request, fiber) : request)
  }
  const parent = parentOf(fiber.currentSpan)
  const clock = clockOf(fiber)
  const start = now(clock)
  const span = startSpan(fiber, tracer, spanName(request.method), parent, start)
  describeRequest(span, request)
  let effect: Effect.Effect<A, HttpError.HttpError, R>
  if (resends) {
    effect = within(fiber, send(request), span, { span, sent: 0 })
  } else {
    captureRequest(span, request, settings)
    const sent = propagated(request, span, settings)
    effect = below.observable ? within(fiber, send(sent), span, undefined) : send(sent)
  }
  const ending: Ending = { span, start, clock, wire: resends ? undefined : settings }
  return Effect.onExit(effect, (exit) => end(ending, exit))
}

/** One request on the wire, under its call's span. */
const traceHop = <A extends Sent, R>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  settings: Settings,
  request: Request,
  send: (request: Request) => Effect.Effect<A, HttpError.HttpError, R>
): Effect.Effect<A, HttpError.HttpError, R> => {
  if (!isTracing(fiber)) return send(request)
  if (fiber.currentTracer === nativeTracer) {
    return send(settings.propagate ? unrecorded(request, fiber) : request)
  }
  const call = Context.getOrElse(fiber.currentContext, CurrentCall, () => undefined)
  if (call === undefined) return send(request)
  const clock = clockOf(fiber)
  const start = now(clock)
  const span = startSpan(fiber, fiber.currentTracer, spanName(request.method), Option.some(call.span), start)
  describeRequest(span, request)
  if (call.sent > 0) span.attribute(HTTP_REQUEST_RESEND_COUNT, call.sent)
  call.sent++
  captureRequest(span, request, settings)
  const ending: Ending = { span, start, clock, wire: settings }
  return Effect.onExit(within(fiber, send(propagated(request, span, settings)), span, undefined), (exit) =>
    end(ending, exit))
}

/** The call's step, outermost: see the module's comment. */
export const call = (settings: Settings, below: Below) => (next: Transport.Transport): Transport.Transport => {
  const send = Transport.sendOf(next)
  const handle = (request: Request) => next.handle(request)
  return Transport.make(
    (request) =>
      Effect.withFiberRuntime((fiber) =>
        isTracing(fiber) ? traceCall(fiber, settings, below, request, handle) : next.handle(request)
      ),
    {
      send: (request) =>
        Effect.withFiberRuntime((fiber) =>
          isTracing(fiber) ? traceCall(fiber, settings, below, request, send) : send(request)
        )
    }
  )
}

/** The step of each request on the wire, under the retries: a span of its own when its call may send more than one. */
export const hop = (settings: Settings) => (next: Transport.Transport): Transport.Transport => {
  const send = Transport.sendOf(next)
  const handle = (request: Request) => next.handle(request)
  return Transport.make(
    (request) => Effect.withFiberRuntime((fiber) => traceHop(fiber, settings, request, handle)),
    { send: (request) => Effect.withFiberRuntime((fiber) => traceHop(fiber, settings, request, send)) }
  )
}

/** The pool itself below the call: one request on the wire, and no code that looks at spans. */
const BARE: Below = { resends: () => false, observable: false }

/**
 * The call's step over a transport's `open` (the platform adapter's short way, with no Scope; see `Opening`): the
 * request goes as it is, so only a call that adds no traceparent to it can take it (Platform.layer's, whose
 * propagation is platform's own). Undefined for the others: they take `handle`.
 */
export const open = (settings: Settings, opener: (request: Request) => Opening | undefined) =>
(request: Request): Opening | undefined => {
  if (settings.propagate && request.headers.traceparent === undefined) return undefined
  const opening = opener(request)
  return opening === undefined ? undefined : new TracedOpening(settings, request, opening)
}

/** A class rather than a literal: see ExchangeOpening in pool.ts. */
class TracedOpening implements Opening {
  readonly head: Opening["head"]
  constructor(settings: Settings, request: Request, private readonly opening: Opening) {
    this.head = Effect.withFiberRuntime((fiber) =>
      isTracing(fiber) ? traceCall(fiber, settings, BARE, request, () => opening.head) : opening.head
    )
  }
  abandon(): void {
    this.opening.abandon()
  }
}
