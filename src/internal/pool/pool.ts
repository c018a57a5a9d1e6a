/**
 * The connection pool: connections indexed by origin, a FIFO of waiting requests, and one place
 * (`processQueue`) that decides who gets what whenever a connection frees up or goes away.
 *
 * The common path — a connection to the origin with a free request slot exists — is a Map lookup and an array pop.
 *
 * Connections are held through the `Connection` interface only (connection/connection.ts), whatever they speak: a
 * connection with free slots (an idle HTTP/1.1 one, an HTTP/2 one with free streams) sits on its origin's stack
 * while it has them. New connections come from the connect step (connection/connect.ts), which also decides the
 * route (a proxy) and the protocol; while a connection that may take many requests at once (ALPN may pick HTTP/2)
 * is still connecting, further requests to its origin wait for it rather than open connections of their own.
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Predicate from "effect/Predicate"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import {
  ConnectError,
  InvalidUrl,
  LocalProtocolError,
  PoolTimeout,
  ReadError,
  UnsupportedProtocol
} from "../../HttpError.js"
import type * as HttpError from "../../HttpError.js"
import { Exchange, Phase } from "../exchange/exchange.js"
import { armPoolWait } from "../exchange/deadlines.js"
import { sendStreamed } from "../exchange/requestBody.js"
import type { ExchangeOwner, OwnedResponse } from "../exchange/exchange.js"
import { snapshotOf } from "../connection/connection.js"
import type { Connection, ConnectionOwner } from "../connection/connection.js"
import { Connector } from "../connection/connect.js"
import { CHUNKED, declaredLength, encodeHead, encodeHeadWith, hasField, NO_BODY, printableMethod } from "../wire/requestHead.js"
import { proxyAuthorization, proxyFor, routesFrom } from "../connection/proxy.js"
import type { ProxyConfig, ProxyRoutes } from "../connection/proxy.js"
import type { Response, StreamingResponse } from "../message/response.js"
import type { ConnectionInfo, Options as PoolOptions, RequestOptions as PoolRequestOptions } from "./options.js"
import { limitsProblem, resolveLimits } from "../core/limits.js"
import { poolOptionsProblem } from "./options.js"
import type { Limits } from "../core/limits.js"
import { connectionGauges, INTERRUPTED, requestEnded, requestStarted } from "../observability/metrics.js"
import * as Timeouts from "../core/timeouts.js"
import { absoluteForm, parseTarget } from "../core/url.js"
import type { Target } from "../core/url.js"
import type { Request } from "../message/request.js"
import type { TimeoutInput } from "../core/timeouts.js"

export type { ConnectionInfo } from "./options.js"

const encoder = new TextEncoder()

export class PoolImpl implements ConnectionOwner, ExchangeOwner {
  readonly http1: boolean
  readonly http2: boolean
  readonly keepaliveExpiry: number
  readonly timeouts: Timeouts.Timeouts
  readonly limits: Limits
  /** undo the codings of response bodies; false delivers them as the server sent them (Platform.layer's default) */
  readonly decompress: boolean
  private readonly maxConnections: number
  private readonly maxPerHost: number
  private readonly maxKeepalive: number
  private readonly proxies: ProxyRoutes | undefined
  private readonly connector: Connector

  /** every live connection, oldest first */
  private readonly all = new Set<Connection>()
  /**
   * Connections with a free request slot per origin, most recently released on top (it is the least likely to
   * have been closed by the server)
   */
  private readonly available = new Map<string, Array<Connection>>()
  private listedCount = 0
  /** connections with no request in flight */
  private idleCount = 0
  private readonly perHost = new Map<string, number>()
  /**
   * Connections still connecting that requests for their origin wait for (`Connection.awaitable`), per origin: a
   * burst of requests then shares one HTTP/2 session.
   */
  private readonly awaiting = new Map<string, number>()
  private waiters: Array<Exchange | undefined> = []
  private waitHead = 0
  private waitCount = 0
  private processing = false
  private again = false
  private isClosed = false

  /** `options` as `makePool` has checked them, and the proxies they or the environment name. */
  constructor(options: PoolOptions, proxies: ProxyRoutes | undefined, decompress = true) {
    this.decompress = decompress
    this.maxConnections = options.maxConnections ?? 100
    this.maxPerHost = options.maxConnectionsPerHost ?? Infinity
    this.maxKeepalive = options.maxKeepaliveConnections ?? 20
    this.keepaliveExpiry = options.keepaliveExpiry === undefined
      ? 5_000
      : Duration.toMillis(Duration.decode(options.keepaliveExpiry))
    this.timeouts = Timeouts.resolve(options.timeout)
    this.limits = resolveLimits(options.limits)
    this.http1 = options.http1 !== false
    this.http2 = options.http2 === true
    this.connector = new Connector(
      { uds: options.uds, localAddress: options.localAddress, tls: options.tls },
      proxies,
      this.http1,
      this.http2,
      options.retries ?? 0
    )
    this.proxies = proxies
    this.acquire = this.acquire.bind(this)
  }

  proxyFor(target: Target): ProxyConfig | undefined {
    return proxyFor(this.proxies, target)
  }

  // ---- the public operations -------------------------------------------------------------------------------------

  request<E>(
    method: string,
    url: string | URL,
    options?: PoolRequestOptions<E>
  ): Effect.Effect<Response, HttpError.HttpError | E> {
    return this.buffered(method, url, options, undefined)
  }

  /** A client's request, buffered (the pipeline's transport): the response reports `request` as the one it answers. */
  send(request: Request, timeout: TimeoutInput | undefined): Effect.Effect<Response, HttpError.HttpError> {
    return this.buffered(request.method, request.url, optionsOf(request, timeout), request)
  }

  private buffered<E>(
    method: string,
    url: string | URL,
    options: PoolRequestOptions<E> | undefined,
    sent: Request | undefined
  ): Effect.Effect<Response, HttpError.HttpError | E> {
    const content = options?.content
    if (content !== undefined && typeof content !== "string" && !(content instanceof Uint8Array)) {
      // Each run is a new exchange: an Effect may be run many times, and concurrently.
      return Effect.suspend(() => {
        const exchange = this.prepare(method, url, options, false)
        if (!(exchange instanceof Exchange)) return Effect.fail(exchange)
        exchange.sent = sent
        return this.sendStreamed<Response, E>(exchange, content as Stream.Stream<Uint8Array, E>, Phase.Complete)
      })
    }
    // The common case is one Effect.async from checkout to the last byte; the exchange is made when it runs.
    return Effect.async<Response, HttpError.HttpError>((resume) => {
      const exchange = this.prepare(method, url, options, false)
      if (!(exchange instanceof Exchange)) return resume(Effect.fail(exchange))
      exchange.sent = sent
      return exchange.register(resume, Phase.Complete, this.acquire)
    })
  }

  /**
   * A client's request with no Scope (the platform adapter's): the exchange is made now, and `head` waits for the
   * response head. From then on the caller owns the response and calls `abandon` when it lets go; when `head` fails
   * or is interrupted, `abandon` lets the exchange go, even one whose head came in just as the caller gave up.
   * Since the caller always does, `head` has no canceller of its own, and no interruption handler that Effect would
   * build around one for every request.
   */
  open(request: Request, timeout: TimeoutInput | undefined): Opening {
    const exchange = this.prepare(request.method, request.url, optionsOf(request, timeout), true)
    if (!(exchange instanceof Exchange)) return new FailedOpening(exchange)
    exchange.sent = request
    return new ExchangeOpening(exchange, this.acquire)
  }

  stream<E>(
    method: string,
    url: string | URL,
    options?: PoolRequestOptions<E>
  ): Effect.Effect<StreamingResponse, HttpError.HttpError | E, Scope.Scope> {
    return this.streaming(method, url, options, undefined)
  }

  /** A client's request, streaming (the pipeline's transport): the response reports `request`. */
  streamRequest(
    request: Request,
    timeout: TimeoutInput | undefined
  ): Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope> {
    return this.streaming(request.method, request.url, optionsOf(request, timeout), request)
  }

  private streaming<E>(
    method: string,
    url: string | URL,
    options: PoolRequestOptions<E> | undefined,
    sent: Request | undefined
  ): Effect.Effect<StreamingResponse, HttpError.HttpError | E, Scope.Scope> {
    return Effect.scopeWith((scope) => {
      const exchange = this.prepare(method, url, options, true)
      if (!(exchange instanceof Exchange)) return Effect.fail(exchange)
      exchange.sent = sent
      return this.streamIn<E>(scope, exchange, options?.content as Stream.Stream<Uint8Array, E> | undefined)
    })
  }

  /** Send a streaming exchange whose body belongs to `scope`: closing it before the last byte closes the connection. */
  private streamIn<E>(
    scope: Scope.Scope,
    exchange: Exchange,
    content: Stream.Stream<Uint8Array, E> | undefined
  ): Effect.Effect<StreamingResponse, HttpError.HttpError | E> {
    const handle: { exchange: Exchange | undefined } = { exchange }
    exchange.scopeHandle = handle
    const owned = Scope.addFinalizer(scope, Effect.sync(() => handle.exchange?.abandon()))
    if (exchange.streamBody) {
      return Effect.zipRight(owned, this.sendStreamed<StreamingResponse, E>(exchange, content!, Phase.Head))
    }
    return Effect.zipRight(owned, exchange.await<StreamingResponse, HttpError.HttpError>(Phase.Head, this.acquire))
  }

  get connections(): Effect.Effect<ReadonlyArray<ConnectionInfo>> {
    return Effect.sync(() => this.snapshot())
  }

  /** What printing a pool shows: its settings and connections, never a proxy's credentials or a waiter's request. */
  toJSON(): unknown {
    const proxies = this.proxies
    return {
      _id: "Pool",
      maxConnections: this.maxConnections,
      maxKeepaliveConnections: this.maxKeepalive,
      http1: this.http1,
      http2: this.http2,
      proxy: proxies === undefined
        ? undefined
        : { http: proxies.http?.display, https: proxies.https?.display },
      connections: this.snapshot().map(String),
      waiting: this.waitCount,
      closed: this.isClosed
    }
  }

  [Symbol.for("nodejs.util.inspect.custom")](): unknown {
    return this.toJSON()
  }

  snapshot(): ReadonlyArray<ConnectionInfo> {
    const out: Array<ConnectionInfo> = []
    for (const connection of this.all) out.push(snapshotOf(connection))
    return out
  }

  get isShutdown(): boolean {
    return this.isClosed
  }

  /** Close every connection (the server sees each socket close) and fail every waiting request. */
  shutdown(): void {
    if (this.isClosed) return
    this.isClosed = true
    for (let i = this.waitHead; i < this.waiters.length; i++) {
      const exchange = this.waiters[i]
      if (exchange === undefined) continue
      exchange.queued = false
      exchange.fail(
        new ConnectError({
          message: `${exchange.method} ${exchange.target.href}: the connection pool was closed while the request ` +
            `waited for a connection`,
          request: exchange.requestInfo
        })
      )
    }
    this.waiters = []
    this.waitHead = 0
    this.waitCount = 0
    for (const connection of [...this.all]) {
      connection.shutdown(
        new ReadError({
          message: `The connection pool was closed while a request to ${connection.target.origin} was in flight`
        })
      )
    }
  }

  // ---- preparing a request ---------------------------------------------------------------------------------------

  private prepare<E>(
    method: string,
    url: string | URL,
    options: PoolRequestOptions<E> | undefined,
    streaming: boolean
  ): Exchange | HttpError.HttpError {
    const target = parseTarget(url)
    if ("_tag" in target) {
      const request = { method, url: target.url }
      switch (target._tag) {
        case "InvalidUrl":
          return new InvalidUrl({ message: target.message, request })
        case "UnsupportedProtocol":
          return new UnsupportedProtocol({ message: target.message, request })
        case "LocalProtocolError":
          return new LocalProtocolError({ message: target.message, request })
      }
    }
    let body: Uint8Array | undefined
    let streamBody = false
    let length = NO_BODY
    const content = options?.content
    if (content !== undefined) {
      if (typeof content === "string") {
        body = encoder.encode(content)
        length = body.length
      } else if (content instanceof Uint8Array) {
        body = content
        length = content.length
      } else if (Predicate.hasProperty(content, Stream.StreamTypeId)) {
        streamBody = true
        length = CHUNKED
      } else {
        return new LocalProtocolError({
          message: `${method} ${target.href}: content must be a Uint8Array, a string or a Stream of Uint8Array`,
          request: { method, url: target.href }
        })
      }
    }
    let path = target.path
    let extra = ""
    // Credentials in the URL are Basic auth, unless the caller sent an Authorization of their own (as curl does).
    const credentials = target.authorization
    if (credentials !== undefined && !hasField(options?.headers, "authorization")) {
      extra = credentials
    }
    // Only a response with a scope to own the connection can take it over (`stream`, not `send`).
    const upgrade = streaming && hasField(options?.headers, "upgrade")
    // A connection an upgrade takes over is tunnelled through an HTTP proxy (see Connector), never forwarded to it.
    if (this.proxies !== undefined && !upgrade) {
      const proxy = this.connector.forwardProxy(target)
      if (proxy !== undefined) {
        // A forward proxy needs the absolute-form target (RFC 9112 §3.2.2) and its own credentials.
        path = absoluteForm(target)
        extra += proxyAuthorization(proxy)
      }
    }
    const head = path === target.path && target.requestTail !== undefined
      ? encodeHeadWith(
        method,
        target.requestTail,
        target.hostLine,
        target.hostEnd,
        options?.headers,
        length,
        extra
      )
      : encodeHead(method, path, target.host, options?.headers, length, extra)
    if (typeof head !== "string") {
      return new LocalProtocolError({
        // The method may be what is wrong with the request: a CR or LF in it must not reach a log line raw.
        message: `${printableMethod(method)} ${target.href}: ${head.error}`,
        request: { method, url: target.href }
      })
    }
    // A request's own options are checked as a pool's are, so that a bad one fails typed, never as a defect.
    const optionsError = (options?.timeout === undefined ? undefined : Timeouts.timeoutProblem(options.timeout)) ??
      (options?.limits === undefined ? undefined : limitsProblem(options.limits))
    if (optionsError !== undefined) {
      return new LocalProtocolError({
        message: `${printableMethod(method)} ${target.href}: ${optionsError}`,
        request: { method, url: target.href }
      })
    }
    const timeouts = options?.timeout === undefined ? this.timeouts : Timeouts.resolve(options.timeout, this.timeouts)
    if (body !== undefined && body.length === 0) body = undefined
    return new Exchange({
      method,
      target,
      headBytes: head,
      headers: options?.headers,
      body,
      streamBody,
      streamLength: streamBody ? declaredLength(options?.headers) : -1,
      timeouts,
      limits: options?.limits === undefined ? this.limits : resolveLimits(options.limits, this.limits),
      streaming,
      asSent: !this.decompress,
      upgrade
    })
  }

  /**
   * A request whose body is a Stream: check out a connection and write the head, pump the body with backpressure,
   * then wait for `phase`. Interruption or the body's own failure at any point gives the connection up.
   */
  private sendStreamed<A, E>(
    exchange: Exchange,
    body: Stream.Stream<Uint8Array, E>,
    phase: Phase.Head | Phase.Complete
  ): Effect.Effect<A, HttpError.HttpError | E> {
    return sendStreamed(exchange, body, phase, this.acquire)
  }

  // ---- assignment ------------------------------------------------------------------------------------------------

  /** Give the exchange a connection now, or queue it (FIFO) until one frees up. */
  acquire(exchange: Exchange): void {
    // In flight from the first time it comes here (a resend comes back) until the exchange tells `ended`.
    if (exchange.owner === undefined) requestStarted()
    exchange.owner = this
    if (this.isClosed) {
      exchange.fail(
        new ConnectError({
          message: `${exchange.method} ${exchange.target.href}: the connection pool is closed`,
          request: exchange.requestInfo
        })
      )
      return
    }
    if (this.waitCount === 0 && this.serve(exchange)) return
    this.enqueue(exchange)
    // A waiter held back by the per-host limit, or waiting for a connection being opened, must not block requests
    // to other hosts behind it.
    if (this.maxPerHost !== Infinity || this.awaiting.size > 0) this.processQueue()
  }

  private serve(exchange: Exchange): boolean {
    const origin = exchange.target.origin
    // An upgrade takes its connection out of the pool: a new one, HTTP/1.1 for sure (see Connector.open).
    if (!exchange.upgrade) {
      const stack = this.available.get(origin)
      if (stack !== undefined && stack.length > 0 && this.assignListed(stack, exchange)) return true
      // The connection being opened may take this request too (it may be HTTP/2): wait for it to tell.
      if (this.awaiting.size > 0 && this.awaiting.has(origin)) return false
    }
    const count = this.perHost.get(origin) ?? 0
    if (count >= this.maxPerHost) return false
    if (this.all.size >= this.maxConnections) {
      // Full: make room by closing an idle connection to another origin, as httpcore does.
      if (this.idleCount === 0) return false
      this.evictOldestIdle()
      if (this.all.size >= this.maxConnections) return false
    }
    const connection = this.connector.open(this, exchange)
    this.all.add(connection)
    this.perHost.set(origin, count + 1)
    if (connection.awaitable) {
      connection.awaited = true
      this.awaiting.set(origin, (this.awaiting.get(origin) ?? 0) + 1)
    }
    return true
  }

  /**
   * Give the exchange the top connection of its origin's stack that is still usable; one that is not and has no
   * request in flight is closed on the way. A connection with slots left after this one stays on the stack.
   */
  private assignListed(stack: Array<Connection>, exchange: Exchange): boolean {
    const now = performance.now()
    while (stack.length > 0) {
      const connection = stack.pop()!
      connection.listed = false
      this.listedCount--
      if (connection.counted) {
        connection.counted = false
        this.idleCount--
        connection.gauges?.toActive()
      }
      if (connection.isReusable(now)) {
        // Its checkout, for `timings.poolWait`: the clock was read for isReusable already.
        exchange.checkoutAt = now
        connection.assign(exchange)
        if (connection.capacity > 0 && !connection.listed) this.list(connection)
        return true
      }
      if (connection.state === "IDLE") connection.close()
    }
    return false
  }

  private list(connection: Connection): void {
    const origin = connection.target.origin
    let stack = this.available.get(origin)
    if (stack === undefined) {
      stack = []
      this.available.set(origin, stack)
    }
    stack.push(connection)
    connection.listed = true
    this.listedCount++
  }

  private unlist(connection: Connection): void {
    connection.listed = false
    this.listedCount--
    const stack = this.available.get(connection.target.origin)
    if (stack === undefined) return
    const index = stack.lastIndexOf(connection)
    if (index >= 0) stack.splice(index, 1)
  }

  private evictOldestIdle(): void {
    for (const connection of this.all) {
      if (connection.counted) {
        connection.close()
        return
      }
    }
  }

  private enqueue(exchange: Exchange): void {
    exchange.queued = true
    this.waiters.push(exchange)
    this.waitCount++
    armPoolWait(exchange, () => {
      if (!exchange.queued) return
      const message = `${exchange.method} ${exchange.target.href}: no connection became free within ` +
        `${exchange.timeouts.pool} ms (the pool timeout); ${this.all.size} of ${this.maxConnections} connections ` +
        `are busy — raise maxConnections or timeout.pool`
      try {
        this.dequeue(exchange)
        exchange.fail(new PoolTimeout({ message, request: exchange.requestInfo }))
      } catch (error) {
        // A timer callback runs outside any fiber: what our code throws here fails the request, never the process.
        exchange.fail(new PoolTimeout({ message, request: exchange.requestInfo, cause: error }))
      }
    })
  }

  dequeue(exchange: Exchange): void {
    if (!exchange.queued) return
    exchange.queued = false
    exchange.clearPoolTimer()
    const index = this.waiters.indexOf(exchange, this.waitHead)
    if (index >= 0) {
      this.waiters[index] = undefined
      this.waitCount--
    }
  }

  /** The one place that hands connections to waiters, run whenever capacity may have appeared. */
  private processQueue(): void {
    if (this.processing) {
      this.again = true
      return
    }
    this.processing = true
    try {
      do {
        this.again = false
        const waiters = this.waiters
        for (let i = this.waitHead; i < waiters.length && this.waitCount > 0 && !this.isClosed; i++) {
          const exchange = waiters[i]
          if (exchange === undefined) continue
          if (this.all.size >= this.maxConnections && this.idleCount === 0 && this.listedCount === 0) break
          // A request whose watched fiber was interrupted is given up (which takes it out of the queue), not sent.
          const fiber = exchange.watchedFiber
          if (fiber !== undefined && !Cause.isEmpty(fiber.getFiberRef(FiberRef.interruptedCause))) {
            exchange.giveUp()
            continue
          }
          waiters[i] = undefined
          this.waitCount--
          exchange.queued = false
          if (this.serve(exchange)) {
            exchange.clearPoolTimer()
          } else {
            waiters[i] = exchange
            this.waitCount++
            exchange.queued = true
          }
        }
        while (this.waitHead < waiters.length && waiters[this.waitHead] === undefined) this.waitHead++
        if (this.waitHead > 1024 && this.waitHead * 2 > waiters.length) {
          this.waiters = waiters.slice(this.waitHead)
          this.waitHead = 0
        }
      } while (this.again)
    } finally {
      this.processing = false
    }
  }

  // ---- what exchanges report ------------------------------------------------------------------------------------

  /**
   * An exchange that came here ended: it is no longer in flight, and its time from reaching the pool is recorded
   * with its status, or its error (`INTERRUPTED` when its caller let go before any response).
   */
  ended(exchange: Exchange): void {
    const status = exchange.headReceived ? exchange.status : 0
    const failure = exchange.failure
    const error = failure !== undefined ? failure._tag : status === 0 ? INTERRUPTED : undefined
    requestEnded(exchange.method, status, error, (performance.now() - exchange.startedAt) / 1000)
  }

  // ---- what connections report -----------------------------------------------------------------------------------

  /** A connection has a free slot: a waiter gets it first; beyond maxKeepaliveConnections idle ones are closed. */
  released(connection: Connection): void {
    if (this.isClosed) return connection.close()
    if (!connection.listed && connection.capacity > 0) this.list(connection)
    if (!connection.counted && connection.state === "IDLE") {
      connection.counted = true
      this.idleCount++
      connection.gauges?.toIdle()
    }
    if (this.waitCount > 0) this.processQueue()
    if (connection.counted && this.idleCount > this.maxKeepalive) connection.close()
  }

  closed(connection: Connection): void {
    if (!this.all.delete(connection)) return
    const gauges = connection.gauges
    if (gauges !== undefined) {
      connection.gauges = undefined
      gauges.closed(connection.counted)
    }
    this.forget(connection)
    const origin = connection.target.origin
    const count = (this.perHost.get(origin) ?? 1) - 1
    if (count === 0) {
      this.perHost.delete(origin)
      const stack = this.available.get(origin)
      if (stack !== undefined && stack.length === 0) this.available.delete(origin)
    } else {
      this.perHost.set(origin, count)
    }
    if (this.waitCount > 0 && !this.isClosed) this.processQueue()
  }

  connected(opening: Connection, connection: Connection, exchange: Exchange | undefined): void {
    // The new connection takes the opening one's place (and its per-host count).
    if (!this.all.delete(opening)) {
      // Not ours (any more): the request goes where acquire sends it, which fails it if the pool is closed.
      connection.close()
      if (exchange !== undefined) this.acquire(exchange)
      return
    }
    this.forget(opening)
    this.all.add(connection)
    if (this.isClosed) {
      connection.shutdown(undefined)
      exchange?.fail(
        new ConnectError({
          message: `${exchange.method} ${exchange.target.href}: the connection pool was closed while the ` +
            `connection was being opened`,
          request: exchange.requestInfo
        })
      )
      return
    }
    // Counted open from now: OpenTelemetry counts connections, not attempts to open one.
    const gauges = connectionGauges(connection.target.hostname)
    connection.gauges = gauges
    gauges.opened()
    if (exchange !== undefined) connection.assign(exchange)
    // It may have room for waiters (HTTP/2), or they may now open connections of their own.
    this.released(connection)
  }

  /** Drop what the pool notes on a connection that leaves it. */
  private forget(connection: Connection): void {
    if (connection.listed) this.unlist(connection)
    if (connection.counted) {
      connection.counted = false
      this.idleCount--
    }
    if (connection.awaited) {
      connection.awaited = false
      const origin = connection.target.origin
      const count = (this.awaiting.get(origin) ?? 1) - 1
      if (count === 0) this.awaiting.delete(origin)
      else this.awaiting.set(origin, count)
    }
  }
}

