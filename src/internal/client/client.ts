/**
 * The client (httpx's AsyncClient): builds requests from options, then runs them through the layers
 * auth → redirects → (per hop) retries, cookies, hooks → transport.
 */
import * as Headers from "@effect/platform/Headers"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import type { Auth } from "../pipeline/auth.js"
import type {
  AuthInput,
  ClientOptions,
  ParamsInput,
  ParamValue,
  RequestHook,
  RequestOptions,
  ResponseHook,
  RetryPolicy as RetryInput
} from "./options.js"
import {
  LocalProtocolError,
  RequestTimeout,
  StreamConsumed,
  TooManyRedirects
} from "../../HttpError.js"
import * as HttpError from "../../HttpError.js"
import { basic as basicAuth, isAuth } from "../pipeline/auth.js"
import * as Body from "./body.js"
import { CookieJar } from "../pipeline/cookieJar.js"
import { routesFromEnv } from "../connection/proxy.js"
import { supportedEncodings } from "../wire/decoding.js"
import { clientOptionsProblem } from "./options.js"
import type { OwnedResponse } from "../exchange/exchange.js"
import type { ConnectionInfo, PoolImpl } from "../pool/pool.js"
import { makePool } from "../pool/pool.js"
import type { HeaderInput } from "../wire/requestHead.js"
import type { Request } from "../message/request.js"
import { copy as copyRequest, make as makeRequest, printable } from "../message/request.js"
import type { HeadBase, Response, ResponseHead, StreamingBase, StreamingResponse } from "../message/response.js"
import { findHeader } from "../message/response.js"
import * as Timeouts from "../core/timeouts.js"
import * as Transport from "../transport/transport.js"
import { hasUserinfo, takeUserinfo, withoutUserinfo } from "../core/url.js"
import { printableHeaders } from "../core/credentials.js"
import { version } from "../core/version.js"
import { isIdempotent } from "../core/methods.js"

// ---- options -----------------------------------------------------------------------------------------------------

export type { ClientOptions } from "./options.js"

// ---- requests ----------------------------------------------------------------------------------------------------

/** A request that could not be built carries why, and fails when sent (buildRequest itself cannot fail). */
// A symbol-keyed property rather than a side table: a request copied with `{ ...request }` keeps it.
const Invalid = Symbol.for("httpfx/Request/invalid")
const invalidOf = (request: Request): HttpError.HttpError | undefined =>
  (request as unknown as { readonly [Invalid]?: HttpError.HttpError })[Invalid]

const defaultHeaders = (): Headers.Headers =>
  Headers.fromInput({
    "user-agent": `httpfx/${version}`,
    accept: "*/*",
    "accept-encoding": supportedEncodings().join(", ")
  })

/**
 * What a client starts from before its options. httpx's, for `Client`: user-agent, accept and accept-encoding headers,
 * and bodies decoded. `Platform.layer` brings platform-node's: no header the caller did not set, and bodies as the
 * server sent them unless asked to decompress.
 */
export interface Profile {
  /** the headers every request starts from, under the `headers` option */
  readonly headers: () => Headers.Headers
  /** undo the codings of response bodies (the pool's; a custom `transport` answers for its own) */
  readonly decompress: boolean
}

const httpxProfile: Profile = { headers: defaultHeaders, decompress: true }

/** The key of the profile on the options given to `Client.make`: one that `Client.Options` does not show. */
const ProfileKey: unique symbol = Symbol.for("httpfx/Client/profile")

/** `options` for a client that starts from `profile` rather than from httpx's defaults. */
export const withProfile = (options: ClientOptions, profile: Profile): ClientOptions =>
  ({ ...options, [ProfileKey]: profile }) as ClientOptions

const profileOf = (options: ClientOptions): Profile =>
  (options as { readonly [ProfileKey]?: Profile })[ProfileKey] ?? httpxProfile

const appendParams = (url: string, params: ReadonlyArray<readonly [string, string]>): string => {
  if (params.length === 0) return url
  const hash = url.indexOf("#")
  const base = hash >= 0 ? url.slice(0, hash) : url
  const search = new URLSearchParams()
  for (const [name, value] of params) search.append(name, value)
  const query = search.toString()
  return base + (base.includes("?") ? (base.endsWith("?") || base.endsWith("&") ? "" : "&") : "?") + query
}

