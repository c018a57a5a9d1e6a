/**
 * The Effect ecosystem's HttpClient (`@effect/platform`) backed by httpfx, so code written against platform's
 * `HttpClient` (`HttpClient.get`, `HttpApiClient`, `HttpClientResponse.schemaBodyJson` …) runs on httpfx's pool
 * unchanged.
 *
 * Each platform request is sent in streaming mode, in a Scope of its own that holds the response body: it closes
 * when the body has been read (by `text`, `json`, `arrayBuffer`, `formData`, `urlParamsBody` or to the end of
 * `stream`), when the caller is interrupted, and when platform aborts the request (the response was dropped unread, or
 * the caller's scope closed under `HttpClient.withScope`). Closed before the body's last byte, it closes the
 * connection; after it, the connection is already back in the pool.
 *
 * With no options, `Platform.layer()` behaves as `@effect/platform-node`'s `NodeHttpClient.layer`: no timeouts, no
 * header the caller did not set, no cookie jar, no proxy from the environment, no redirects followed, and the body
 * and headers as the server sent them (a gzip body stays gzip). Each of httpfx's features is an option away; see
 * `Options`.
 *
 * Failures keep the httpfx error as `cause`: `RequestError` with reason `"InvalidUrl"` (InvalidUrl,
 * UnsupportedProtocol), `"Encode"` (LocalProtocolError, a body that cannot be encoded, a failing body stream) or
 * `"Transport"` (everything else: connect, read, write, timeouts, protocol errors, TooManyRedirects); a failure while
 * the body is read is a `ResponseError` with reason `"Decode"`.
 *
 * @example
 * ```ts
 * import { HttpClient, HttpClientResponse } from "@effect/platform"
 * import { Effect, Schema } from "effect"
 * import { Platform } from "httpfx"
 *
 * const User = Schema.Struct({ id: Schema.Number, name: Schema.String })
 *
 * const program = HttpClient.get("http://127.0.0.1:8080/users/1").pipe(
 *   Effect.flatMap(HttpClientResponse.schemaBodyJson(User))
 * )
 *
 * Effect.runPromise(program.pipe(Effect.provide(Platform.layer({ timeout: "10 seconds", decompress: true }))))
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Socket from "@effect/platform/Socket"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Client from "./Client.js"
import type * as HttpError from "./HttpError.js"
import * as internal from "./internal/platform/platform.js"
import * as internalWebSocket from "./internal/platform/webSocket.js"

/**
 * `Client.Options`, with defaults of platform-node's Node client rather than httpx's; each option opts in:
 *
 * - `timeout` [none]: node:http has no timeouts. One duration limits connect, read, write and pool waits as on
 *   `Client.Options` (with the 60 second head deadline); a record (`{ connect, read, write, pool, total, head }`)
 *   limits only the phases it names.
 * - `headers` [none]: no `user-agent`, `accept` or `accept-encoding` is added; fields given here go on every
 *   request, under the request's own.
 * - `decompress` [false]: when true, the body is decoded (gzip, deflate, br, zstd where Node has it) and
 *   `Accept-Encoding` names those codings unless the request sets its own; the headers stay as the server sent them
 *   (`content-encoding`, `content-length`), as with fetch and httpx. This holds for a mock or an app given as
 *   `transport` too; a `Transport.pool` given there keeps the decoding it was made with.
 * - `cookies` [false]: platform-node's client keeps no cookies; `true` (or a `CookieJar`) keeps them across requests.
 * - `trustEnv` [false]: node:http ignores `HTTP_PROXY` and friends; `true` honours them, as `Client` does.
 * - `followRedirects` [false], as before: platform's `HttpClient.followRedirects` works on top.
 *
 * Everything else (`proxy`, `tls`, `http2`, `limits`, `retry`, `maxConnections` …) means what it means on
 * `Client.Options`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Options extends Client.Options {
  /** decode the response body and ask for what can be decoded; headers stay as sent [false] */
  readonly decompress?: boolean | undefined
}

/**
 * A platform `HttpClient` that sends with the given httpfx client, as that client is configured (its pool, default
 * headers, decoding, cookies, auth, redirects and timeouts: httpx's defaults for a `Client.make` one). Platform's request URL is absolute by then, so the client's `baseUrl` does not apply; its default
 * headers do, under the request's own.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromClient: (client: Client.Client) => HttpClient.HttpClient = internal.fromClient

/**
 * A platform `HttpClient` over a new httpfx client, owned by the scope: closing it closes the pool. With no options
 * it behaves as `NodeHttpClient.layer`'s client (see `Options` for the defaults) and cannot fail. With options it fails
 * as `Client.make` does when an option cannot work (`InvalidUrl`, `LocalProtocolError`).
 *
 * @since 0.1.0
 * @category constructors
 */
