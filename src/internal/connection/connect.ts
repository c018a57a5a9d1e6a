/**
 * The connect step: a route to the target (directly, through a Unix socket, or through a proxy: an HTTP CONNECT
 * tunnel, an HTTP forward proxy for http:// targets, SOCKS5), TCP and TLS with ALPN, the connect timeout and the
 * pool's connect `retries`, then the connection the negotiated protocol calls for: HTTP/1.1 or HTTP/2.
 *
 * While that goes on, an `OpeningConnection` holds the place (and the pool slot) of the connection to be; once open
 * it reports `connected` to its owner with the connection that takes its place. Plain synchronous code driven by
 * socket events.
 */
import type * as net from "node:net"
import type * as tls from "node:tls"
import { ConnectError, ConnectTimeout, ProxyError } from "../../HttpError.js"
import type * as HttpError from "../../HttpError.js"
import type { Exchange } from "../exchange/exchange.js"
import { PhaseTimer } from "../exchange/deadlines.js"
import { Opened } from "../exchange/timings.js"
import type { Target } from "../core/url.js"
import { Held } from "./connection.js"
import type { Connection, ConnectionOwner, ConnectionState } from "./connection.js"
import { failInternally, Http11Connection } from "./http1.js"
import { Http2Connection } from "./http2.js"
import { proxyFor } from "./proxy.js"
import type { ProxyConfig, ProxyRoutes } from "./proxy.js"
import { describeConnectFailure, destroyQuietly, openSocket, ReadRelay } from "./socket.js"
import type { NetworkOptions, OpenFailure, Opening, OpenMarks } from "./socket.js"

/** How a pool connects: its network options, proxies, protocols and connect retries, fixed when it is made. */
export class Connector {
  readonly network: NetworkOptions
  /** for a connection an upgrade takes over: HTTP/1.1 only, whatever the pool speaks (RFC 8441 is not spoken) */
  readonly upgradeNetwork: NetworkOptions

  constructor(
    network: Omit<NetworkOptions, "alpn">,
    private readonly proxies: ProxyRoutes | undefined,
    /** HTTP/1.1 may be spoken (`http1` option) */
    readonly http1: boolean,
    /** HTTP/2 may be spoken (`http2` option) */
    readonly http2: boolean,
    /** further connect attempts after a failed one (`retries` option) */
    readonly retries: number
  ) {
    this.network = { ...network, alpn: !http2 ? ["http/1.1"] : http1 ? ["h2", "http/1.1"] : ["h2"] }
    this.upgradeNetwork = { ...network, alpn: ["http/1.1"], tunnel: true }
  }

  /** The proxy the route to `target` goes through, if any. */
  proxyFor(target: Target): ProxyConfig | undefined {
    return proxyFor(this.proxies, target)
  }

  /**
   * The forward proxy requests to `target` are sent to, if any (an http:// target through an HTTP proxy): such a
   * request is written in absolute form, with the proxy's own credentials (RFC 9112 §3.2.2).
   */
  forwardProxy(target: Target): ProxyConfig | undefined {
    if (this.proxies === undefined || target.secure) return undefined
    const proxy = proxyFor(this.proxies, target)
    return proxy !== undefined && proxy.kind === "http" ? proxy : undefined
  }

  /** A new connection to `exchange`'s target, opening, with `exchange` its first request. */
  open(owner: ConnectionOwner, exchange: Exchange): Connection {
    return new OpeningConnection(this, owner, exchange.target, exchange)
  }
}

const enum Timer {
  None = 0,
  Connect = 1
}

/** A connection being opened: the connect step at work, in the pool as any connection is. */
class OpeningConnection extends Held implements Connection, OpenMarks {
  readonly httpVersion = "HTTP/1.1" as const
  state: ConnectionState = "CONNECTING"
  readonly requestCount = 0
  readonly capacity = 0
  readonly awaitable: boolean
  private readonly proxy: ProxyConfig | undefined
  /** reads of a socket that will speak HTTP/1.1 for sure go into memory its connection picks (see Http11Connection) */
  private readonly reader: ReadRelay | undefined
  /** opened for an upgrade request, whose socket will leave the pool: HTTP/1.1 only, read through 'data' events */
  private readonly upgrade: boolean
  private exchange: Exchange | undefined
  private opening: Opening | undefined = undefined
  private attempts = 0
  private readonly timer: PhaseTimer
  /** the connection that took this one's place, once the socket is open */
  private successor: Connection | undefined = undefined
  /** when the current connect attempt began, and then each of its steps (see `OpenMarks`) */
  private attemptAt = 0
  lookupAt = 0
  connectAt = 0
  secureAt = 0

