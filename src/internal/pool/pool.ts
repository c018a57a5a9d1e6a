/**
 * The connection pool: connections indexed by origin, a FIFO of waiting requests, and one place
 * (`processQueue`) that decides who gets what whenever a connection frees up or goes away.
 *
 * The common path — an idle connection to the origin exists — is a Map lookup and an array pop.
 *
 * HTTP/2 (with `http2: true`): a new connection negotiates its protocol once its socket is open (ALPN, or h2c by
 * prior knowledge). An HTTP/2 connection replaces it in place and joins its origin's `shared` list, where `serve`
 * looks first: it takes exchanges while it has free streams. While a connection that may turn out HTTP/2 is still
 * connecting, further requests to its origin wait for the answer rather than open connections of their own. Without
 * http2 both maps stay empty and cost one size check.
 */
import type * as net from "node:net"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
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
import type { ExchangeOwner, OwnedResponse } from "../exchange/exchange.js"
import { Http11Connection } from "../connection/http1.js"
import type { Connection, ConnectionState } from "../connection/http1.js"
import { CHUNKED, declaredLength, encodeHead, encodeHeadWith, hasField, NO_BODY, printableMethod } from "../wire/requestHead.js"
import type { HeaderInput } from "../wire/requestHead.js"
import { Http2Connection } from "../connection/http2.js"
import type { Http2Owner } from "../connection/http2.js"
import type { NetworkOptions } from "../connection/socket.js"
import { proxyAuthorization, proxyFor, routesFrom } from "../connection/proxy.js"
import type { ProxyConfig, ProxyRoutes } from "../connection/proxy.js"
import type { Response, StreamingResponse } from "../message/response.js"
import type { ConnectionInfo, Options as PoolOptions, RequestOptions as PoolRequestOptions } from "../../Pool.js"
import { limitsProblem, resolveLimits } from "../core/limits.js"
import { poolOptionsProblem } from "../client/options.js"
import type { Limits } from "../core/limits.js"
import * as Timeouts from "../core/timeouts.js"
import { absoluteForm, parseTarget } from "../core/url.js"
import type { Target } from "../core/url.js"
import type { Request } from "../message/request.js"
import type { TimeoutInput } from "../core/timeouts.js"

export type { ConnectionInfo, Options as PoolOptions } from "../../Pool.js"

