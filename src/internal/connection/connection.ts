/**
 * What every connection is to the pool, whatever it speaks: one `Connection` interface (HTTP/1.1 in http1.ts, HTTP/2
 * in http2.ts, a connection still being opened in connect.ts), and the one interface through which connections
 * report to whoever holds them (`ConnectionOwner`, which the pool implements). Imports point down: nothing here
 * knows the pool.
 */
import type * as HttpError from "../../HttpError.js"
import type { Exchange, ExchangeConnection } from "../exchange/exchange.js"
import type { Target } from "../core/url.js"
import type { ConnectionGauges } from "../observability/metrics.js"

export type ConnectionState = "CONNECTING" | "ACTIVE" | "IDLE" | "CLOSED"

export type HttpVersion = "HTTP/1.1" | "HTTP/2"

/**
 * What a holder of connections keeps on each one it holds, for its own bookkeeping: kept on the connection itself
 * so that checking one out costs no Map lookup. Connections never read or write these.
 */
export class Held {
  /** on its origin's stack of connections with a free request slot */
  listed = false
  /** counted as idle (no request in flight), for the keep-alive limit and eviction */
  counted = false
  /** counted among the connections still connecting that requests for its origin wait for (`awaitable`) */
  awaited = false
  /** counted open in its server's `http.client.open_connections` (idle when `counted`), until it closes */
  gauges: ConnectionGauges | undefined = undefined
}

/** The pool's view of a connection, whatever its protocol. */
export interface Connection extends ExchangeConnection, Held {
  readonly target: Target
  readonly httpVersion: HttpVersion
  readonly state: ConnectionState
  /** requests it has carried, for snapshots */
  readonly requestCount: number
  /**
   * Free request slots right now: 1 for an idle HTTP/1.1 connection, the streams the peer still allows for HTTP/2,
   * 0 while connecting, busy, going away or closed.
   */
  readonly capacity: number
  /**
   * Still connecting, and it may turn out to take many requests at once (ALPN may pick HTTP/2): requests for its
   * origin wait for it rather than open connections of their own, as httpcore counts such a connection available.
   */
  readonly awaitable: boolean
  /** Start an exchange now, or as soon as the connection is established; the pool checks `isReusable` first. */
  assign(exchange: Exchange): void
  /** Usable for a new exchange right now: open, not expired, a request slot free. */
  isReusable(now: number): boolean
  /** Close now; idempotent. The owner hears `closed`. */
  close(): void
  /** Close and fail whatever exchanges are attached with `error`. */
  shutdown(error: HttpError.HttpError | undefined): void
}

/** What connections report to their holder (the pool). */
export interface ConnectionOwner {
  readonly keepaliveExpiry: number
  /**
   * The connection has a free request slot again: a request finished, the peer allowed more streams, or it has just
   * been opened (see `connected`).
   */
  released(connection: Connection): void
  /** The connection is gone: forget it and let a waiter have the slot. */
  closed(connection: Connection): void
  /** Run an exchange again from the start, on whatever connection the owner picks (see resend.ts). */
  acquire(exchange: Exchange): void
  /**
   * A connection being opened is open and speaks `connection`'s protocol: `connection` takes its place (and its
   * slot), and `exchange`, the request it was opened for (if it is still there), runs on it.
   */
  connected(opening: Connection, connection: Connection, exchange: Exchange | undefined): void
}

/** One connection as `Pool.connections` shows it. */
class ConnectionSnapshot {
  constructor(
    readonly origin: string,
    readonly httpVersion: HttpVersion,
    readonly state: ConnectionState,
    readonly requestCount: number
  ) {}
  toString(): string {
    return `<HTTPConnection ['${this.origin}', ${this.httpVersion}, ${this.state}, Request Count: ${this.requestCount}]>`
  }
  toJSON() {
    return { origin: this.origin, httpVersion: this.httpVersion, state: this.state, requestCount: this.requestCount }
  }
  [Symbol.for("nodejs.util.inspect.custom")]() {
    return this.toString()
  }
}

export const snapshotOf = (connection: Connection): ConnectionSnapshot =>
  new ConnectionSnapshot(connection.target.origin, connection.httpVersion, connection.state, connection.requestCount)
