/**
 * The client (httpx's AsyncClient) as an Effect service: base URL, default headers and params, cookies, auth,
 * redirects, retries, event hooks and timeouts over a transport (the connection pool by default).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client } from "httpfx"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* Client.Client
 *   const response = yield* client.get("/users", { params: { page: 2 } })
 *   return yield* response.json
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(Client.layer({ baseUrl: "http://127.0.0.1:8080/api" }))))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as HttpError from "./HttpError.js"
import * as internal from "./internal/client.js"
import { CookieJar } from "./internal/cookieJar.js"
import type { ConnectionInfo } from "./Pool.js"
import type { Request, Response, StreamingResponse } from "./Response.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("httpfx/Client")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Client options: every `Pool.Options` field, plus `baseUrl`, `headers`, `params`, `auth`, `cookies` [true],
 * `followRedirects` [false], `maxRedirects` [20], `transport` [the pool], `eventHooks` and `retry`.
 *
 * @since 0.1.0
 * @category models
 */
export type Options = internal.ClientOptions

/**
 * Per-request options: `headers`, `params`, `json`, `form`, `files`, `content`, `auth`, `timeout`,
 * `followRedirects`.
 *
 * @since 0.1.0
 * @category models
 */
export type RequestOptions<E = never> = internal.RequestOptions<E>

/**
 * @since 0.1.0
 * @category models
 */
export type RetryPolicy = internal.RetryInput

/**
 * @since 0.1.0
 * @category models
 */
export interface Client {
  readonly [TypeId]: TypeId
  request<E = never>(method: string, url: string | URL, options?: RequestOptions<E>): Effect.Effect<Response, HttpError.HttpError | E>
  get(url: string | URL, options?: RequestOptions): Effect.Effect<Response, HttpError.HttpError>
  head(url: string | URL, options?: RequestOptions): Effect.Effect<Response, HttpError.HttpError>
  options(url: string | URL, options?: RequestOptions): Effect.Effect<Response, HttpError.HttpError>
  delete(url: string | URL, options?: RequestOptions): Effect.Effect<Response, HttpError.HttpError>
  post<E = never>(url: string | URL, options?: RequestOptions<E>): Effect.Effect<Response, HttpError.HttpError | E>
  put<E = never>(url: string | URL, options?: RequestOptions<E>): Effect.Effect<Response, HttpError.HttpError | E>
  patch<E = never>(url: string | URL, options?: RequestOptions<E>): Effect.Effect<Response, HttpError.HttpError | E>
  /** Send and return once the head is in; the body belongs to the caller's scope. */
  stream<E = never>(
    method: string,
    url: string | URL,
    options?: RequestOptions<E>
  ): Effect.Effect<StreamingResponse, HttpError.HttpError | E, Scope.Scope>
  /** Build a request with every client default merged in, without sending it. */
  buildRequest<E = never>(method: string, url: string | URL, options?: RequestOptions<E>): Request
  /** Send a built request: buffered, or streaming with `{ stream: true }`. */
  send(request: Request, options?: { readonly stream?: false }): Effect.Effect<Response, HttpError.HttpError>
  send(
    request: Request,
    options: { readonly stream: true }
  ): Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope>
  /** The connections of the default transport (empty for others). */
  readonly pool: Effect.Effect<ReadonlyArray<ConnectionInfo>>
  /** The client's cookie jar (undefined with `cookies: false`): inspect it, seed it, or share it with another client. */
  readonly cookies: CookieJar | undefined
}

/**
 * A cookie jar (RFC 6265): pass one as `cookies` to share it between clients, or read a client's own from
 * `client.cookies`.
 *
 * @since 0.1.0
 * @category models
 */
export { CookieJar }

/**
 * The client service.
 *
 * @since 0.1.0
 * @category tags
 */
export const Client: Context.Tag<Client, Client> = Context.GenericTag<Client>("httpfx/Client")