  constructor(
    private readonly connector: Connector,
    private readonly owner: ConnectionOwner,
    readonly target: Target,
    exchange: Exchange
  ) {
    super()
    const proxy = connector.proxyFor(target)
    this.proxy = proxy
    const upgrade = exchange.upgrade
    const forward = !target.secure && !upgrade && proxy?.kind === "http"
    this.upgrade = upgrade
    // What ALPN (or h2c by prior knowledge, which a forward proxy never is) may pick; see `protocolOf`.
    this.awaitable = !upgrade && connector.http2 && (target.secure || (!connector.http1 && !forward))
    // An upgrade's connection is HTTP/1.1 whatever the pool speaks; its relay goes with the socket to the new protocol.
    this.reader = !target.secure && proxy === undefined && (connector.http1 || upgrade) ? new ReadRelay() : undefined
    this.onOpen = this.onOpen.bind(this)
    this.onOpenFailed = this.onOpenFailed.bind(this)
    this.timer = new PhaseTimer((kind) => this.onTimer(kind))
    this.exchange = exchange
    exchange.conn = this
    this.connect()
    // Its checkout: the pool's wait for it ends here, and its connect phases begin.
    exchange.checkoutAt = this.attemptAt
  }

  private connect(): void {
    this.timer.arm(Timer.Connect, this.exchange?.timeouts.connect ?? 0)
    this.attemptAt = performance.now()
    this.lookupAt = 0
    this.connectAt = 0
    this.secureAt = 0
    this.opening = openSocket(
      this.target,
      this.upgrade ? this.connector.upgradeNetwork : this.connector.network,
      this.proxy,
      this.onOpen,
      this.onOpenFailed,
      this,
      this.reader
    )
  }

  /**
   * How long the attempt that opened the socket took, phase by phase: a step it had no need of (DNS for an IP
   * literal, TLS for http://) takes no time. Failed attempts before it count for none of the phases.
   */
  private openedTimes(): Opened {
    const start = this.attemptAt
    const looked = this.lookupAt > 0 ? this.lookupAt : start
    const connected = this.connectAt > 0 ? this.connectAt : looked
    const secured = this.secureAt > 0 ? this.secureAt : connected
    return new Opened(looked - start, connected - looked, secured - connected, secured)
  }

  // ---- Node's callbacks: each catches what its code throws (see Http11Connection) ---------------------------------

  private onOpen(socket: net.Socket): void {
    const exchange = this.exchange
    try {
      this.opened(socket)
    } catch (error) {
      this.crashed(exchange, error, socket)
    }
  }

  private onOpenFailed(failure: OpenFailure): void {
    const exchange = this.exchange
    try {
      this.openFailed(failure)
    } catch (error) {
      this.crashed(exchange, error, undefined)
    }
  }

  private onTimer(kind: Timer): void {
    const exchange = this.exchange
    try {
      this.timedOut(kind)
    } catch (error) {
      this.crashed(exchange, error, undefined)
    }
  }

  // ---- opening ---------------------------------------------------------------------------------------------------

  private opened(socket: net.Socket): void {
    this.opening = undefined
    this.timer.disarm()
    const exchange = this.exchange
    this.exchange = undefined
    if (exchange === undefined) {
      // Its request went away while connecting; the pool closes such connections rather than keep a spare.
      destroyQuietly(socket)
      this.close()
      return
    }
    const protocol = this.protocolOf(socket)
    if (protocol === undefined) {
      destroyQuietly(socket)
      this.close()
      exchange.fail(
        new ConnectError({
          message: `${exchange.method} ${exchange.target.href}: ${this.target.origin} did not agree to HTTP/2 ` +
            `in the TLS handshake (ALPN), and http1 is disabled for this pool`,
          request: exchange.requestInfo
        })
      )
      return
    }
    const connection: Connection = protocol === "h2"
      ? new Http2Connection(this.owner, this.target, socket)
      : new Http11Connection(this.owner, this.target, socket, this.proxy !== undefined, this.reader)
    this.successor = connection
    exchange.opened = this.openedTimes()
    // Not close(): the pool swaps the connections, and this one's slot goes to its successor.
    this.state = "CLOSED"
    this.owner.connected(this, connection, exchange)
  }