class ConnectionSnapshot implements ConnectionInfo {
  constructor(
    readonly origin: string,
    readonly httpVersion: "HTTP/1.1" | "HTTP/2",
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

/**
 * A connection as the pool keeps it: whether it counts as idle right now (an HTTP/1.1 one then sits on its origin's
 * idle stack; an idle HTTP/2 one stays in its origin's shared list), and whether it is still connecting and may turn
 * out to be HTTP/2.
 */
type Pooled = Connection & { pooledIdle?: boolean; probing?: boolean }

const encoder = new TextEncoder()

export class PoolImpl implements Http2Owner, ExchangeOwner {
  readonly network: NetworkOptions
  readonly http1: boolean
  readonly http2: boolean
  readonly retries: number
  readonly keepaliveExpiry: number
  readonly timeouts: Timeouts.Timeouts
  readonly limits: Limits
  /** undo the codings of response bodies; false delivers them as the server sent them (Platform.layer's default) */
  readonly decompress: boolean
  private readonly maxConnections: number
  private readonly maxPerHost: number
  private readonly maxKeepalive: number
  private readonly proxies: ProxyRoutes | undefined

  /** every live connection, oldest first */
  private readonly all = new Set<Pooled>()
  /** idle connections per origin, most recently used on top (it is the least likely to have been closed) */
  private readonly idle = new Map<string, Array<Pooled>>()
  private idleCount = 0
  private readonly perHost = new Map<string, number>()
  /** HTTP/2 connections per origin, oldest first: each takes many exchanges at once (empty without http2) */
  private readonly shared = new Map<string, Array<Pooled>>()
  /**
   * Connections still connecting that may turn out HTTP/2, per origin. Requests for such an origin wait for ALPN
   * instead of opening connections of their own, so a burst of requests shares one HTTP/2 session (as httpcore's
   * connecting HTTPConnection counts as available when it may be HTTP/2).
   */
  private readonly probing = new Map<string, number>()
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
    this.retries = options.retries ?? 0
    this.timeouts = Timeouts.resolve(options.timeout)
    this.limits = resolveLimits(options.limits)
    this.http1 = options.http1 !== false
    this.http2 = options.http2 === true
    this.network = {
      uds: options.uds,
      localAddress: options.localAddress,
      tls: options.tls,
      alpn: !this.http2 ? ["http/1.1"] : this.http1 ? ["h2", "http/1.1"] : ["h2"]
    }
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
   */
  open(request: Request, timeout: TimeoutInput | undefined): Opening {
    const exchange = this.prepare(request.method, request.url, optionsOf(request, timeout), true)
    if (!(exchange instanceof Exchange)) return { head: Effect.fail(exchange), abandon: noop }
    exchange.sent = request
    return {
      head: Effect.async<OwnedResponse, HttpError.HttpError>((resume) =>
        exchange.register(resume, Phase.Head, this.acquire)
      ),
      abandon: () => exchange.abandon()
    }
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
    for (const c of this.all) out.push(new ConnectionSnapshot(c.target.origin, c.httpVersion, c.state, c.requestCount))
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
    streaming: boolean,
    more?: HeaderInput
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
    if (credentials !== undefined && !hasField(options?.headers, "authorization") && !hasField(more, "authorization")) {
      extra = credentials
    }
    if (this.proxies !== undefined && !target.secure) {
      const proxy = proxyFor(this.proxies, target)
      if (proxy !== undefined && proxy.kind === "http") {
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
        extra,
        more
      )
      : encodeHead(method, path, target.host, options?.headers, length, extra, more)
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
    const exchange = new Exchange(method, target, head, body, streamBody, options?.headers, timeouts, streaming)
    if (streamBody) exchange.streamLength = declaredLength(options?.headers)
    exchange.limits = options?.limits === undefined ? this.limits : resolveLimits(options.limits, this.limits)
    if (!this.decompress) exchange.asSent = true
    return exchange
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
    const write = (bytes: Uint8Array): Effect.Effect<boolean> => {
      const connection = exchange.conn
      if (exchange.done || connection === undefined) return Effect.succeed(false)
      if (connection.writeBody(exchange, bytes)) return Effect.succeed(true)
      return Effect.as(Effect.either(exchange.await<void, HttpError.HttpError>(Phase.Drain)), !exchange.done)
    }
    const pump = Effect.zipRight(
      Stream.runForEachWhile(body, write),
      Effect.sync(() => {
        const connection = exchange.conn
        if (connection !== undefined) connection.endBody(exchange)
      })
    )
    return exchange.await<void, HttpError.HttpError>(Phase.Ready, this.acquire).pipe(
      Effect.zipRight(pump),
      Effect.zipRight(exchange.await<A, HttpError.HttpError>(phase)),
      Effect.onExit((exit) => Exit.isFailure(exit) ? Effect.sync(() => exchange.abandon()) : Effect.void)
    )
  }

  // ---- assignment ------------------------------------------------------------------------------------------------

  /** Give the exchange a connection now, or queue it (FIFO) until one frees up. */
  acquire(exchange: Exchange): void {
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
    // A waiter held back by the per-host limit, or waiting for ALPN, must not block requests to other hosts behind it.
    if (this.maxPerHost !== Infinity || this.probing.size > 0) this.processQueue()
  }

  private serve(exchange: Exchange): boolean {
    const origin = exchange.target.origin
    if (this.shared.size > 0) {
      // An HTTP/2 connection with a free stream beats an idle HTTP/1.1 connection and a new one.
      const list = this.shared.get(origin)
      if (list !== undefined && this.serveShared(list, exchange)) return true
    }
    const stack = this.idle.get(origin)
    if (stack !== undefined && stack.length > 0) {
      const now = performance.now()
      while (stack.length > 0) {
        const connection = stack.pop()!
        connection.pooledIdle = false
        this.idleCount--
        if (connection.isReusable(now)) {
          connection.assign(exchange)
          return true
        }
        connection.close()
      }
    }
    // The connection being opened may be HTTP/2 and take this request too: wait for the TLS handshake to tell.
    if (this.probing.size > 0 && this.probing.has(origin)) return false
    const count = this.perHost.get(origin) ?? 0
    if (count >= this.maxPerHost) return false
    if (this.all.size >= this.maxConnections) {
      // Full: make room by closing an idle connection to another origin, as httpcore does.
      if (this.idleCount === 0) return false
      this.evictOldestIdle()
      if (this.all.size >= this.maxConnections) return false
    }
    const connection: Pooled = new Http11Connection(this, exchange.target, exchange)
    this.all.add(connection)
    this.perHost.set(origin, count + 1)
    if (this.http2 && this.mayBeHttp2(exchange)) {
      connection.probing = true
      this.probing.set(origin, (this.probing.get(origin) ?? 0) + 1)
    }
    return true
  }

  private serveShared(list: ReadonlyArray<Pooled>, exchange: Exchange): boolean {
    const now = performance.now()
    for (const connection of list) {
      if (connection.isReusable(now)) {
        if (connection.pooledIdle) this.takeIdle(connection)
        connection.assign(exchange)
        return true
      }
    }
    return false
  }

  /** What the connection's negotiation may pick (see Http11Connection.negotiate): ALPN over TLS, or h2c. */
  private mayBeHttp2(exchange: Exchange): boolean {
    const target = exchange.target
    if (target.secure) return true
    return !this.http1 && this.proxyFor(target)?.kind !== "http"
  }

  private probed(connection: Pooled): void {
    connection.probing = false
    const origin = connection.target.origin
    const count = (this.probing.get(origin) ?? 1) - 1
    if (count === 0) this.probing.delete(origin)
    else this.probing.set(origin, count)
  }

  private evictOldestIdle(): void {
    for (const connection of this.all) {
      if (connection.pooledIdle) {
        this.takeIdle(connection)
        connection.close()
        return
      }
    }
  }

  private takeIdle(connection: Pooled): void {
    const stack = this.idle.get(connection.target.origin)
    if (stack !== undefined) {
      const index = stack.lastIndexOf(connection)
      if (index >= 0) stack.splice(index, 1)
    }
    connection.pooledIdle = false
    this.idleCount--
  }

  private enqueue(exchange: Exchange): void {
    exchange.queued = true
    this.waiters.push(exchange)
    this.waitCount++
    const ms = exchange.timeouts.pool
    if (ms > 0) {
      exchange.poolTimer = setTimeout(() => {
        exchange.poolTimer = undefined
        if (!exchange.queued) return
        const message = `${exchange.method} ${exchange.target.href}: no connection became free within ${ms} ms ` +
          `(the pool timeout); ${this.all.size} of ${this.maxConnections} connections are busy — ` +
          `raise maxConnections or timeout.pool`
        try {
          this.dequeue(exchange)
          exchange.fail(new PoolTimeout({ message, request: exchange.requestInfo }))
        } catch (error) {
          // A timer callback runs outside any fiber: what our code throws here fails the request, never the process.
          exchange.fail(new PoolTimeout({ message, request: exchange.requestInfo, cause: error }))
        }
      }, ms)
    }
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
          if (this.all.size >= this.maxConnections && this.idleCount === 0 && this.shared.size === 0) break
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

  // ---- what connections report -----------------------------------------------------------------------------------

  released(connection: Pooled): void {
    if (this.isClosed) return connection.close()
    let stack = this.idle.get(connection.target.origin)
    if (stack === undefined) {
      stack = []
      this.idle.set(connection.target.origin, stack)
    }
    stack.push(connection)
    connection.pooledIdle = true
    this.idleCount++
    this.afterRelease(connection)
  }

  /** A connection has room again: a waiter gets it first; beyond maxKeepaliveConnections idle ones are closed. */
  private afterRelease(connection: Pooled): void {
    if (this.waitCount > 0) this.processQueue()
    if (connection.pooledIdle && this.idleCount > this.maxKeepalive) {
      this.takeIdle(connection)
      connection.close()
    }
  }

  closed(connection: Pooled): void {
    if (!this.all.delete(connection)) return
    if (connection.pooledIdle) this.takeIdle(connection)
    if (connection.probing) this.probed(connection)
    const origin = connection.target.origin
    if (connection.httpVersion === "HTTP/2") this.unshare(connection)
    const count = (this.perHost.get(origin) ?? 1) - 1
    if (count === 0) {
      this.perHost.delete(origin)
      const stack = this.idle.get(origin)
      if (stack !== undefined && stack.length === 0) this.idle.delete(origin)
    } else {
      this.perHost.set(origin, count)
    }
    if (this.waitCount > 0 && !this.isClosed) this.processQueue()
  }

  // ---- HTTP/2 -----------------------------------------------------------------------------------------------------

  negotiated(connection: Pooled): void {
    if (!connection.probing) return
    this.probed(connection)
    // It is HTTP/1.1 after all: requests that waited for it may open connections of their own.
    if (this.waitCount > 0 && !this.isClosed) this.processQueue()
  }

  upgrade(previous: Pooled, socket: net.Socket, exchange: Exchange | undefined): void {
    if (previous.probing) this.probed(previous)
    const connection: Pooled = new Http2Connection(this, previous.target, socket)
    // The new connection takes the old one's place (and its per-host count) in the pool.
    this.all.delete(previous)
    this.all.add(connection)
    const origin = connection.target.origin
    let list = this.shared.get(origin)
    if (list === undefined) {
      list = []
      this.shared.set(origin, list)
    }
    list.push(connection)
    if (this.isClosed) {
      connection.shutdown(undefined)
      return
    }
    if (exchange !== undefined) connection.assign(exchange)
    this.streamReleased(connection)
  }

  streamReleased(connection: Pooled): void {
    if (this.isClosed) return
    if (connection.state === "IDLE" && !connection.pooledIdle) {
      connection.pooledIdle = true
      this.idleCount++
    }
    this.afterRelease(connection)
  }

  capacityChanged(_connection: Pooled): void {
    if (this.waitCount > 0 && !this.isClosed) this.processQueue()
  }

  private unshare(connection: Pooled): void {
    const origin = connection.target.origin
    const list = this.shared.get(origin)
    if (list === undefined) return
    const index = list.indexOf(connection)
    if (index >= 0) list.splice(index, 1)
    if (list.length === 0) this.shared.delete(origin)
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
  readonly head: Effect.Effect<OwnedResponse, HttpError.HttpError>
  abandon(): void
}

const noop = () => {}

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