const paramPairs = (params: ParamsInput | undefined): Array<readonly [string, string]> => {
  const out: Array<readonly [string, string]> = []
  if (params === undefined) return out
  if (Array.isArray(params)) {
    for (const [name, value] of params as ReadonlyArray<readonly [string, ParamValue]>) out.push([name, String(value)])
    return out
  }
  for (const [name, value] of Object.entries(params as Record<string, ParamValue | ReadonlyArray<ParamValue>>)) {
    if (value === undefined) continue
    if (Array.isArray(value)) for (const item of value) out.push([name, String(item)])
    else out.push([name, String(value)])
  }
  return out
}

/** Request params replace client params of the same name and add the rest (httpx's merge). */
const mergeParams = (
  client: ReadonlyArray<readonly [string, string]>,
  request: ParamsInput | undefined
): ReadonlyArray<readonly [string, string]> => {
  if (request === undefined) return client
  const own = paramPairs(request)
  if (client.length === 0) return own
  const replaced = new Set(own.map(([name]) => name))
  return [...client.filter(([name]) => !replaced.has(name)), ...own]
}

/**
 * httpx's URL merge: a relative URL is appended to the base URL's path (so `http://h/api` + `/get` gives
 * `http://h/api/get`, unlike RFC 3986 resolution, which would drop `/api`).
 */
const mergeUrl = (base: URL | undefined, url: string | URL): string => {
  if (typeof url !== "string") return url.href
  if (base === undefined || /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(url)) return url
  const path = url.startsWith("/") ? url.slice(1) : url
  return originOf(base) + base.pathname + path
}

/** The base URL's origin, with its userinfo: credentials in `baseUrl` are Basic auth for relative URLs, as in httpx. */
const originOf = (base: URL): string =>
  base.username === "" && base.password === ""
    ? base.origin
    : `${base.protocol}//${base.username}${base.password === "" ? "" : ":" + base.password}@${base.host}`

const toAuth = (input: AuthInput | null | undefined): Auth | null | undefined => {
  if (input === undefined || input === null) return input
  if (isAuth(input)) return input
  return basicAuth(input[0], input[1])
}

// ---- redirects ---------------------------------------------------------------------------------------------------

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])

const sameOrigin = (a: URL, b: URL) => a.protocol === b.protocol && a.host === b.host

/**
 * The next hop of a redirect, as httpx builds it (RFC 9110 §15.4): 303 turns every method but HEAD into GET,
 * 301/302 turn POST into GET (as browsers do), 307/308 keep method and body. Authorization goes when the origin
 * changes, except on an upgrade of the same host from http (port 80) to https (port 443); Proxy-Authorization goes
 * on every change of origin, the upgrade included, since an https request travels through a tunnel and the field
 * would reach the origin server. Credentials in a Location are dropped, not used: where credentials go is the
 * caller's choice.
 */
const redirectRequest = (
  request: Request,
  response: ResponseHead,
  location: string
): Request | HttpError.HttpError => {
  let next: URL
  try {
    next = new URL(location, response.url)
  } catch {
    return new HttpError.RemoteProtocolError({
      message: `${request.method} ${request.url}: the server redirected to an invalid Location ` +
        JSON.stringify(withoutUserinfo(location)),
      request: { method: request.method, url: request.url }
    })
  }
  if (next.username !== "" || next.password !== "") {
    next.username = ""
    next.password = ""
  }
  const previous = new URL(request.url)
  if (next.hash === "" && previous.hash !== "") next.hash = previous.hash
  const status = response.status
  let method = request.method
  if (status === 303 && method !== "HEAD") method = "GET"
  if ((status === 301 || status === 302) && method === "POST") method = "GET"
  let headers = Headers.remove(request.headers, "cookie")
  // As httpx, only between the default ports: another port of the same host may be another service.
  const upgrade = previous.hostname === next.hostname && previous.protocol === "http:" && previous.port === "" &&
    next.protocol === "https:" && next.port === ""
  if (!sameOrigin(previous, next)) {
    headers = Headers.remove(headers, "proxy-authorization")
    if (!upgrade) headers = Headers.remove(headers, "authorization")
  }
  if (previous.host !== next.host) headers = Headers.remove(headers, "host")
  let body = request.body
  if (method !== request.method || status === 303) {
    body = { _tag: "Empty" }
    headers = Headers.remove(Headers.remove(Headers.remove(headers, "content-length"), "content-type"), "transfer-encoding")
  } else if (body._tag === "Stream" && !body.replayable) {
    return new StreamConsumed({
      message: `${request.method} ${request.url}: the server answered ${status} to ${next.href}, which needs the ` +
        `request body sent again, but the body is a stream that cannot be replayed; buffer it (a Uint8Array) to ` +
        `follow such redirects`,
      request: { method: request.method, url: request.url }
    })
  }
  return copyRequest(request, { method, url: next.href, headers, body })
}