export function make(): Effect.Effect<HttpClient.HttpClient, never, Scope.Scope>
export function make(
  options?: Options
): Effect.Effect<HttpClient.HttpClient, HttpError.InvalidUrl | HttpError.LocalProtocolError, Scope.Scope>
export function make(
  options?: Options
): Effect.Effect<HttpClient.HttpClient, HttpError.InvalidUrl | HttpError.LocalProtocolError, Scope.Scope> {
  const made = Effect.map(Client.make(internal.clientOptions(options)), fromClient)
  // Without options nothing can be invalid, so the type says what NodeHttpClient's does: it cannot fail.
  return options === undefined ? Effect.orDie(made) : made
}

/**
 * `@effect/platform`'s `HttpClient.HttpClient`, backed by an httpfx client made with these options (the pool,
 * unless `transport` says otherwise). With no options it is a drop-in for `NodeHttpClient.layer`: no timeouts, no
 * added headers, no cookies, no proxy from the environment, no redirects, bodies as sent (see `Options`), and, like
 * it, a `Layer<HttpClient.HttpClient>` that cannot fail. With options, building it fails as `Client.make` does when
 * an option cannot work.
 *
 * @example
 * ```ts
 * import { Platform } from "httpfx"
 *
 * // httpfx's own defaults, as `Client.layer()` has them
 * const HttpClientLive = Platform.layer({
 *   timeout: "5 seconds",
 *   decompress: true,
 *   cookies: true,
 *   headers: { "user-agent": "my-app/1.0" }
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export function layer(): Layer.Layer<HttpClient.HttpClient>
export function layer(
  options?: Options
): Layer.Layer<HttpClient.HttpClient, HttpError.InvalidUrl | HttpError.LocalProtocolError>
export function layer(
  options?: Options
): Layer.Layer<HttpClient.HttpClient, HttpError.InvalidUrl | HttpError.LocalProtocolError> {
  return Layer.scoped(HttpClient.HttpClient, make(options))
}

/**
 * `HttpClient.HttpClient` over the httpfx `Client` already in the context, so both share one pool; requests behave
 * as that client is configured (see `fromClient`), not as `layer()`'s defaults.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromClient: Layer.Layer<HttpClient.HttpClient, never, Client.Client> = Layer.effect(
  HttpClient.HttpClient,
  Effect.map(Client.Client, fromClient)
)

/**
 * The httpfx error behind a platform `RequestError`, in platform's terms: what `fromClient` fails with when the
 * exchange fails.
 *
 * @since 0.1.0
 * @category errors
 */
export const toRequestError: (
  request: HttpClientRequest.HttpClientRequest,
  error: unknown
) => HttpClientError.RequestError = internal.toRequestError

/**
 * `@effect/platform`'s `Socket.WebSocketConstructor` on httpfx's `client.websocket`, so `Socket.makeWebSocket`,
 * `Socket.layerWebSocket` and what runs on them (RPC over WebSockets) use httpfx's connections: its TLS options,
 * proxies (CONNECT or SOCKS), cookies, auth and handshake timeout. A drop-in for `NodeSocket.layerWebSocketConstructor`.
 *
 * The sockets come from one httpfx client made with these options, with the defaults of `layer()` (no timeouts, no
 * added headers, no cookies, no proxy from the environment): it is closed with the layer, and so is every socket still
 * open (1000). Each socket has a scope of its own, closed when the socket closes.
 *
 * What platform sees is a WHATWG WebSocket: binary messages arrive as `ArrayBuffer`s; a handshake that fails is an
 * `error` event then a `close` with 1006 (platform's `SocketGenericError` with reason `"Open"`); a close frame from
 * the server is a clean `close` event with its code and reason (platform's `SocketCloseError` for a code other than
 * 1000); a protocol violation by the server is an `error` then a `close` with 1006.
 *
 * @example
 * ```ts
 * import * as Socket from "@effect/platform/Socket"
 * import { Effect } from "effect"
 * import { Platform } from "httpfx"
 *
 * const program = Effect.gen(function*() {
 *   const socket = yield* Socket.makeWebSocket("ws://127.0.0.1:8080/echo")
 *   const write = yield* socket.writer
 *   yield* write("hello")
 *   yield* socket.runRaw((message) => console.log(message))
 * })
 *
 * Effect.runPromise(Effect.scoped(program).pipe(Effect.provide(Platform.layerWebSocketConstructor())))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export function layerWebSocketConstructor(): Layer.Layer<Socket.WebSocketConstructor>
export function layerWebSocketConstructor(
  options?: Client.Options
): Layer.Layer<Socket.WebSocketConstructor, HttpError.InvalidUrl | HttpError.LocalProtocolError>
export function layerWebSocketConstructor(
  options?: Client.Options
): Layer.Layer<Socket.WebSocketConstructor, HttpError.InvalidUrl | HttpError.LocalProtocolError> {
  const made = Effect.flatMap(
    Client.make(internal.clientOptions(options)),
    (client) => internalWebSocket.makeConstructor((url, protocols) => client.websocket(url, { protocols }))
  )
  return Layer.scoped(Socket.WebSocketConstructor, options === undefined ? Effect.orDie(made) : made)
}
