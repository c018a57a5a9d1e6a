/**
 * @effect/platform's `HttpClient.make`, as Platform.layer needs it: the same URL building, span, span attributes,
 * trace propagation, `withTracerDisabledWhen`, `withSpanNameGenerator` and `withScope`, but no AbortController per
 * request. (Two differences: a request `withTracerDisabledWhen` leaves untraced gets no httpfx span either, and a
 * request made inside a span of the caller's is not sent under platform's span; see `execute`.)
 *
 * Platform's `make` creates an AbortController for every request, to abort it when the caller is interrupted, when
 * an unread response is garbage-collected, or when a body read is interrupted. On Node 20 creating one costs ~4.5 µs,
 * as much as a seventh of a whole request through undici. httpfx needs none of that for most responses: an
 * interrupted request or read already lets its exchange go, and a response whose body came with its head has
 * nothing left to let go. So the sender gets `withScope`'s signal when there is one, and otherwise registers only a
 * response with an unfinished body for release when it is collected.
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/**
 * Sends one request: `scoped` is the signal `HttpClient.withScope` aborts when the caller's scope closes, if the
 * request was made under it.
 */
type Send = (
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  scoped: AbortSignal | undefined
) => Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>

/**
 * `withScope`'s controllers, by request. Platform keeps them in a global value under this key, and `make` is where
 * they are read; the same key gives the same map whichever module asks first.
 */
const scopedRequests = globalValue(
  "@effect/platform/HttpClient/scopedRequests",
  () => new WeakMap<HttpClientRequest.HttpClientRequest, AbortController>()
)

const collected = globalValue(
  Symbol.for("httpfx/platform/collectedResponses"),
  () => new FinalizationRegistry<() => void>((release) => release())
)

/**
 * Run `release` when `response` is garbage-collected, as platform aborts an unread response's request then. The
 * release must not hold the response, or it could never be collected.
 */
export const releaseWhenCollected = (response: object, release: () => void): void => {
  collected.register(response, release, response)
}

/** A read of `response`'s body has begun: the read lets it go now, however it ends, and collection need not. */
export const readStarted = (response: object): void => {
  collected.unregister(response)
}

/** An HttpClient whose requests `send` sends, traced exactly as platform's own clients trace theirs. */
export const make = (send: Send): HttpClient.HttpClient =>
  HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (effect) => Effect.flatMap(effect, (request) => Effect.withFiberRuntime((fiber) => execute(send, request, fiber))),
    Effect.succeed
  )

const execute = (
  send: Send,
  request: HttpClientRequest.HttpClientRequest,
  fiber: Fiber.RuntimeFiber<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
  const made = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
  if (made._tag === "Left") {
    return Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: made.left }))
  }
  const url = made.right
  const scoped = scopedRequests.get(request)?.signal
  if (!fiber.getFiberRef(FiberRef.currentTracerEnabled)) return send(request, url, scoped)
  // A request the caller asked to leave untraced gets no span of httpfx's either.
  if (fiber.getFiberRef(HttpClient.currentTracerDisabledWhen)(request)) {
    return Effect.withTracerEnabled(send(request, url, scoped), false)
  }
  const spanName = Context.get(fiber.currentContext, HttpClient.SpanNameGenerator)(request)
  return Effect.useSpan(spanName, { kind: "client", captureStackTrace: false }, (span) => {
    const redactedNames = fiber.getFiberRef(Headers.currentRedactedNames)
    // The attributes platform's clients give their span, under OpenTelemetry's HTTP client names.
    span.attribute("http.request.method", request.method)
    span.attribute("server.address", url.origin)
    if (url.port !== "") span.attribute("server.port", +url.port)
    span.attribute("url.full", url.toString())
    span.attribute("url.path", url.pathname)
    span.attribute("url.scheme", url.protocol.slice(0, -1))
    if (url.search.length > 1) span.attribute("url.query", url.search.slice(1))
    const requestHeaders = Headers.redact(request.headers, redactedNames)
    for (const name in requestHeaders) span.attribute(`http.request.header.${name}`, String(requestHeaders[name]))
    const sent = fiber.getFiberRef(HttpClient.currentTracerPropagation)
      ? HttpClientRequest.setHeaders(request, HttpTraceContext.toHeaders(span))
      : request
    // httpfx's own `http.client` span is a child of the caller's span, as for every httpfx request, and so beside
    // this one: a tracer sees each client span of the call under the caller's (Effect's own platform tests hold
    // clients to that). With no caller's span it goes under this one, so that the request stays one trace.
    const sending = Option.isSome(Context.getOption(fiber.currentContext, Tracer.ParentSpan))
      ? send(sent, url, scoped)
      : Effect.withParentSpan(send(sent, url, scoped), span)
    return Effect.tap(sending, (response) => {
      span.attribute("http.response.status_code", response.status)
      const responseHeaders = Headers.redact(response.headers, redactedNames)
      for (const name in responseHeaders) {
        span.attribute(`http.response.header.${name}`, String(responseHeaders[name]))
      }
    })
  })
}