  /**
   * The protocol the open socket speaks, as httpcore picks it: ALPN decides over TLS; plain http is h2c by prior
   * knowledge only when HTTP/1.1 is disabled; a forward proxy is always spoken to in HTTP/1.1. Undefined when only
   * HTTP/2 is allowed and the server did not agree to it.
   */
  private protocolOf(socket: net.Socket): "h2" | "http/1.1" | undefined {
    const connector = this.connector
    if (!connector.http2 || this.upgrade) return "http/1.1"
    const forward = !this.target.secure && !this.upgrade && this.proxy?.kind === "http"
    const h2 = this.target.secure ? (socket as tls.TLSSocket).alpnProtocol === "h2" : !connector.http1 && !forward
    if (h2) return "h2"
    return connector.http1 || forward ? "http/1.1" : undefined
  }

  private openFailed(failure: OpenFailure): void {
    this.opening = undefined
    const exchange = this.exchange
    this.exchange = undefined
    if (exchange !== undefined && this.retryConnect(exchange)) return
    this.close()
    if (exchange === undefined) return
    const where = `${exchange.method} ${exchange.target.href}`
    const network = this.connector.network
    exchange.fail(
      failure.phase === "proxy"
        ? new ProxyError({
          message: `${where}: ${(failure.error as Error).message}`,
          request: exchange.requestInfo,
          cause: failure.error
        })
        : new ConnectError({
          message: `${where}: ` +
            describeConnectFailure(failure.error, this.target, network.uds, this.proxy, network.alpn),
          request: exchange.requestInfo,
          cause: failure.error
        })
    )
  }

  private retryConnect(exchange: Exchange): boolean {
    if (this.attempts >= this.connector.retries) return false
    this.attempts++
    this.opening?.abort()
    this.opening = undefined
    // Exponential backoff as httpcore does: 0 s, then 0.5 s, 1 s, 2 s …
    const delay = this.attempts === 1 ? 0 : 500 * 2 ** (this.attempts - 2)
    this.exchange = exchange
    this.timer.delay(delay, () => {
      try {
        if (this.state === "CONNECTING" && this.exchange !== undefined) this.connect()
      } catch (error) {
        this.crashed(this.exchange, error, undefined)
      }
    })
    return true
  }

  private timedOut(kind: Timer): void {
    const exchange = this.exchange
    if (kind !== Timer.Connect || exchange === undefined) return this.close()
    this.exchange = undefined
    if (this.retryConnect(exchange)) return
    this.close()
    exchange.fail(
      new ConnectTimeout({
        message: `${exchange.method} ${exchange.target.href}: connecting to ${this.target.origin} took longer than ` +
          `${this.timer.ms} ms (the connect timeout)`,
        request: exchange.requestInfo
      })
    )
  }

  // ---- the pool's side -------------------------------------------------------------------------------------------

  assign(exchange: Exchange): void {
    // Only its first request runs on a connection being opened (its capacity is 0); one more would be lost.
    this.exchange = exchange
    exchange.conn = this
  }

  isReusable(_now: number): boolean {
    return false
  }

  abort(exchange: Exchange): void {
    if (this.exchange === exchange) this.exchange = undefined
    this.close()
  }

  pauseReading(_exchange: Exchange): void {}

  resumeReading(_exchange: Exchange): void {}

  writeBody(_exchange: Exchange, _bytes: Uint8Array): boolean {
    return false
  }

  endBody(_exchange: Exchange): void {}

  close(): void {
    if (this.state === "CLOSED") return
    this.state = "CLOSED"
    this.timer.disarm()
    if (this.opening !== undefined) {
      this.opening.abort()
      this.opening = undefined
    }
    this.owner.closed(this)
  }

  shutdown(error: HttpError.HttpError | undefined): void {
    const exchange = this.exchange
    this.exchange = undefined
    this.close()
    if (exchange !== undefined && error !== undefined) exchange.fail(error)
  }

  /**
   * Our own code threw in a callback of Node's: the request fails with a ReadError that keeps what was thrown (see
   * `failInternally`), and whatever was opened, this connection or the one that took its place, is closed.
   */
  private crashed(during: Exchange | undefined, error: unknown, socket: net.Socket | undefined): void {
    const current = this.exchange
    this.exchange = undefined
    try {
      const successor = this.successor
      if (successor !== undefined) successor.shutdown(undefined)
      else if (socket !== undefined) destroyQuietly(socket)
      // Closed already when the throw came after the swap: the owner forgets this connection either way.
      if (this.state === "CLOSED") this.owner.closed(this)
      else this.close()
    } catch {
      // The pool's bookkeeping threw in turn: the socket goes at least.
      if (socket !== undefined) destroyQuietly(socket)
    }
    failInternally(during, error)
    if (current !== during) failInternally(current, error)
  }
}