class ClientService implements Client {
  readonly [TypeId]: TypeId = TypeId
  constructor(readonly impl: internal.ClientImpl) {}
  request<E = never>(method: string, url: string | URL, options?: RequestOptions<E>) {
    return this.impl.request(method, url, options)
  }
  get(url: string | URL, options?: RequestOptions) {
    return this.impl.request("GET", url, options)
  }
  head(url: string | URL, options?: RequestOptions) {
    return this.impl.request("HEAD", url, options)
  }
  options(url: string | URL, options?: RequestOptions) {
    return this.impl.request("OPTIONS", url, options)
  }
  delete(url: string | URL, options?: RequestOptions) {
    return this.impl.request("DELETE", url, options)
  }
  post<E = never>(url: string | URL, options?: RequestOptions<E>) {
    return this.impl.request("POST", url, options)
  }
  put<E = never>(url: string | URL, options?: RequestOptions<E>) {
    return this.impl.request("PUT", url, options)
  }
  patch<E = never>(url: string | URL, options?: RequestOptions<E>) {
    return this.impl.request("PATCH", url, options)
  }
  stream<E = never>(method: string, url: string | URL, options?: RequestOptions<E>) {
    return this.impl.stream(method, url, options)
  }
  buildRequest<E = never>(method: string, url: string | URL, options?: RequestOptions<E>) {
    return this.impl.buildRequest(method, url, options)
  }
  send(request: Request, options?: { readonly stream?: boolean }): any {
    return options?.stream === true
      ? Effect.suspend(() => this.impl.sendStreaming(request))
      : Effect.suspend(() => this.impl.sendBuffered(request))
  }
  get pool() {
    return this.impl.pool
  }
  get cookies() {
    return this.impl.jar
  }
  toJSON() {
    return this.impl.toJSON()
  }
  [Symbol.for("nodejs.util.inspect.custom")]() {
    return this.impl.toJSON()
  }
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isClient = (u: unknown): u is Client => typeof u === "object" && u !== null && TypeId in u

/**
 * A client owned by the scope: its pool (unless `transport` is given) closes with it.
 *
 * Options that cannot work fail it before anything is sent, with a message that names the option and shows the value
 * (credentials removed): `InvalidUrl` for a `baseUrl` that is not an absolute `http:`/`https:` URL (`"localhost:8080"`
 * suggests `http://localhost:8080`), for a bad `proxy`, and, with `trustEnv`, for a malformed `HTTP_PROXY`,
 * `HTTPS_PROXY` or `ALL_PROXY`; `LocalProtocolError` for a default header HTTP cannot carry (CR, LF or NUL, a character
 * outside Latin-1, a bad name, or Content-Length / Transfer-Encoding) and for the pool options `Pool.make` refuses.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client } from "httpfx"
 *
 * const program = Client.make({ baseUrl: "localhost:8080" }).pipe(
 *   Effect.catchTag("InvalidUrl", (error) => Effect.logError(error.message)),
 *   Effect.scoped
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: Options
): Effect.Effect<Client, HttpError.InvalidUrl | HttpError.LocalProtocolError, Scope.Scope> =>
  Effect.map(internal.makeClient(options), (impl) => new ClientService(impl))

/**
 * The client as a layer; building it fails as `make` does when an option cannot work.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<Client, HttpError.InvalidUrl | HttpError.LocalProtocolError> =>
  Layer.scoped(Client, make(options))

/**
 * `request` with the client from the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const request = <E = never>(
  method: string,
  url: string | URL,
  options?: RequestOptions<E>
): Effect.Effect<Response, HttpError.HttpError | E, Client> =>
  Effect.flatMap(Client, (client) => client.request(method, url, options))

/**
 * @since 0.1.0
 * @category accessors
 */
export const get = (url: string | URL, options?: RequestOptions): Effect.Effect<Response, HttpError.HttpError, Client> =>
  Effect.flatMap(Client, (client) => client.get(url, options))

/**
 * @since 0.1.0
 * @category accessors
 */
export const post = <E = never>(
  url: string | URL,
  options?: RequestOptions<E>
): Effect.Effect<Response, HttpError.HttpError | E, Client> =>
  Effect.flatMap(Client, (client) => client.post(url, options))

/**
 * @since 0.1.0
 * @category accessors
 */
export const stream = <E = never>(
  method: string,
  url: string | URL,
  options?: RequestOptions<E>
): Effect.Effect<StreamingResponse, HttpError.HttpError | E, Client | Scope.Scope> =>
  Effect.flatMap(Client, (client) => client.stream(method, url, options))
