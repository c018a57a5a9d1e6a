/**
 * The client (httpx's AsyncClient): builds requests from its options and a call's (base URL, params, default
 * headers, credentials in the URL, the body's encoding), then enters the request pipeline (pipeline/chain.ts), which
 * every entry point shares: `request` and the verbs, `stream`, `send`, and the platform adapter through `open` and
 * `sendStreaming`. Which steps a client installs is decided once, when it is made, in `Chain.make`.
 */
import * as Headers from "@effect/platform/Headers"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { Auth } from "../pipeline/auth.js"
import type { AuthInput, ClientOptions, ParamsInput, ParamValue, RequestOptions } from "./options.js"
import { LocalProtocolError } from "../../HttpError.js"
import * as HttpError from "../../HttpError.js"
import { basic as basicAuth, isAuth } from "../pipeline/auth.js"
import * as Chain from "../pipeline/chain.js"
import { CookieJar } from "../pipeline/cookieJar.js"
import { toRetryPolicy } from "../pipeline/retry.js"
import * as Tracing from "../pipeline/tracing.js"
import * as Body from "./body.js"
import { routesFromEnv } from "../connection/proxy.js"
import { supportedEncodings } from "../wire/decoding.js"
import { serialiseOnce } from "../wire/requestHead.js"
import { clientOptionsProblem } from "./options.js"
import type { ConnectionInfo } from "../pool/pool.js"
import { makePool } from "../pool/pool.js"
import type { Request } from "../message/request.js"
import { copy as copyRequest, emptyBody, make as makeRequest, printable } from "../message/request.js"
import type { Response, StreamingResponse } from "../message/response.js"
import * as Timeouts from "../core/timeouts.js"
import { withoutTotal } from "../core/timeouts.js"
import * as Transport from "../transport/transport.js"
import type { Opening } from "../transport/transport.js"
import { hasUserinfo, takeUserinfo, withoutUserinfo } from "../core/url.js"
import { printableHeaders } from "../core/credentials.js"
import { version } from "../core/version.js"
import type { WebSocket } from "../connection/websocket.js"
import { connect as connectWebSocket } from "./websocket.js"
import type { WebSocketOptions } from "./websocket.js"

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

// ---- the client --------------------------------------------------------------------------------------------------

const NO_OPTIONS: RequestOptions<never> = {}

export class ClientImpl {
  /** the transport as given or made, under the pipeline: whose connections the client lists */
  readonly transport: Transport.Transport
  readonly jar: CookieJar | undefined
  private readonly baseUrl: URL | undefined
  private readonly headers: Headers.Headers
  private readonly noHeaders: boolean
  private readonly params: ReadonlyArray<readonly [string, string]>
  private readonly auth: Auth | undefined
  private readonly followRedirects: boolean
  /** what every request goes through: the client's steps around its transport */
  private readonly pipeline: Chain.Pipeline
  /** the client's `timeout` sets a read timeout (one duration, `null`, or a record naming `read`): `sse` keeps it */
  readonly readTimeoutSet: boolean
  /** the client's `limits.maxBodySize` as given, which bounds each event of `sse` */
  readonly maxBodySize: number | undefined

  constructor(options: ClientOptions, transport: Transport.Transport) {
    this.transport = transport
    this.jar = options.cookies === false ? undefined : options.cookies instanceof CookieJar ? options.cookies : new CookieJar()
    if (options.baseUrl !== undefined) {
      const base = new URL(String(options.baseUrl))
      // httpx enforces a trailing slash so that relative paths extend the base path.
      if (!base.pathname.endsWith("/")) base.pathname += "/"
      this.baseUrl = base
    }
    const profile = profileOf(options)
    const start = profile.headers()
    this.headers = options.headers === undefined ? start : Headers.merge(start, Headers.fromInput(options.headers))
    this.noHeaders = Object.keys(this.headers).length === 0
    serialiseOnce(this.headers)
    this.params = paramPairs(options.params)
    this.auth = toAuth(options.auth) ?? undefined
    this.followRedirects = options.followRedirects ?? false
    this.readTimeoutSet = Timeouts.setsRead(options.timeout)
    this.maxBodySize = options.limits?.maxBodySize
    this.pipeline = Chain.make({
      timeouts: Timeouts.resolve(options.timeout),
      auth: this.auth,
      followRedirects: this.followRedirects,
      maxRedirects: options.maxRedirects ?? 20,
      retry: toRetryPolicy(options.retry),
      requestHooks: options.eventHooks?.request ?? [],
      responseHooks: options.eventHooks?.response ?? [],
      jar: this.jar,
      bodiesAsSent: !profile.decompress && Transport.poolOf(transport) === undefined,
      middleware: options.middleware,
      steps: Chain.stepsOf(options),
      tracing: Tracing.settingsOf(options.tracePropagation, options.captureHeaders)
    }, transport)
  }

  // ---- building --------------------------------------------------------------------------------------------------