// ---- retries -----------------------------------------------------------------------------------------------------

interface RetryPolicy {
  readonly schedule: Schedule.Schedule<unknown, unknown>
  readonly statuses: ReadonlySet<number>
  /** milliseconds: a longer Retry-After is not waited for */
  readonly maxRetryAfter: number
}

const DEFAULT_MAX_RETRY_AFTER = 60_000

const toRetryPolicy = (input: RetryInput | undefined): RetryPolicy | undefined => {
  if (input === undefined) return undefined
  if (Schedule.isSchedule(input)) {
    return { schedule: input, statuses: new Set([429, 503]), maxRetryAfter: DEFAULT_MAX_RETRY_AFTER }
  }
  const times = typeof input === "number" ? input : input.times
  if (times <= 0) return undefined
  const backoff = typeof input === "number" ? undefined : input.backoff
  const statuses = typeof input === "number" ? undefined : input.statuses
  const maxRetryAfter = typeof input === "number" ? undefined : input.maxRetryAfter
  return {
    schedule: Schedule.intersect(Schedule.exponential(backoff ?? "500 millis", 2), Schedule.recurs(times)),
    statuses: new Set(statuses ?? [429, 503]),
    maxRetryAfter: maxRetryAfter === undefined
      ? DEFAULT_MAX_RETRY_AFTER
      : Duration.toMillis(Duration.decode(maxRetryAfter))
  }
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; milliseconds from now. */
const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

const retryableError = (error: HttpError.HttpError) =>
  HttpError.isTransportError(error) && error._tag !== "LocalProtocolError" && error._tag !== "UnsupportedProtocol"

// ---- the client --------------------------------------------------------------------------------------------------

type Sent = Response | StreamingResponse

const NO_HISTORY: ReadonlyArray<Response> = []

const flatOf = (response: ResponseHead): ReadonlyArray<string> => {
  const flat = (response as Partial<HeadBase>).flatHeaders
  return flat ?? response.rawHeaders.flatMap(([name, value]) => [name, value])
}

/**
 * The transport with the user's middleware around it, the first outermost. The result offers only `handle`: a step
 * that passed `next` on whole (`{ ...next, handle }`) must not be bypassed by `next`'s own buffered `send`.
 */
const withMiddleware = (
  transport: Transport.Transport,
  middleware: ReadonlyArray<Transport.Middleware> | undefined
): Transport.Transport => {
  if (middleware === undefined || middleware.length === 0) return transport
  let next = transport
  for (let i = middleware.length - 1; i >= 0; i--) next = middleware[i](next)
  const outer = next
  return Transport.make((request) => outer.handle(request))
}

export class ClientImpl {
  /** what requests go to: the transport, inside the user's middleware */
  readonly transport: Transport.Transport
  /** the transport as given or made, whose connections the client lists */
  private readonly base: Transport.Transport
  readonly jar: CookieJar | undefined
  private readonly baseUrl: URL | undefined
  private readonly headers: Headers.Headers
  private readonly params: ReadonlyArray<readonly [string, string]>
  private readonly auth: Auth | undefined
  private readonly followRedirects: boolean
  private readonly maxRedirects: number
  private readonly requestHooks: ReadonlyArray<RequestHook>
  private readonly responseHooks: ReadonlyArray<ResponseHook>
  private readonly retry: RetryPolicy | undefined
  private readonly total: number
  private readonly timeouts: Timeouts.Timeouts
  /** a transport of the caller's own, whose streamed bodies this client wants as they came (see `Profile`) */
  private readonly bodiesAsSent: boolean
  /**
   * The pool, when this client adds nothing to a request but its default headers and cookies (no auth, redirects,
   * hooks, retries, params or total timeout): a request whose options `fitsDirect` is then one `Effect.async` on it,
   * with the cookie jar updated from inside.
   */
  private readonly direct: PoolImpl | undefined
  private readonly finishDirect: ((response: Response) => void) | undefined
  private readonly detourDirect: (
    method: string,
    url: string,
    options: RequestOptions<any> | undefined
  ) => Effect.Effect<Response, HttpError.HttpError> | undefined
  /** The same two for `stream`: the cookies of a streamed response are stored once its head is in. */
  private readonly headDirect: ((response: StreamingResponse) => void) | undefined
  private readonly detourStreaming: (
    method: string,
    url: string,
    options: RequestOptions<any> | undefined
  ) => Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope> | undefined

  constructor(options: ClientOptions, transport: Transport.Transport) {
    this.base = transport
    this.transport = withMiddleware(transport, options.middleware)
    this.jar = options.cookies === false ? undefined : options.cookies instanceof CookieJar ? options.cookies : new CookieJar()
    if (options.baseUrl !== undefined) {
      const base = new URL(String(options.baseUrl))
      // httpx enforces a trailing slash so that relative paths extend the base path.
      if (!base.pathname.endsWith("/")) base.pathname += "/"
      this.baseUrl = base
    }
    const profile = profileOf(options)
    const start = profile.headers()
    this.bodiesAsSent = !profile.decompress && Transport.poolOf(transport) === undefined
    this.headers = options.headers === undefined ? start : Headers.merge(start, Headers.fromInput(options.headers))
    this.params = paramPairs(options.params)
    this.auth = toAuth(options.auth) ?? undefined
    this.followRedirects = options.followRedirects ?? false
    this.maxRedirects = options.maxRedirects ?? 20
    this.requestHooks = options.eventHooks?.request ?? []
    this.responseHooks = options.eventHooks?.response ?? []
    this.retry = toRetryPolicy(options.retry)
    this.timeouts = Timeouts.resolve(options.timeout)
    this.total = this.timeouts.total
    const simple = this.auth === undefined && !this.followRedirects && this.requestHooks.length === 0 &&
      this.responseHooks.length === 0 && this.retry === undefined && this.total === 0 && this.params.length === 0
    this.direct = simple && this.transport === transport ? Transport.poolOf(transport) : undefined
    const jar = this.jar
    this.finishDirect = jar === undefined ? undefined : (response) => this.storeCookies(response.url, response)
    // A jar with cookies in it may have one for this request: that takes the full path, which adds the header.
    this.detourDirect = jar === undefined
      ? () => undefined
      : (method, url, options) => jar.isEmpty ? undefined : this.sendBuffered(this.buildRequest(method, url, options))
    this.headDirect = jar === undefined ? undefined : (response) => this.storeCookies(response.url, response)
    this.detourStreaming = jar === undefined
      ? () => undefined
      : (method, url, options) => jar.isEmpty ? undefined : this.sendStreaming(this.buildRequest(method, url, options))
  }

  // ---- building --------------------------------------------------------------------------------------------------

  buildRequest<E>(method: string, url: string | URL, options?: RequestOptions<E>): Request {
    const upper = method.toUpperCase()
    let target = mergeUrl(this.baseUrl, url)
    const params = mergeParams(this.params, options?.params)
    if (params.length > 0) target = appendParams(target, params)
    const userinfo = takeUserinfo(target)
    if (userinfo !== undefined) target = userinfo.url
    const encoded = options === undefined ? Body.encode({}) : Body.encode(options)
    let headers = options?.headers === undefined
      ? this.headers
      : Headers.merge(this.headers, Headers.fromInput(options.headers))
    if (userinfo !== undefined) headers = this.urlCredentials(headers, userinfo.authorization, options?.auth)
    let error: HttpError.HttpError | undefined
    let body: Request["body"] = { _tag: "Empty" }
    if ("error" in encoded) {
      error = new LocalProtocolError({
        message: `${upper} ${target}: cannot encode the request body: ${encoded.error}`,
        request: { method: upper, url: target }
      })
    } else {
      body = encoded.body
      if (encoded.contentType !== undefined && headers["content-type"] === undefined) {
        headers = Headers.set(headers, "content-type", encoded.contentType)
      }
      if (body._tag === "Stream" && body.length !== undefined && headers["content-length"] === undefined) {
        headers = Headers.set(headers, "content-length", String(body.length))
      }
    }
    const request = makeRequest({
      method: upper,
      url: target,
      headers,
      body,
      timeout: options?.timeout,
      followRedirects: options?.followRedirects,
      limits: options?.limits,
      auth: options?.auth === undefined ? undefined : toAuth(options.auth)
    })
    if (error !== undefined) (request as unknown as { [Invalid]?: HttpError.HttpError })[Invalid] = error
    return request
  }

  /**
   * Credentials from the URL are Basic auth (as in curl and httpx) unless the request has an Auth (its own, or the
   * client's when it has none of its own; `auth: null` turns only the client's off, as in httpx) or sets an
   * Authorization field itself.
   */
  private urlCredentials(headers: Headers.Headers, authorization: string | undefined, auth: unknown): Headers.Headers {
    const authGiven = auth === undefined ? this.auth !== undefined : auth !== null
    if (authorization === undefined || authGiven || headers.authorization !== undefined) return headers
    return Headers.set(headers, "authorization", authorization)
  }

  /** A request given whole (`send`) whose URL holds credentials: they move to the headers, as `buildRequest` does. */
  private withoutUrlCredentials(request: Request): Request {
    const userinfo = takeUserinfo(request.url)
    if (userinfo === undefined) return request
    const headers = this.urlCredentials(request.headers, userinfo.authorization, request.auth)
    return copyRequest(request, { url: userinfo.url, headers })
  }

  // ---- sending ---------------------------------------------------------------------------------------------------

  request<E>(method: string, url: string | URL, options?: RequestOptions<E>): Effect.Effect<Response, HttpError.HttpError | E> {
    const direct = this.direct
    if (direct !== undefined && (options === undefined || this.fitsDirect(options))) {
      return direct.send(
        method.toUpperCase(),
        mergeUrl(this.baseUrl, url),
        this.headers,
        options?.headers as HeaderInput | undefined,
        options?.content as string | Uint8Array | undefined,
        this.finishDirect,
        this.detourDirect,
        options
      )
    }
    return Effect.suspend(() => this.sendBuffered(this.buildRequest(method, url, options))) as Effect.Effect<Response, HttpError.HttpError | E>
  }

  stream<E>(
    method: string,
    url: string | URL,
    options?: RequestOptions<E>
  ): Effect.Effect<StreamingResponse, HttpError.HttpError | E, Scope.Scope> {
    const direct = this.direct
    if (direct !== undefined && (options === undefined || this.fitsDirect(options))) {
      return direct.streamDirect(
        method.toUpperCase(),
        mergeUrl(this.baseUrl, url),
        this.headers,
        options?.headers as HeaderInput | undefined,
        options?.content as string | Uint8Array | undefined,
        this.headDirect,
        this.detourStreaming,
        options
      )
    }
    return Effect.suspend(() => this.sendStreaming(this.buildRequest(method, url, options))) as Effect.Effect<
      StreamingResponse,
      HttpError.HttpError | E,
      Scope.Scope
    >
  }

  sendBuffered(request: Request): Effect.Effect<Response, HttpError.HttpError> {
    return this.execute(request, false) as Effect.Effect<Response, HttpError.HttpError>
  }

  sendStreaming(request: Request): Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope> {
    return this.execute(request, true) as Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope>
  }

  /** What printing a client shows: never the credentials of its base URL, default headers or proxy. */
  toJSON(): unknown {
    return {
      _id: "Client",
      baseUrl: this.baseUrl === undefined ? undefined : withoutUserinfo(this.baseUrl.href),
      headers: printableHeaders(this.headers),
      followRedirects: this.followRedirects,
      cookies: this.jar !== undefined,
      transport: Transport.poolOf(this.base)?.toJSON() ?? "custom"
    }
  }

  [Symbol.for("nodejs.util.inspect.custom")](): unknown {
    return this.toJSON()
  }

  get pool(): Effect.Effect<ReadonlyArray<ConnectionInfo>> {
    return this.base.connections ?? Effect.succeed([])
  }

  private execute(given: Request, streaming: boolean): Effect.Effect<Sent, HttpError.HttpError, Scope.Scope> {
    const error = invalidOf(given)
    if (error !== undefined) return Effect.fail(error)
    const request = hasUserinfo(given.url) ? this.withoutUrlCredentials(given) : given
    const timeoutError = request.timeout === undefined ? undefined : Timeouts.timeoutProblem(request.timeout)
    if (timeoutError !== undefined) {
      return Effect.fail(
        new LocalProtocolError({
          message: `${request.method} ${request.url}: ${timeoutError}`,
          request: { method: request.method, url: request.url }
        })
      )
    }
    const auth = request.auth === undefined ? this.auth : (request.auth as Auth | null) ?? undefined
    const follow = request.followRedirects ?? this.followRedirects
    const simple = auth === undefined && !follow
    let effect: Effect.Effect<Sent, HttpError.HttpError, Scope.Scope> = simple
      ? this.hop(request, streaming, [])
      : auth === undefined
      ? this.redirects(request, streaming, follow)
      : streaming
      ? this.withAuth(auth, request, streaming, follow)
      // A buffered response holds no connection, so the flow's scope can end with the request.
      : Effect.scoped(this.withAuth(auth, request, streaming, follow))
    // A request's `timeout: null` lifts every limit, the client's total included.
    const total = request.timeout === undefined
      ? this.total
      : request.timeout === null
      ? 0
      : Timeouts.resolve(request.timeout, this.timeouts).total
    if (total > 0) {
      effect = Effect.timeoutFail(effect, {
        duration: Duration.millis(total),
        onTimeout: () =>
          new RequestTimeout({
            message: `${request.method} ${request.url} did not complete within the total timeout of ${total} ms`,
            request: { method: request.method, url: request.url }
          })
      })
    }
    return effect
  }

  /** Auth is the outer layer, as in httpx: a flow's second try runs the whole redirect chain again. */
  private withAuth(
    auth: Auth,
    request: Request,
    streaming: boolean,
    follow: boolean
  ): Effect.Effect<Sent, HttpError.HttpError, Scope.Scope> {
    return Effect.flatMap(Effect.scope, (scope) => {
      let previous: StreamingResponse | undefined
      const send = (next: Request): Effect.Effect<Sent, HttpError.HttpError> => {
        // A flow that sends again is done with the earlier response: release its connection now.
        const release = previous === undefined ? Effect.void : previous.close
        previous = undefined
        return Effect.zipRight(
          release,
          Effect.tap(
            Effect.provideService(this.redirects(next, streaming, follow), Scope.Scope, scope),
            (response) => {
              if (streaming) previous = response as StreamingResponse
            }
          )
        )
      }
      // A flow that fails after a send (a challenge it cannot answer) leaves that response unreturned: the caller
      // cannot close it, and its scope may live long, so release it here.
      return Effect.onError(
        auth.flow(request, send as any) as Effect.Effect<Sent, HttpError.HttpError>,
        () => Effect.suspend(() => previous === undefined ? Effect.void : previous.close)
      )
    })
  }

  /**
   * The direct path for a request built elsewhere (the platform adapter's): one `Effect.async` on the pool from
   * checkout to the head, with the response's cookies kept. Undefined when the request needs the full pipeline: the
   * client adds more than its default headers, its jar has cookies to send now, or one of `headers` would replace a
   * default (they go on the wire after the client's once-serialised defaults).
   */
  openDirect(
    method: string,
    href: string,
    headers: Headers.Headers,
    content: Uint8Array | undefined,
    onHead: (response: OwnedResponse) => void
  ): Effect.Effect<OwnedResponse, HttpError.HttpError> | undefined {
    const pool = this.direct
    if (pool === undefined || (this.jar !== undefined && !this.jar.isEmpty)) return undefined
    const defaults = this.headers
    for (const name in headers) if (defaults[name] !== undefined) return undefined
    const keep = this.headDirect
    // Only a client with a jar pays for the second callback.
    const seen = keep === undefined ? onHead : (response: OwnedResponse) => {
      keep(response)
      onHead(response)
    }
    return pool.open(method, href, defaults, headers, content, seen)
  }

  /**
   * Options the direct path carries as they are: raw content (bytes or a string) and headers given as a plain
   * record of strings, none of which replaces one of the client's own (those are then sent after the client's
   * once-serialised defaults, with no merged copy per request). Anything else takes the full path.
   */
  private fitsDirect(options: RequestOptions<any>): boolean {
    if (
      options.params !== undefined || options.auth !== undefined || options.timeout !== undefined ||
      options.followRedirects !== undefined || options.json !== undefined || options.form !== undefined ||
      options.files !== undefined || options.limits !== undefined
    ) return false
    const content = options.content
    if (content !== undefined && typeof content !== "string" && !(content instanceof Uint8Array)) return false
    const headers = options.headers
    if (headers === undefined) return true
    if (typeof headers !== "object" || headers === null || Symbol.iterator in headers || Headers.isHeaders(headers)) {
      return false
    }
    const defaults = this.headers
    for (const name in headers) {
      const value = (headers as Record<string, unknown>)[name]
      if (typeof value !== "string" || defaults[name.toLowerCase()] !== undefined) return false
    }
    return true
  }

  private redirects(
    request: Request,
    streaming: boolean,
    follow: boolean
  ): Effect.Effect<Sent, HttpError.HttpError, Scope.Scope> {
    if (!follow) return this.hop(request, streaming, [])
    const history: Array<Response> = []
    const loop = (current: Request): Effect.Effect<Sent, HttpError.HttpError, Scope.Scope> =>
      Effect.flatMap(this.hop(current, streaming, history), (response) => {
        const location = REDIRECT_STATUSES.has(response.status)
          ? findHeader(flatOf(response), "location")
          : undefined
        if (location === undefined) return Effect.succeed(response)
        if (history.length >= this.maxRedirects) {
          return Effect.zipRight(
            release(response),
            Effect.fail(
              new TooManyRedirects({
                message: `${request.method} ${request.url}: more than ${this.maxRedirects} redirects ` +
                  `(the last to ${withoutUserinfo(location)}); raise maxRedirects if this is expected`,
                request: { method: request.method, url: request.url }
              })
            )
          )
        }
        const next = redirectRequest(current, response, location)
        return Effect.flatMap(streaming ? drain(response as StreamingResponse) : Effect.succeed(response as Response), (hop) => {
          history.push(hop)
          return HttpError.isHttpError(next) ? Effect.fail(next) : loop(next)
        })
      })
    return loop(request)
  }

  /** One request on the wire: retries, cookies, hooks, transport. */
  private hop(
    request: Request,
    streaming: boolean,
    history: ReadonlyArray<Response>
  ): Effect.Effect<Sent, HttpError.HttpError, Scope.Scope> {
    const retry = this.retry
    if (retry === undefined || !isIdempotent(request.method)) return this.single(request, streaming, history)
    if (request.body._tag === "Stream" && !request.body.replayable) return this.single(request, streaming, history)
    // Built again for each attempt: the cookies come from the jar as it is then, with what a failed attempt stored.
    const once = Effect.suspend(() => this.single(request, streaming, history))
    return Effect.flatMap(Schedule.driver(retry.schedule), (driver) => {
      const attempt: Effect.Effect<Sent, HttpError.HttpError, Scope.Scope> = Effect.flatMap(
        Effect.either(once),
        (result) => {
          if (Either.isLeft(result)) {
            if (!retryableError(result.left)) return Effect.fail(result.left)
            return Effect.matchEffect(driver.next(result.left), {
              onFailure: () => Effect.fail(result.left),
              onSuccess: () => attempt
            })
          }
          const response = result.right
          if (!retry.statuses.has(response.status)) return Effect.succeed(response)
          const wait = parseRetryAfter(findHeader(flatOf(response), "retry-after"), Date.now())
          // A server asking for a day (or a year) is not waited on: the caller gets its answer now, and decides.
          if (wait !== undefined && wait > retry.maxRetryAfter) return Effect.succeed(response)
          // The server's Retry-After is the wait, not an addition to the backoff: sleep whatever of it the
          // schedule's own delay has not covered.
          return Effect.flatMap(Clock.currentTimeMillis, (before) =>
            Effect.matchEffect(driver.next(response), {
              onFailure: () => Effect.succeed(response),
              onSuccess: () =>
                Effect.zipRight(
                  release(response),
                  wait === undefined ? attempt : Effect.flatMap(Clock.currentTimeMillis, (after) => {
                    const rest = wait - (after - before)
                    return rest > 0 ? Effect.zipRight(Effect.sleep(Duration.millis(rest)), attempt) : attempt
                  })
                )
            }))
        }
      )
      return attempt
    })
  }

  private single(
    request: Request,
    streaming: boolean,
    history: ReadonlyArray<Response>
  ): Effect.Effect<Sent, HttpError.HttpError, Scope.Scope> {
    // What hooks see and the response keeps is printable without its secrets, whoever built it (a flow's spread).
    let outgoing = printable(request)
    const jar = this.jar
    if (jar !== undefined && !jar.isEmpty && request.headers.cookie === undefined) {
      const cookie = jar.header(request.url)
      if (cookie !== undefined) {
        outgoing = copyRequest(request, { headers: Headers.set(request.headers, "cookie", cookie) })
      }
    }
    const transport = this.transport
    const hooks = this.requestHooks.length > 0 || this.responseHooks.length > 0
    let sent: Effect.Effect<Sent, HttpError.HttpError, Scope.Scope>
    if (!streaming && !hooks && transport.send !== undefined && !this.bodiesAsSent) {
      sent = transport.send(outgoing)
    } else if (!hooks) {
      sent = streaming
        ? this.handle(outgoing)
        : Effect.scoped(Effect.flatMap(this.handle(outgoing), (response) => response.read))
    } else {
      const withHooks = Effect.zipRight(
        Effect.forEach(this.requestHooks, (hook) => hook(outgoing), { discard: true }),
        Effect.tap(this.handle(outgoing), (response) => {
          // Cookies are stored before response hooks run, so a hook sees the jar as the next request will.
          this.storeCookies(outgoing.url, response)
          // A failing hook means the caller never gets this response: release it rather than leave it to the scope.
          return Effect.onError(
            Effect.forEach(this.responseHooks, (hook) => hook(response), { discard: true }),
            () => response.close
          )
        })
      )
      sent = streaming ? withHooks : Effect.scoped(Effect.flatMap(withHooks, (response) => response.read))
    }
    return Effect.map(sent, (response) => {
      if (!hooks) this.storeCookies(outgoing.url, response)
      ;(response as unknown as HeadBase).setContext(outgoing, history.length === 0 ? NO_HISTORY : history.slice())
      return response
    })
  }

  private handle(request: Request): Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope> {
    const handled = this.transport.handle(request)
    return this.bodiesAsSent ? Effect.map(handled, asSent) : handled
  }

  private storeCookies(url: string, response: ResponseHead): void {
    const jar = this.jar
    if (jar === undefined) return
    const flat = flatOf(response)
    let lines: Array<string> | undefined
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i]!
      if (name.length === 10 && name.toLowerCase() === "set-cookie") (lines ??= []).push(flat[i + 1]!)
    }
    if (lines !== undefined) jar.store(url, lines)
  }
}

