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
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as HttpError from "./HttpError.js"
import type { ConnectionState } from "./internal/connection/connection.js"
import type { HeaderInput } from "./internal/wire/requestHead.js"
import type { LimitsInput } from "./internal/core/limits.js"
import type { TlsOptions } from "./internal/connection/socket.js"
import type { ProxyInput } from "./internal/connection/proxy.js"
import * as internal from "./internal/pool/pool.js"
import type { TimeoutInput } from "./internal/core/timeouts.js"
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

/**
 * Pool options; defaults: `maxConnections` 100, `maxConnectionsPerHost` no limit, `maxKeepaliveConnections` 20,
 * `keepaliveExpiry` 5 seconds, `http1` true, `http2` false, `retries` 0, `timeout` 5 seconds for each phase.
 *
 * With `http2: true`, https connections offer h2 by ALPN and one HTTP/2 connection per origin carries many requests
 * at once; with `http1: false` as well, plain http speaks h2c with prior knowledge. `proxy` sends connections
 * through an HTTP proxy (CONNECT tunnels, forwarding) or SOCKS5; its `noProxy` takes hosts, domains, IP addresses,
 * CIDR ranges (`10.0.0.0/8`, `::1/128`) and `*`, as curl's NO_PROXY does.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** connections open at once, all origins together [100] */
  readonly maxConnections?: number | undefined
  /** connections open at once to one origin [no limit] */
  readonly maxConnectionsPerHost?: number | undefined
  /** idle connections kept for reuse [20] */
  readonly maxKeepaliveConnections?: number | undefined
  /** how long an idle connection is kept [5 seconds] */
  readonly keepaliveExpiry?: Duration.DurationInput | undefined
  /** speak HTTP/1.1 [true] */
  readonly http1?: boolean | undefined
  /** speak HTTP/2: offered by ALPN on https, h2c by prior knowledge on http with `http1: false` [false] */
  readonly http2?: boolean | undefined
  /** connect attempts retried after a failed connect [0] */
  readonly retries?: number | undefined
  /** the local IP address to connect from */
  readonly localAddress?: string | undefined
  /** a Unix domain socket to connect to instead of the URL's host */
  readonly uds?: string | undefined
  readonly tls?: TlsOptions | undefined
  /** a duration for every phase, or `{ connect, read, write, pool, total }` [5 seconds each, no total] */
  readonly timeout?: TimeoutInput | undefined
  /** how large a response may be: `{ maxHeadSize [65536], maxBodySize [no limit] }` */
  readonly limits?: LimitsInput | undefined
  /**
   * Send requests through a proxy: `"http://[user:pass@]host:port"` (CONNECT tunnels for https, forwarding for
   * http) or `"socks5://[user:pass@]host:port"`; or `{ http, https, noProxy }` per scheme.
   */
  readonly proxy?: ProxyInput | undefined
}

/**
 * A request body: bytes, a string (sent as UTF-8), or a stream (sent chunked).
 *
 * @since 0.1.0
 * @category models
 */
export type Content<E = never> = Uint8Array | string | Stream.Stream<Uint8Array, E>

/**
 * @since 0.1.0
 * @category models
 */
export interface RequestOptions<E = never> {
  readonly headers?: HeaderInput | undefined
  readonly content?: Content<E> | undefined
  /** this request's timeouts, over the pool's */
  readonly timeout?: TimeoutInput | undefined
  /** this request's size limits, over the pool's */
  readonly limits?: LimitsInput | undefined
}

/**
 * A snapshot of one connection; `String(info)` prints it the way httpcore does:
 * `<HTTPConnection ['http://127.0.0.1:8080', HTTP/1.1, IDLE, Request Count: 1]>`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionInfo {
  readonly origin: string
  readonly httpVersion: "HTTP/1.1" | "HTTP/2"
  readonly state: ConnectionState
  readonly requestCount: number
  toString(): string
}

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
