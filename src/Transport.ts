/**
 * Transports: what actually answers a client's requests. The connection pool by default; a mock or an in-process
 * web app for tests (httpx's MockTransport and ASGITransport).
 *
 * @since 0.1.0
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as HttpError from "./HttpError.js"
import { makePool } from "./internal/pool/pool.js"
import * as transportMock from "./internal/transport/mock.js"
import { fromPoolWith } from "./internal/transport/poolTransport.js"
import type * as Pool from "./Pool.js"
import type { Request, Response, StreamingResponse } from "./Response.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("httpfx/Transport")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Turns a request into a streaming response whose body belongs to the given scope.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transport {
  readonly [TypeId]: TypeId
  /** Send the request; the response's body belongs to the scope. */
  handle(request: Request): Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope>
  /** Send the request and read the whole body; when absent the client uses `handle` and `read`. */
  readonly send?: ((request: Request) => Effect.Effect<Response, HttpError.HttpError>) | undefined
  /** The connections behind the transport, when it has any. */
  readonly connections?: Effect.Effect<ReadonlyArray<Pool.ConnectionInfo>> | undefined
}

/**
 * A step between a client and its transport (OkHttp's network interceptor): it gets the next transport and returns
 * one that may change the request, observe or replace the response, or fail. Give them to a client as
 * `Client.Options.middleware`.
 *
 * @example
 * ```ts
 * const requestId: Transport.Middleware = (next) =>
 *   Transport.make((request) =>
 *     next.handle({ ...request, headers: Headers.set(request.headers, "x-request-id", crypto.randomUUID()) })
 *   )
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type Middleware = (next: Transport) => Transport

/**
 * @since 0.1.0
 * @category guards
 */
export const isTransport = (u: unknown): u is Transport => typeof u === "object" && u !== null && TypeId in u

/**
 * Build a transport from a handler.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  handle: Transport["handle"],
  extras?: { readonly send?: Transport["send"]; readonly connections?: Transport["connections"] }
): Transport => ({ [TypeId]: TypeId, handle, send: extras?.send, connections: extras?.connections })

/**
 * A connection pool owned by the scope, as a transport: the default of every client. Fails as `Pool.make` does when
 * an option cannot work.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pool = (
  options?: Pool.Options
): Effect.Effect<Transport, HttpError.InvalidUrl | HttpError.LocalProtocolError, Scope.Scope> =>
  Effect.map(makePool(options), (pool) => fromPoolWith(pool, make))

/**
 * A transport that answers every request with the handler's web `Response` (httpx's MockTransport). The handler sees
 * the request the client built (base URL, params, headers, cookies and body merged); its response is served as the
 * wire would be: Content-Encoding is decoded, Set-Cookie lines reach the cookie jar, redirects, auth and retries
 * apply. An empty `statusText` reads as the standard reason phrase. There are no connections (`client.pool` is
 * empty) and only the client's `total` timeout applies.
 *
 * The handler may also return a Promise of a Response. When it throws, rejects, or its Effect fails or dies, the
 * request dies with that original error as a defect (httpx's `raise_app_exceptions`), so a test sees its own
 * exception through `Effect.exit` or `Cause.squash`. An httpfx error (`new HttpError.ReadTimeout({ message })`,
 * a `ConnectError` …) is the exception: the request fails with it, typed, as over a socket, so retries, `catchTag`
 * and `Platform.layer` see a simulated network failure as they would a real one. One that names no `request` gets
 * the one being handled, with its method and URL in front of its message. A body stream that errors with an
 * httpfx error fails the body read with it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Transport } from "httpfx"
 *
 * const transport = Transport.mock((request) =>
 *   request.url.endsWith("/user") ? Response.json({ name: "Ada" }) : new Response("no such page", { status: 404 })
 * )
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* Client.Client
 *   const response = yield* client.get("/user")
 *   return yield* response.json
 * }).pipe(Effect.provide(Client.layer({ baseUrl: "http://api.test", transport })))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const mock: (
  handler: (
    request: Request
  ) => Effect.Effect<globalThis.Response, unknown> | globalThis.Response | Promise<globalThis.Response>
) => Transport = (handler) => make(transportMock.mock(handler))

/**
 * A transport that calls a web application in-process, with no socket (httpx's ASGITransport). Bodies stream both
 * ways: a streamed request body reaches the app chunk by chunk as its `ReadableStream`, and the app's response body
 * reaches `client.stream` as the app produces it; closing the response (or its scope) cancels the app's body stream
 * and aborts the web request's `signal`. GET and HEAD requests carry no body; a HEAD response's body is dropped.
 *
 * The application is either of:
 *
 * - a fetch-style handler, `(request: Request) => Response | Promise<Response>` (Hono's `app.fetch`, a bare
 *   function). When it throws or rejects, the request dies with that original error; with an httpfx error, it
 *   fails with it, typed, as `mock` does.
 * - an `@effect/platform` `HttpApp` (an `HttpRouter` is one), run in the caller's fiber with platform's own error
 *   handling, so errors platform answers stay responses (`RouteNotFound` → 404, `HttpServerError`s and other
 *   `Respondable` errors → their response, a `ParseError` → 400). Any other failure or defect, which platform would
 *   turn into a bare 500, makes the request die with that original error instead (or fail with it, when it is an
 *   httpfx error). Interrupting the request
 *   interrupts the app. Its requirements must be met already: only `HttpServerRequest` and `Scope` are provided
 *   (provide anything else with `Effect.provide`, or turn the app into a fetch handler with platform's
 *   `HttpApp.toWebHandlerRuntime(runtime)` and pass that).
 *
 * A request whose streamed body fails fails with that stream's own error, as over the pool.
 *
 * @example
 * ```ts
 * import { HttpRouter, HttpServerResponse } from "@effect/platform"
 * import { Client, Transport } from "httpfx"
 *
 * const fetchStyle = Transport.handler((request) => new Response(`you sent ${request.method}`))
 *
 * const app = HttpRouter.empty.pipe(HttpRouter.get("/hello", HttpServerResponse.text("hi")))
 * const layer = Client.layer({ baseUrl: "http://app.test", transport: Transport.handler(app) })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const handler: {
  <E>(app: HttpApp.Default<E, Scope.Scope>): Transport
  (fetchHandler: (request: globalThis.Request) => globalThis.Response | Promise<globalThis.Response>): Transport
} = (app: Parameters<typeof transportMock.handler>[0]) => make(transportMock.handler(app))