/** The response's body is to come as it was sent (see `StreamingBase.asSent`). */
const asSent = (response: StreamingResponse): StreamingResponse => {
  ;(response as StreamingBase).asSent = true
  return response
}

/** Read a redirect's body to the end so its connection can be reused, or close it: never pin it. */
const drain = (response: StreamingResponse): Effect.Effect<Response> =>
  Effect.catchAll(
    response.read,
    () => Effect.as(response.close, (response as unknown as StreamingBase).toBuffered(new Uint8Array(0)))
  )

const release = (response: Sent): Effect.Effect<void> =>
  "close" in response && Effect.isEffect((response as StreamingResponse).close)
    ? (response as StreamingResponse).close
    : Effect.void

export const makeClient = (
  options: ClientOptions = {}
): Effect.Effect<ClientImpl, HttpError.InvalidUrl | HttpError.LocalProtocolError, Scope.Scope> =>
  Effect.suspend(() => {
    const problem = clientOptionsProblem(options)
    if (problem !== undefined) return Effect.fail(problem)
    if (options.transport !== undefined) return Effect.sync(() => new ClientImpl(options, options.transport!))
    // trustEnv: HTTP_PROXY and friends apply when no proxy was given, as in curl and httpx; read when the client is
    // made, not when this Effect is built.
    const env = options.proxy !== undefined || options.trustEnv === false ? undefined : routesFromEnv(process.env)
    return Effect.map(
      makePool(options, env, profileOf(options).decompress),
      (pool) => new ClientImpl(options, Transport.fromPool(pool))
    )
  })