  buildRequest<E>(method: string, url: string | URL, options?: RequestOptions<E>): Request {
    if (options === undefined && this.params.length === 0) {
      const plain = this.plainRequest(method, url)
      if (plain !== undefined) return plain
    }
    const upper = method.toUpperCase()
    let target = mergeUrl(this.baseUrl, url)
    const params = mergeParams(this.params, options?.params)
    if (params.length > 0) target = appendParams(target, params)
    const userinfo = takeUserinfo(target)
    if (userinfo !== undefined) target = userinfo.url
    const encoded = Body.encode(options ?? NO_OPTIONS)
    let headers = options?.headers === undefined ? this.headers : this.withHeaders(options.headers)
    if (userinfo !== undefined) headers = this.urlCredentials(headers, userinfo.authorization, options?.auth)
    let error: HttpError.HttpError | undefined
    let body: Request["body"] = emptyBody
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
   * A call with no options to a URL without credentials: the client's own headers and no body, with nothing to merge,
   * encode or check (the most common call, built without the general path's work). Undefined for any other URL.
   */
  private plainRequest(method: string, url: string | URL): Request | undefined {
    const target = mergeUrl(this.baseUrl, url)
    if (hasUserinfo(target)) return undefined
    return makeRequest({ method: method.toUpperCase(), url: target, headers: this.headers, body: emptyBody })
  }

  /** The client's headers with a request's on top; a request's `Headers` alone when the client has none (Platform). */
  private withHeaders(input: NonNullable<RequestOptions<unknown>["headers"]>): Headers.Headers {
    if (this.noHeaders && Headers.isHeaders(input)) return input
    return Headers.merge(this.headers, Headers.fromInput(input))
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
    // Built when the Effect runs: the jar, and anything else the steps read, as it is then.
    if (options === undefined) {
      // Nothing to admit but what `plainRequest` checked: straight into the pipeline.
      return Effect.suspend(() => {
        const plain = this.params.length === 0 ? this.plainRequest(method, url) : undefined
        return plain === undefined ? this.sendBuffered(this.buildRequest(method, url)) : Chain.send(this.pipeline, plain)
      })
    }
    return Effect.suspend(() => this.sendBuffered(this.buildRequest(method, url, options))) as Effect.Effect<
      Response,
      HttpError.HttpError | E
    >
  }

  stream<E>(
    method: string,
    url: string | URL,
    options?: RequestOptions<E>
  ): Effect.Effect<StreamingResponse, HttpError.HttpError | E, Scope.Scope> {
    if (options === undefined) {
      return Effect.suspend(() => {
        const plain = this.params.length === 0 ? this.plainRequest(method, url) : undefined
        return plain === undefined ? this.sendStreaming(this.buildRequest(method, url)) : Chain.stream(this.pipeline, plain)
      })
    }
    return Effect.suspend(() => this.sendStreaming(this.buildRequest(method, url, options))) as Effect.Effect<
      StreamingResponse,
      HttpError.HttpError | E,
      Scope.Scope
    >
  }

  /** A WebSocket to `url` (RFC 6455), its handshake sent through the pipeline; it closes with the scope. */
  websocket(url: string | URL, options?: WebSocketOptions): Effect.Effect<WebSocket, HttpError.HttpError, Scope.Scope> {
    return connectWebSocket(this, url, options)
  }

  /** `request` through the pipeline, buffered. */
  sendBuffered(request: Request): Effect.Effect<Response, HttpError.HttpError> {
    const ready = this.admit(request)
    return isRequest(ready) ? Chain.send(this.pipeline, ready) : Effect.fail(ready)
  }

  /** `request` through the pipeline; the response's body belongs to the scope. */
  sendStreaming(request: Request): Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope> {
    const ready = this.admit(request)
    return isRequest(ready) ? Chain.stream(this.pipeline, ready) : Effect.fail(ready)
  }

  /**
   * `request` (from `buildRequest`) through the pipeline with no Scope, the response the caller's to release (see
   * `Opening`): when the pipeline is the bare transport and that transport can. Undefined otherwise: send it with
   * `sendStreaming`, which gives the same answer in a Scope.
   */
  open(request: Request): Opening | undefined {
    const ready = this.admit(request)
    return isRequest(ready) ? Chain.open(this.pipeline, ready) : undefined
  }

  /** What printing a client shows: never the credentials of its base URL, default headers or proxy. */
  toJSON(): unknown {
    return {
      _id: "Client",
      baseUrl: this.baseUrl === undefined ? undefined : withoutUserinfo(this.baseUrl.href),
      headers: printableHeaders(this.headers),
      followRedirects: this.followRedirects,
      cookies: this.jar !== undefined,
      transport: Transport.poolOf(this.transport)?.toJSON() ?? "custom"
    }
  }

  [Symbol.for("nodejs.util.inspect.custom")](): unknown {
    return this.toJSON()
  }

  get pool(): Effect.Effect<ReadonlyArray<ConnectionInfo>> {
    return this.transport.connections ?? Effect.succeed([])
  }

  /** The request as the pipeline takes it, or why it cannot be sent. */
  private admit(given: Request): Request | HttpError.HttpError {
    const error = invalidOf(given)
    if (error !== undefined) return error
    // What hooks see and the response keeps is printable without its secrets, whoever built it (a spread).
    const request = printable(hasUserinfo(given.url) ? this.withoutUrlCredentials(given) : given)
    const timeoutError = request.timeout === undefined ? undefined : Timeouts.timeoutProblem(request.timeout)
    if (timeoutError === undefined) return request
    return new LocalProtocolError({
      message: `${request.method} ${request.url}: ${timeoutError}`,
      request: { method: request.method, url: request.url }
    })
  }
}

const isRequest = (u: Request | HttpError.HttpError): u is Request => !HttpError.isHttpError(u)

/** The key under which a `Client` made by `Client.make` keeps its implementation (src/Client.ts). */
const ImplKey = "impl"

/** The implementation behind a `Client` made by `Client.make`; undefined for any other implementation of `Client`. */
export const implOf = (client: object): ClientImpl | undefined => {
  const impl = (client as { readonly [ImplKey]?: unknown })[ImplKey]
  return impl instanceof ClientImpl ? impl : undefined
}

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
      makePool({ ...options, timeout: withoutTotal(options.timeout) }, env, profileOf(options).decompress),
      // The client's pipeline arms its total timeout: its own pool's exchanges do not arm it again.
      (pool) => new ClientImpl(options, Transport.fromPool(pool, false))
    )
  })
