/**
 * A pool's options, and what in them cannot work: checked when the pool is made, so a value that cannot work fails
 * `Pool.make` / `Client.make` with a typed error that names the option.
 */
import type * as Duration from "effect/Duration"
import type * as Stream from "effect/Stream"
import * as net from "node:net"
import { LocalProtocolError } from "../../HttpError.js"
import type { ConnectionState } from "../connection/connection.js"
import type { ProxyInput } from "../connection/proxy.js"
import type { TlsOptions } from "../connection/socket.js"
import { limitsProblem } from "../core/limits.js"
import type { LimitsInput } from "../core/limits.js"
import { durationProblem, timeoutProblem } from "../core/timeouts.js"
import type { TimeoutInput } from "../core/timeouts.js"
import type { HeaderInput } from "../wire/requestHead.js"

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

const isWhole = (value: unknown, min: number): boolean =>
  typeof value === "number" && value >= min && (Number.isInteger(value) || value === Infinity)

export const countProblem = (name: string, value: unknown, min: number): string | undefined =>
  value === undefined || isWhole(value, min)
    ? undefined
    : `${name} must be a whole number of at least ${min}${min > 0 ? " (or Infinity)" : ""}, got ` +
      (typeof value === "string" ? JSON.stringify(value) : String(value))

/** What in the pool's options cannot work, the proxy aside (see `routesFrom`). */
export const poolOptionsProblem = (options: Options): LocalProtocolError | undefined => {
  const message = countProblem("maxConnections", options.maxConnections, 1) ??
    countProblem("maxConnectionsPerHost", options.maxConnectionsPerHost, 1) ??
    countProblem("maxKeepaliveConnections", options.maxKeepaliveConnections, 0) ??
    countProblem("retries", options.retries, 0) ??
    durationProblem("keepaliveExpiry", options.keepaliveExpiry) ??
    timeoutProblem(options.timeout) ??
    limitsProblem(options.limits) ??
    (options.http1 === false && options.http2 !== true
      ? "http1: false leaves no protocol to speak: set http2: true as well"
      : undefined) ??
    // Node's connect throws on it, and only when the first connection opens.
    (options.localAddress !== undefined && net.isIP(options.localAddress) === 0
      ? `localAddress must be an IP address of this machine, got ${JSON.stringify(options.localAddress)}`
      : undefined)
  return message === undefined ? undefined : new LocalProtocolError({ message })
}
