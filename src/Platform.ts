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
 * Effect.runPromise(program.pipe(Effect.provide(Platform.layer({ timeout: "10 seconds" }))))
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Client from "./Client.js"
import type * as HttpError from "./HttpError.js"
import * as internal from "./internal/platform.js"

/**
 * A platform `HttpClient` that sends with the given httpfx client (its pool, defaults, cookies, auth, redirects
 * and timeouts). Platform's request URL is absolute by then, so the client's `baseUrl` does not apply; its default
 * headers do, under the request's own.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromClient: (client: Client.Client) => HttpClient.HttpClient = internal.fromClient

/**
 * A platform `HttpClient` over a new httpfx client, owned by the scope: closing it closes the pool. Fails as
 * `Client.make` does when an option cannot work (`InvalidUrl`, `LocalProtocolError`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: Client.Options
): Effect.Effect<HttpClient.HttpClient, HttpError.InvalidUrl | HttpError.LocalProtocolError, Scope.Scope> =>
  Effect.map(Client.make(options), fromClient)

/**
 * `@effect/platform`'s `HttpClient.HttpClient`, backed by an httpfx client made with these options (the pool,
 * unless `transport` says otherwise). Redirects follow the options (off by default, as with platform's Node client);
 * platform's `HttpClient.followRedirects` works on top. Building it fails as `Client.make` does when an option
 * cannot work.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: Client.Options
): Layer.Layer<HttpClient.HttpClient, HttpError.InvalidUrl | HttpError.LocalProtocolError> =>
  Layer.scoped(HttpClient.HttpClient, make(options))

/**
 * `HttpClient.HttpClient` over the httpfx `Client` already in the context, so both share one pool.
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
