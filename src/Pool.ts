/**
 * The connection pool (httpcore's AsyncConnectionPool): keep-alive connections per origin, limits, timeouts, and
 * a lifetime bound to a `Scope`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Pool } from "httpfx"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const pool = yield* Pool.make({ maxConnections: 10 })
 *   const response = yield* pool.request("GET", "http://127.0.0.1:8080/")
 *   console.log(response.status, response.text)
 *   for (const connection of yield* pool.connections) console.log(String(connection))
 * }))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as HttpError from "./HttpError.js"
import type { ConnectionInfo, Options, RequestOptions } from "./internal/pool/options.js"
import type * as Metric from "effect/Metric"
import type * as MetricKeyType from "effect/MetricKeyType"
import type * as MetricState from "effect/MetricState"
import * as Metrics from "./internal/observability/metrics.js"
import * as internal from "./internal/pool/pool.js"
import type { Response, StreamingResponse } from "./Response.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("httpfx/Pool")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

export type { ConnectionInfo, Content, Options, RequestOptions } from "./internal/pool/options.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Pool {
  readonly [TypeId]: TypeId
  /** Send a request and read the whole response; the connection is back in the pool when this succeeds. */
  request<E = never>(
    method: string,
    url: string | URL,
    options?: RequestOptions<E>
  ): Effect.Effect<Response, HttpError.RequestError | E>
  /** Send a request and return once the head is in; the body belongs to the caller's scope. */
  stream<E = never>(
    method: string,
    url: string | URL,
    options?: RequestOptions<E>
  ): Effect.Effect<StreamingResponse, HttpError.RequestError | E, Scope.Scope>
  /** The live connections, as they are when this runs. */
  readonly connections: Effect.Effect<ReadonlyArray<ConnectionInfo>>
}

// The pool makes only `RequestError`s (the status, redirects and a second read of a body are the client's and the
// response's); its internals are typed with the wider `HttpError`.
class PoolService implements Pool {
  readonly [TypeId]: TypeId = TypeId
  constructor(readonly core: internal.PoolImpl) {}
  request<E = never>(method: string, url: string | URL, options?: RequestOptions<E>) {
    return this.core.request(method, url, options) as Effect.Effect<Response, HttpError.RequestError | E>
  }
  stream<E = never>(method: string, url: string | URL, options?: RequestOptions<E>) {
    return this.core.stream(method, url, options) as Effect.Effect<
      StreamingResponse,
      HttpError.RequestError | E,
      Scope.Scope
    >
  }
  get connections() {
    return this.core.connections
  }
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isPool = (u: unknown): u is Pool => typeof u === "object" && u !== null && TypeId in u

/**
 * Create a pool owned by the current scope: closing the scope closes every connection and fails waiting requests.
 *
 * Options that cannot work fail it, naming the option: `InvalidUrl` for a `proxy` that is not an `http://` or
 * `socks5://` URL with a host (and, for http, a port); `LocalProtocolError` for a count below its minimum
 * (`maxConnections` 0), a duration that does not parse, bad `limits`, `http1: false` without `http2`, or a
 * `localAddress` that is not an IP address.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: Options
): Effect.Effect<Pool, HttpError.InvalidUrl | HttpError.LocalProtocolError, Scope.Scope> =>
  Effect.map(internal.makePool(options), (core) => new PoolService(core))

/**
 * The pool as a service, for code that takes it from the context.
 *
 * @since 0.2.0
 * @category tags
 */
export const Pool: Context.Tag<Pool, Pool> = Context.GenericTag<Pool>("httpfx/Pool")

/**
 * A pool made with these options, closed with the layer. Fails as `make` does when an option cannot work.
 *
 * @example
 * ```ts
 * const program = Effect.gen(function*() {
 *   const pool = yield* Pool.Pool
 *   return yield* pool.request("GET", "http://127.0.0.1:8080/")
 * })
 * Effect.runPromise(program.pipe(Effect.provide(Pool.layer({ maxConnections: 10 }))))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<Pool, HttpError.InvalidUrl | HttpError.LocalProtocolError> =>
  Layer.scoped(Pool, make(options))

/**
 * The metrics every pool reports (OpenTelemetry's HTTP client metrics, in Effect's global registry), as `Metric`s to
 * read with `Metric.value`. Tag them as the pool does, in the same order: `openConnections` with
 * `http.connection.state` then `server.address`; `requestDuration` with `http.request.method` then
 * `http.response.status_code` (or `error.type`); `activeRequests` untagged.
 *
 * @example
 * ```ts
 * const ok = Pool.metrics.requestDuration.pipe(
 *   Metric.tagged("http.request.method", "GET"),
 *   Metric.tagged("http.response.status_code", "200")
 * )
 * const { count } = yield* Metric.value(ok)
 * ```
 *
 * @since 0.2.0
 * @category metrics
 */
export const metrics: {
  readonly openConnections: Metric.Metric.Gauge<number>
  readonly activeRequests: Metric.Metric.Gauge<number>
  readonly requestDuration: Metric.Metric<MetricKeyType.MetricKeyType.Histogram, number, MetricState.MetricState.Histogram>
} = Metrics.metrics