/**
 * A pool owned by the scope, or why its options cannot work: `proxies` from the environment (the client's
 * `trustEnv`) when `options` name none, in which case their message names the variable. With `decompress` false,
 * response bodies come as the server sent them.
 */
export const makePool = (
  options: PoolOptions = {},
  proxies?: ProxyRoutes | string,
  decompress = true
): Effect.Effect<PoolImpl, InvalidUrl | LocalProtocolError, Scope.Scope> =>
  Effect.suspend((): Effect.Effect<PoolImpl, InvalidUrl | LocalProtocolError, Scope.Scope> => {
    const routes = options.proxy === undefined ? proxies : routesFrom(options.proxy)
    if (typeof routes === "string") return Effect.fail(new InvalidUrl({ message: routes }))
    const problem = poolOptionsProblem(options)
    if (problem !== undefined) return Effect.fail(problem)
    return Effect.acquireRelease(
      Effect.sync(() => new PoolImpl(options, routes, decompress)),
      (pool) => Effect.sync(() => pool.shutdown())
    )
  })

/** A request sent with no Scope: see `PoolImpl.open`. */
export interface Opening {
  /** interrupted, it leaves the exchange as it is: the caller must `abandon` it */
  readonly head: Effect.Effect<OwnedResponse, HttpError.HttpError>
  abandon(): void
}

