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
import * as Stream from "effect/Stream"
import type * as HttpError from "./HttpError.js"
import * as internal from "./internal/client/client.js"
import type {
  AuthInput,
  CaptureHeaders,
  HeadersInput,
  ParamsInput,
  RequestHook,
  RequestOptions,
  ResponseHook,
  RetryPolicy
} from "./internal/client/options.js"
import * as internalSse from "./internal/client/sse.js"
import type { SseOptions } from "./internal/client/sse.js"
import type { WebSocket } from "./internal/connection/websocket.js"
import type { WebSocketOptions } from "./internal/client/websocket.js"
import { CookieJar } from "./internal/pipeline/cookieJar.js"
import type { ServerSentEvent } from "./internal/wire/eventStream.js"
import type * as Pool from "./Pool.js"
import type { ConnectionInfo } from "./Pool.js"
import type { Request, Response, StreamingResponse } from "./Response.js"
import type * as Transport from "./Transport.js"

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

// Declared with the client (internal/client/options.ts), which reads them; `Options` is declared here, and the
// client's own copy of it is checked against it (test/types/client-options.test.ts).
export type {
  AuthInput,
  CaptureHeaders,
  HeadersInput,
  ParamsInput,
  ParamValue,
  RequestHook,
  RequestOptions,
  ResponseHook,
  RetryPolicy
} from "./internal/client/options.js"
// Declared where they are read: the event stream's parser (wire/eventStream.ts) and `sse` (client/sse.ts).
export type { SseOptions } from "./internal/client/sse.js"
export type { ServerSentEvent } from "./internal/wire/eventStream.js"
// Declared with the WebSocket (internal/connection/websocket.ts) and its handshake (internal/client/websocket.ts).
export type { WebSocket } from "./internal/connection/websocket.js"
export type { WebSocketOptions } from "./internal/client/websocket.js"

/**
 * Client options: every `Pool.Options` field, plus `baseUrl`, `headers`, `params`, `auth`, `cookies` [true],
 * `followRedirects` [false], `maxRedirects` [20], `transport` [the pool], `eventHooks`, `retry`, `trustEnv` [true],
 * `tracePropagation` [true] and `captureHeaders`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Pool.Options {
  /** an absolute `http:`/`https:` URL that relative request URLs extend (httpx's merge: its path is kept) */
  readonly baseUrl?: string | URL | undefined
  /** sent with every request; a request's own headers replace these by name */
  readonly headers?: HeadersInput | undefined
  /** added to every request's query; a request's own params replace these by name */
  readonly params?: ParamsInput | undefined
  readonly auth?: AuthInput | undefined
  /** keep a cookie jar across requests [true]; or a jar to share */
  readonly cookies?: boolean | CookieJar | undefined
  /** follow 301, 302, 303, 307 and 308 [false] */
  readonly followRedirects?: boolean | undefined
  /** the most redirects followed before `TooManyRedirects` [20] */
  readonly maxRedirects?: number | undefined
  /** what answers requests [a connection pool made from these options, closed with the client's scope] */
  readonly transport?: Transport.Transport | undefined
  /**
   * Steps of your own between the client and its transport, in order: the first wraps the rest. Each sees every
   * request the client sends (every redirect hop, retry and auth round trip) with its final headers, and what it
   * changes goes on the wire. [none]
   */
  readonly middleware?: ReadonlyArray<Transport.Middleware> | undefined
  readonly eventHooks?: {
    readonly request?: ReadonlyArray<RequestHook> | undefined
    readonly response?: ReadonlyArray<ResponseHook> | undefined
  } | undefined
  readonly retry?: RetryPolicy | undefined
  /**
   * honour HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY when no `proxy` is given [true]; a malformed proxy
   * variable fails `Client.make` with an InvalidUrl that names it
   */
  readonly trustEnv?: boolean | undefined
  /**
   * send a W3C `traceparent` (from the span of the request being sent) with every request that has none of its own
   * [true]; `Platform.layer` leaves it to @effect/platform's HttpClient, which adds its own
   */
  readonly tracePropagation?: boolean | undefined
  /**
   * header fields recorded on the request's span as `http.request.header.<name>` / `http.response.header.<name>`
   * (OpenTelemetry's names; the list of the field's values) [none]; Authorization, Cookie, Proxy-Authorization and
   * Set-Cookie are never recorded
   */
  readonly captureHeaders?: CaptureHeaders | undefined
}

