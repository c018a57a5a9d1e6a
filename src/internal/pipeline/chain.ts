/**
 * The client's request pipeline: each client feature is a step `(next: Transport) => Transport`, and every entry
 * point (`request` and the verbs, `stream`, `send`, `Platform.layer`) enters the same chain. Its order, outermost
 * first (OkHttp's: follow-ups, bridge, network interceptors, then the call to the server):
 *
 *   1. call span        tracing.ts     the call's span (`http.client GET`), around everything, the timeout included
 *   2. timeout          timeout.ts     the total timeout, armed once for the whole call
 *   3. auth             authStep.ts    an Auth's flow (auth.ts); its second try runs the redirect chain again
 *   4. redirects        redirects.ts   follows 301/302/303/307/308; every response carries the hops before it
 *   5. retry            retry.ts       the one retry policy, for each hop on its own
 *   6. hop span         tracing.ts     each request on the wire (hop, retry, auth round trip) as a span of its own
 *                                      under the call's, with its traceparent; only in chains that can resend
 *   7. response hooks   hooks.ts       run once the response's cookies are stored
 *   8. cookies          cookies.ts     the jar's Cookie on the way down (cookieJar.ts), Set-Cookie on the way up
 *   9. request hooks    hooks.ts       see the request with the Cookie the jar added (and its traceparent)
 *  10. bridge           bridge.ts      the response reports the request the client sent; bodies as sent (Platform)
 *  11. internal steps   (tests)        `withSteps`
 *  12. user middleware  `Client.Options.middleware`, the first given outermost: sees every hop, retry and auth
 *                       round trip with its final headers
 *  13. the transport    the pool (transport/transport.ts `fromPool`), a mock, or the caller's own
 *
 * Default headers, params and the body's encoding are the request's own: `buildRequest` (client/client.ts) merges
 * them, so hooks, auth flows and `buildRequest` see them; decompression is the pool's (`Profile.decompress`).
 *
 * A step a client has nothing for is left out when the client is made (no auth, redirects, retry, hooks or jar, no
 * total timeout): with nothing installed the chain is the call span over the transport itself, which is the fast
 * path. A request that brings its own timeout, auth or redirect policy enters the `full` chain instead, where those
 * three are installed and pass straight through when neither the request nor the client sets them.
 *
 * The one-hop rule: a chain that can send a call only once (no auth, redirects or retry installed, or a `full` chain's
 * request that turns them off) has no hop span; its call span is the span of that one request, with its traceparent.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Auth } from "./auth.js"
import type * as HttpError from "../../HttpError.js"
import type { RequestHook, ResponseHook } from "./hooks.js"
import type { Request } from "../message/request.js"
import type { Response, StreamingResponse } from "../message/response.js"
import type { Timeouts } from "../core/timeouts.js"
import * as Transport from "../transport/transport.js"
import type { Opening } from "../transport/transport.js"
import { authenticate } from "./authStep.js"
import { bridge } from "./bridge.js"
import { cookies } from "./cookies.js"
import type { CookieJar } from "./cookieJar.js"
import { requestHooks, responseHooks } from "./hooks.js"
import { redirects } from "./redirects.js"
import { retry } from "./retry.js"
import type { RetrySettings } from "./retry.js"
import { timeout } from "./timeout.js"
import * as Tracing from "./tracing.js"

/** One step of the pipeline: the same shape as a user's `Transport.Middleware`. */
export type Step = Transport.Middleware

/** What a client installs: each field that is empty (undefined, false, 0, []) leaves its step out. */
interface Settings {
  readonly timeouts: Timeouts
  readonly auth: Auth | undefined
  readonly followRedirects: boolean
  readonly maxRedirects: number
  readonly retry: RetrySettings | undefined
  readonly requestHooks: ReadonlyArray<RequestHook>
  readonly responseHooks: ReadonlyArray<ResponseHook>
  readonly jar: CookieJar | undefined
  /** a transport of the caller's own, whose streamed bodies are wanted as they came (see `Profile`) */
  readonly bodiesAsSent: boolean
  readonly middleware: ReadonlyArray<Transport.Middleware> | undefined
  /** httpfx's own steps, installed between the bridge and the user's middleware (see `withSteps`) */
  readonly steps: ReadonlyArray<Step>
  /** spans and propagation (a client always has them); undefined: neither, the chain without its tracing steps */
  readonly tracing?: Tracing.Settings | undefined
}

export interface Pipeline {
  /** for requests that bring no timeout, auth or redirect policy of their own: the client's steps only */
  readonly plain: Transport.Transport
  /** for the others: timeout, auth and redirects installed whatever the client says */
  readonly full: Transport.Transport
  /** `plain`'s way to send with no Scope, when it is the call span over a transport that can (see `open`) */
  readonly open: ((request: Request) => Opening | undefined) | undefined
}

/** `steps` composed around `transport`, the first outermost. No steps: the transport itself. */
export const compose = (transport: Transport.Transport, steps: ReadonlyArray<Step>): Transport.Transport => {
  let next = transport
  for (let i = steps.length - 1; i >= 0; i--) next = steps[i]!(next)
  return next
}