// Classes rather than object literals: a request's opening lives as long as its exchange, and V8 may decide to
// allocate a literal site's objects straight in the old generation (see NO_HISTORY in streamingResponse.ts).
class ExchangeOpening implements Opening {
  readonly head: Effect.Effect<OwnedResponse, HttpError.HttpError>
  constructor(private readonly exchange: Exchange, acquire: (exchange: Exchange) => void) {
    this.head = Effect.async<OwnedResponse, HttpError.HttpError>((resume) =>
      exchange.register(resume, Phase.Head, acquire, true)
    )
  }
  abandon(): void {
    this.exchange.abandon()
  }
}

class FailedOpening implements Opening {
  readonly head: Effect.Effect<never, HttpError.HttpError>
  constructor(error: HttpError.HttpError) {
    this.head = Effect.fail(error)
  }
  abandon(): void {}
}

/** What the pool takes of a client's request. */
const optionsOf = (request: Request, timeout: TimeoutInput | undefined): PoolRequestOptions<never> => {
  const body = request.body
  const content = body._tag === "Empty" ? undefined : body._tag === "Bytes" ? body.bytes : body.stream
  return {
    headers: request.headers,
    content: content as Uint8Array | Stream.Stream<Uint8Array, never> | undefined,
    timeout,
    limits: request.limits
  }
}