/**
 * The options of one call that can add nothing to what it fails with: no redirects followed (`followRedirects`
 * absent or false) and no auth of its own but Basic (`[username, password]`) or none (`null`).
 *
 * @since 0.2.0
 * @category models
 */
export interface PlainRequestOptions<E = never> extends RequestOptions<E> {
  readonly followRedirects?: false | undefined
  readonly auth?: readonly [username: string, password: string] | null | undefined
}

/**
 * The client. `E` is what its configuration can add to every request's failures, beyond `HttpError.RequestError`:
 * `Client.make` works it out from the options (see `ConfigErrors`); the `Client` service in the context may hold any
 * client, so there it is every `HttpError`.
 *
 * A call fails with `HttpError.RequestError | E`, plus its stream body's own error, when its options are plain
 * (`PlainRequestOptions`); a call that follows redirects or brings an `Auth` of its own may fail with any `HttpError`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Client<out E = HttpError.HttpError> {
  readonly [TypeId]: TypeId
  request<SE = never>(
    method: string,
    url: string | URL,
    options?: PlainRequestOptions<SE>
  ): Effect.Effect<Response, HttpError.RequestError | E | SE>
  request<SE = never>(
    method: string,
    url: string | URL,
    options?: RequestOptions<SE>
  ): Effect.Effect<Response, HttpError.HttpError | E | SE>
  get(url: string | URL, options?: PlainRequestOptions): Effect.Effect<Response, HttpError.RequestError | E>
  get(url: string | URL, options?: RequestOptions): Effect.Effect<Response, HttpError.HttpError | E>
  head(url: string | URL, options?: PlainRequestOptions): Effect.Effect<Response, HttpError.RequestError | E>
  head(url: string | URL, options?: RequestOptions): Effect.Effect<Response, HttpError.HttpError | E>
  options(url: string | URL, options?: PlainRequestOptions): Effect.Effect<Response, HttpError.RequestError | E>
  options(url: string | URL, options?: RequestOptions): Effect.Effect<Response, HttpError.HttpError | E>
  delete(url: string | URL, options?: PlainRequestOptions): Effect.Effect<Response, HttpError.RequestError | E>
  delete(url: string | URL, options?: RequestOptions): Effect.Effect<Response, HttpError.HttpError | E>
  post<SE = never>(
    url: string | URL,
    options?: PlainRequestOptions<SE>
  ): Effect.Effect<Response, HttpError.RequestError | E | SE>
  post<SE = never>(
    url: string | URL,
    options?: RequestOptions<SE>
  ): Effect.Effect<Response, HttpError.HttpError | E | SE>
  put<SE = never>(
    url: string | URL,
    options?: PlainRequestOptions<SE>
  ): Effect.Effect<Response, HttpError.RequestError | E | SE>
  put<SE = never>(
    url: string | URL,
    options?: RequestOptions<SE>
  ): Effect.Effect<Response, HttpError.HttpError | E | SE>
  patch<SE = never>(
    url: string | URL,
    options?: PlainRequestOptions<SE>
  ): Effect.Effect<Response, HttpError.RequestError | E | SE>
  patch<SE = never>(
    url: string | URL,
    options?: RequestOptions<SE>
  ): Effect.Effect<Response, HttpError.HttpError | E | SE>
  /** Send and return once the head is in; the body belongs to the caller's scope. */
  stream<SE = never>(
    method: string,
    url: string | URL,
    options?: PlainRequestOptions<SE>
  ): Effect.Effect<StreamingResponse, HttpError.RequestError | E | SE, Scope.Scope>
  stream<SE = never>(
    method: string,
    url: string | URL,
    options?: RequestOptions<SE>
  ): Effect.Effect<StreamingResponse, HttpError.HttpError | E | SE, Scope.Scope>
  /** Build a request with every client default merged in, without sending it. */
  buildRequest<SE = never>(method: string, url: string | URL, options?: RequestOptions<SE>): Request
  /**
   * Send a built request: buffered, or streaming with `{ stream: true }`. A request carries its own redirect policy
   * and auth, so this may fail with any `HttpError`.
   */
  send(request: Request, options?: { readonly stream?: false }): Effect.Effect<Response, HttpError.HttpError>
  send(
    request: Request,
    options: { readonly stream: true }
  ): Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope>
  /**
   * The events of the event stream at `url` (WHATWG server-sent events), a GET through the client's pipeline with
   * `Accept: text/event-stream`. It reconnects as EventSource does: when the body ends or the connection fails
   * (a transport error), after the server's last `retry:` (else `options.retry`, else 3 seconds), sending
   * `Last-Event-ID`. A 204 ends it; another non-2xx status fails it with `HttpStatusError`, another content type
   * with `DecodingError`; a line or an event longer than `limits.maxBodySize` [8 MiB] with `ResponseTooLarge`. No
   * read timeout applies unless the call or the client sets one. Interrupting it closes the connection.
   */
  sse(url: string | URL, options?: SseOptions): Stream.Stream<ServerSentEvent, HttpError.HttpError>
  /**
   * A WebSocket (RFC 6455) to a `ws:` or `wss:` URL (or a path under `baseUrl`), opened with a handshake the client
   * sends as it sends any request (default headers, cookies, auth, proxies, TLS options, timeouts) over a connection
   * of its own pool, which then leaves the pool. Closing the scope closes the WebSocket (1000). A 4xx or 5xx answer
   * is an `HttpStatusError` with the response; another answer or a handshake that breaks RFC 6455, a
   * `WebSocketError`.
   */
  websocket(
    url: string | URL,
    options?: WebSocketOptions
  ): Effect.Effect<
    WebSocket,
    HttpError.RequestError | HttpError.HttpStatusError | HttpError.WebSocketError | E,
    Scope.Scope
  >
  /** The connections of the default transport (empty for others). */
  readonly pool: Effect.Effect<ReadonlyArray<ConnectionInfo>>
  /** The client's cookie jar (undefined with `cookies: false`): inspect it, seed it, or share it with another client. */
  readonly cookies: CookieJar | undefined
}