/**
 * The user's middleware around the transport. The result offers only `handle`: a step that passed `next` on whole
 * (`{ ...next, handle }`) must not be bypassed by `next`'s own buffered `send`.
 */
const withMiddleware = (
  transport: Transport.Transport,
  middleware: ReadonlyArray<Transport.Middleware> | undefined
): Transport.Transport => {
  if (middleware === undefined || middleware.length === 0) return transport
  const outer = compose(transport, middleware)
  return Transport.make((request) => outer.handle(request))
}

/** The steps between the retries and the transport, outermost first: they run once per request on the wire. */
const perSend = (settings: Settings, transport: Transport.Transport): Array<Step> => {
  const steps: Array<Step> = []
  if (settings.responseHooks.length > 0) steps.push(responseHooks(settings.responseHooks))
  if (settings.jar !== undefined) steps.push(cookies(settings.jar))
  if (settings.requestHooks.length > 0) steps.push(requestHooks(settings.requestHooks))
  // The pool's response reports the request it was given already: only another transport, or middleware that may
  // change the request on its way, needs the bridge to tell the response which request the client sent.
  const reports = Transport.poolOf(transport) !== undefined &&
    (settings.middleware === undefined || settings.middleware.length === 0)
  if (settings.bodiesAsSent || !reports) steps.push(bridge(settings.bodiesAsSent))
  steps.push(...settings.steps)
  return steps
}

/** Whether code below the retries may look at the current span: hooks, httpfx's own steps, middleware, a transport. */
const observes = (settings: Settings, transport: Transport.Transport): boolean =>
  settings.requestHooks.length > 0 || settings.responseHooks.length > 0 || settings.steps.length > 0 ||
  (settings.middleware !== undefined && settings.middleware.length > 0) || Transport.poolOf(transport) === undefined

/** The chains of a client: decided here once, when the client is made. */
export const make = (settings: Settings, transport: Transport.Transport): Pipeline => {
  const tracing = settings.tracing
  const below = compose(withMiddleware(transport, settings.middleware), perSend(settings, transport))
  const hops = compose(below, [
    ...(settings.retry === undefined ? [] : [retry(settings.retry)]),
    ...(tracing === undefined ? [] : [Tracing.hop(tracing)])
  ])
  const outer: Array<Step> = []
  if (settings.timeouts.total > 0) outer.push(timeout(settings.timeouts))
  if (settings.auth !== undefined) outer.push(authenticate(settings.auth))
  if (settings.followRedirects) outer.push(redirects(true, settings.maxRedirects))
  const resends = settings.retry !== undefined || settings.auth !== undefined || settings.followRedirects
  const plainInner = compose(resends ? hops : below, outer)
  const full = compose(hops, [
    ...(tracing === undefined ? [] : [
      Tracing.call(tracing, {
        resends: (request) =>
          settings.retry !== undefined || (request.followRedirects ?? settings.followRedirects) ||
          (request.auth === undefined ? settings.auth !== undefined : request.auth !== null),
        // A hop step is below, which the call tells whether it is one of many.
        observable: true
      })
    ]),
    timeout(settings.timeouts),
    authenticate(settings.auth),
    redirects(settings.followRedirects, settings.maxRedirects)
  ])
  const opener = plainInner === transport ? Transport.openerOf(transport) : undefined
  if (tracing === undefined) return { plain: plainInner, full, open: opener }
  return {
    plain: Tracing.call(tracing, { resends: () => resends, observable: observes(settings, transport) })(plainInner),
    full,
    open: opener === undefined ? undefined : Tracing.open(tracing, opener)
  }
}

const chainFor = (pipeline: Pipeline, request: Request): Transport.Transport =>
  request.timeout === undefined && request.auth === undefined && request.followRedirects === undefined
    ? pipeline.plain
    : pipeline.full

/** Send `request` through the pipeline and read the whole response. */
export const send = (pipeline: Pipeline, request: Request): Effect.Effect<Response, HttpError.HttpError> => {
  const chain = chainFor(pipeline, request)
  return chain.send !== undefined ? chain.send(request) : Transport.readAll(chain, request)
}

/** Send `request` through the pipeline; the response's body belongs to the scope. */
export const stream = (
  pipeline: Pipeline,
  request: Request
): Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope> => chainFor(pipeline, request).handle(request)

/**
 * Send `request` with no Scope, the response the caller's to release: only when the chain is the call span over the
 * bare transport and that transport can (the pool). Undefined otherwise: then use `stream`.
 */
export const open = (pipeline: Pipeline, request: Request): Opening | undefined =>
  pipeline.open === undefined || chainFor(pipeline, request) !== pipeline.plain ? undefined : pipeline.open(request)

// ---- internal steps ------------------------------------------------------------------------------------------------

const StepsKey = Symbol.for("httpfx/Client/steps")

/** Client options that install `steps` of httpfx's own in the pipeline (see the order above). */
export const withSteps = <O extends object>(options: O, steps: ReadonlyArray<Step>): O =>
  ({ ...options, [StepsKey]: steps }) as O

export const stepsOf = (options: object): ReadonlyArray<Step> =>
  (options as { readonly [StepsKey]?: ReadonlyArray<Step> })[StepsKey] ?? []