type Field<O, K extends PropertyKey> = K extends keyof O ? O[K] : undefined

type HookErrors<Hooks> = Hooks extends ReadonlyArray<(...args: ReadonlyArray<any>) => Effect.Effect<any, infer E, any>>
  ? E
  : never

/**
 * What a client's options add to every request's failures, beyond `HttpError.RequestError`: `TooManyRedirects` and
 * `StreamConsumed` when `followRedirects` may be true, the errors of its event hooks, and every `HttpError` when it
 * has an `Auth` (a flow may fail as it likes), a transport of its own or middleware. Basic auth as
 * `[username, password]` adds nothing.
 *
 * @since 0.2.0
 * @category models
 */
export type ConfigErrors<O> =
  | (true extends Field<O, "followRedirects"> ? HttpError.RedirectError : never)
  | (Field<O, "auth"> extends undefined | readonly [string, string] ? never : HttpError.HttpError)
  | (Field<O, "transport"> extends undefined ? never : HttpError.HttpError)
  | (Field<O, "middleware"> extends undefined | ReadonlyArray<never> ? never : HttpError.HttpError)
  | HookErrors<Field<NonNullable<Field<O, "eventHooks">>, "request">>
  | HookErrors<Field<NonNullable<Field<O, "eventHooks">>, "response">>

/**
 * A cookie jar (RFC 6265): pass one as `cookies` to share it between clients, or read a client's own from
 * `client.cookies`.
 *
 * @since 0.1.0
 * @category models
 */
export { CookieJar }

/**
 * The client service: any client, so its calls may fail with any `HttpError`. For the narrower type of a client
 * made from known options, keep the `Client.make` value, or put it in a tag of your own typed with it.
 *
 * @since 0.1.0
 * @category tags
 */
export const Client: Context.Tag<Client, Client> = Context.GenericTag<Client>("httpfx/Client")

class ClientService implements Client<any> {
  readonly [TypeId]: TypeId = TypeId
  constructor(readonly impl: internal.ClientImpl) {}
  request(method: string, url: string | URL, options?: RequestOptions<any>): Effect.Effect<Response, any> {
    return this.impl.request(method, url, options)
  }
  get(url: string | URL, options?: RequestOptions): Effect.Effect<Response, any> {
    return this.impl.request("GET", url, options)
  }
  head(url: string | URL, options?: RequestOptions): Effect.Effect<Response, any> {
    return this.impl.request("HEAD", url, options)
  }
  options(url: string | URL, options?: RequestOptions): Effect.Effect<Response, any> {
    return this.impl.request("OPTIONS", url, options)
  }
  delete(url: string | URL, options?: RequestOptions): Effect.Effect<Response, any> {
    return this.impl.request("DELETE", url, options)
  }
  post(url: string | URL, options?: RequestOptions<any>): Effect.Effect<Response, any> {
    return this.impl.request("POST", url, options)
  }
  put(url: string | URL, options?: RequestOptions<any>): Effect.Effect<Response, any> {
    return this.impl.request("PUT", url, options)
  }
  patch(url: string | URL, options?: RequestOptions<any>): Effect.Effect<Response, any> {
    return this.impl.request("PATCH", url, options)
  }
  stream(
    method: string,
    url: string | URL,
    options?: RequestOptions<any>
  ): Effect.Effect<StreamingResponse, any, Scope.Scope> {
    return this.impl.stream(method, url, options)
  }
  buildRequest(method: string, url: string | URL, options?: RequestOptions<any>): Request {
    return this.impl.buildRequest(method, url, options)
  }
  send(request: Request, options?: { readonly stream?: boolean }): any {
    return options?.stream === true
      ? Effect.suspend(() => this.impl.sendStreaming(request))
      : Effect.suspend(() => this.impl.sendBuffered(request))
  }
  sse(url: string | URL, options?: SseOptions): Stream.Stream<ServerSentEvent, HttpError.HttpError> {
    return internalSse.sse(this.impl, url, options)
  }
  websocket(url: string | URL, options?: WebSocketOptions): Effect.Effect<WebSocket, any, Scope.Scope> {
    return this.impl.websocket(url, options)
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
export const make: {
  (): Effect.Effect<Client<never>, HttpError.InvalidUrl | HttpError.LocalProtocolError, Scope.Scope>
  <O extends Options>(
    options?: O
  ): Effect.Effect<Client<ConfigErrors<O>>, HttpError.InvalidUrl | HttpError.LocalProtocolError, Scope.Scope>
} = (options?: Options): Effect.Effect<any, HttpError.InvalidUrl | HttpError.LocalProtocolError, Scope.Scope> =>
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
export const request = <SE = never>(
  method: string,
  url: string | URL,
  options?: RequestOptions<SE>
): Effect.Effect<Response, HttpError.HttpError | SE, Client> =>
  Effect.flatMap(Client, (client) => client.request(method, url, options as RequestOptions<SE>))

/**
 * `get` with the client from the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const get = (
  url: string | URL,
  options?: RequestOptions
): Effect.Effect<Response, HttpError.HttpError, Client> =>
  Effect.flatMap(Client, (client) => client.get(url, options as RequestOptions))

/**
 * `head` with the client from the context.
 *
 * @since 0.2.0
 * @category accessors
 */
export const head = (
  url: string | URL,
  options?: RequestOptions
): Effect.Effect<Response, HttpError.HttpError, Client> =>
  Effect.flatMap(Client, (client) => client.head(url, options as RequestOptions))

const optionsOf = (url: string | URL, options?: RequestOptions): Effect.Effect<Response, HttpError.HttpError, Client> =>
  Effect.flatMap(Client, (client) => client.options(url, options as RequestOptions))

export {
  /**
   * `options` with the client from the context (an OPTIONS request).
   *
   * @since 0.2.0
   * @category accessors
   */
  optionsOf as options
}

const deleteOf = (url: string | URL, options?: RequestOptions): Effect.Effect<Response, HttpError.HttpError, Client> =>
  Effect.flatMap(Client, (client) => client.delete(url, options as RequestOptions))

export {
  /**
   * `delete` with the client from the context.
   *
   * @since 0.2.0
   * @category accessors
   */
  deleteOf as delete
}

/**
 * `post` with the client from the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const post = <SE = never>(
  url: string | URL,
  options?: RequestOptions<SE>
): Effect.Effect<Response, HttpError.HttpError | SE, Client> =>
  Effect.flatMap(Client, (client) => client.post(url, options as RequestOptions<SE>))

/**
 * `put` with the client from the context.
 *
 * @since 0.2.0
 * @category accessors
 */
export const put = <SE = never>(
  url: string | URL,
  options?: RequestOptions<SE>
): Effect.Effect<Response, HttpError.HttpError | SE, Client> =>
  Effect.flatMap(Client, (client) => client.put(url, options as RequestOptions<SE>))

/**
 * `patch` with the client from the context.
 *
 * @since 0.2.0
 * @category accessors
 */
export const patch = <SE = never>(
  url: string | URL,
  options?: RequestOptions<SE>
): Effect.Effect<Response, HttpError.HttpError | SE, Client> =>
  Effect.flatMap(Client, (client) => client.patch(url, options as RequestOptions<SE>))

/**
 * `stream` with the client from the context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const stream = <SE = never>(
  method: string,
  url: string | URL,
  options?: RequestOptions<SE>
): Effect.Effect<StreamingResponse, HttpError.HttpError | SE, Client | Scope.Scope> =>
  Effect.flatMap(Client, (client) => client.stream(method, url, options as RequestOptions<SE>))

/**
 * `buildRequest` with the client from the context.
 *
 * @since 0.2.0
 * @category accessors
 */
export const buildRequest = <SE = never>(
  method: string,
  url: string | URL,
  options?: RequestOptions<SE>
): Effect.Effect<Request, never, Client> => Effect.map(Client, (client) => client.buildRequest(method, url, options))

/**
 * `send` with the client from the context: buffered, or streaming with `{ stream: true }`.
 *
 * @since 0.2.0
 * @category accessors
 */
export const send: {
  (request: Request, options?: { readonly stream?: false }): Effect.Effect<Response, HttpError.HttpError, Client>
  (
    request: Request,
    options: { readonly stream: true }
  ): Effect.Effect<StreamingResponse, HttpError.HttpError, Client | Scope.Scope>
} = (request: Request, options?: { readonly stream?: boolean }): any =>
  Effect.flatMap(Client, (client) => client.send(request, options as { readonly stream: true }))

/**
 * `sse` with the client from the context.
 *
 * @since 0.3.0
 * @category accessors
 */
export const sse = (
  url: string | URL,
  options?: SseOptions
): Stream.Stream<ServerSentEvent, HttpError.HttpError, Client> =>
  Stream.unwrap(Effect.map(Client, (client) => client.sse(url, options)))

/**
 * The connections of the default transport of the client from the context (empty for others).
 *
 * @since 0.2.0
 * @category accessors
 */
export const pool: Effect.Effect<ReadonlyArray<ConnectionInfo>, never, Client> = Effect.flatMap(
  Client,
  (client) => client.pool
)

/**
 * `websocket` with the client from the context: a WebSocket that closes (1000) with the scope.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Client } from "httpfx"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const socket = yield* Client.websocket("ws://127.0.0.1:8080/echo")
 *   yield* socket.send("hello")
 *   return yield* Stream.runHead(socket.messages)
 * }))
 * ```
 *
 * @since 0.2.0
 * @category accessors
 */
export const websocket = (
  url: string | URL,
  options?: WebSocketOptions
): Effect.Effect<WebSocket, HttpError.HttpError, Client | Scope.Scope> =>
  Effect.flatMap(Client, (client) => client.websocket(url, options))
