/**
 * One HTTP/2 connection (RFC 9113) to one origin. The socket comes from the connect step (connect.ts: TCP, proxy,
 * TLS, timeouts and retries), once ALPN chose "h2" or h2c is spoken by prior knowledge; framing, HPACK and flow
 * control are node:http2's.
 *
 * Unlike HTTP/1.1 it multiplexes: every exchange is one stream, and ending, cancelling or timing out a stream
 * leaves the session and the other streams alone. The session closes when idle past the keep-alive expiry, after a
 * GOAWAY once its last stream is done, on a session error, or when the pool shuts down.
 */
import type * as http2 from "node:http2"
import * as builtins from "../core/builtins.js"
import type * as net from "node:net"
import {
  LocalProtocolError,
  ReadError,
  ReadTimeout,
  RemoteProtocolError,
  WriteError,
  WriteTimeout
} from "../../HttpError.js"
import type * as HttpError from "../../HttpError.js"
import { Version } from "../exchange/exchange.js"
import { PhaseTimer } from "../exchange/deadlines.js"
import type { Exchange } from "../exchange/exchange.js"
import { failInternally } from "./http1.js"
import { Held } from "./connection.js"
import type { Connection, ConnectionOwner, ConnectionState } from "./connection.js"
import { requestFields } from "./http2Fields.js"
import { mayResend, Reason, resend } from "./resend.js"
import { destroyQuietly } from "./socket.js"
import type { Target } from "../core/url.js"

// RFC 9113 §7 error codes, and the status pseudo-header: the protocol's own constants (node:http2 loads lazily).
const NGHTTP2_REFUSED_STREAM = 0x7
const NGHTTP2_CANCEL = 0x8
const NGHTTP2_ENHANCE_YOUR_CALM = 0xb
const HTTP2_HEADER_STATUS = ":status"

/** RFC 9113 §7 error code names, for messages. */
const errorCodes = [
  "NO_ERROR",
  "PROTOCOL_ERROR",
  "INTERNAL_ERROR",
  "FLOW_CONTROL_ERROR",
  "SETTINGS_TIMEOUT",
  "STREAM_CLOSED",
  "FRAME_SIZE_ERROR",
  "REFUSED_STREAM",
  "CANCEL",
  "COMPRESSION_ERROR",
  "CONNECT_ERROR",
  "ENHANCE_YOUR_CALM",
  "INADEQUATE_SECURITY",
  "HTTP_1_1_REQUIRED"
]

const codeName = (code: number): string => errorCodes[code] ?? `error code ${code}`

/**
 * Streams we open at once at most, whatever the server allows: httpcore's limit, and the value node:http2 assumes
 * until the server's SETTINGS arrive. A busier origin gets a second connection.
 */
const MAX_STREAMS = 100

/** The connection-level receive window we grant the server. */
const CONNECTION_WINDOW = 1024 * 1024

const enum Timer {
  None = 0,
  Write = 1,
  Read = 2
}

/** One exchange's stream: its timers, its body bookkeeping, and the events node:http2 sends it. */
class Http2Stream {
  readonly timer: PhaseTimer
  /** a streamed request body is still being written */
  bodyPending = false
  /** bytes of a streamed body with a declared length written so far */
  bodySent = 0
  /** the request went out completely: from now on silence is the server's */
  requestSent = false
  paused = false
  /** the connection is done with this stream (ended, failed, cancelled): its late events are ignored */
  released = false
  /** the session had finished a stream before this one began: a failure now may be a stale connection */
  readonly reused: boolean
  /** what node:http2 reported when the stream failed */
  error: Error | undefined = undefined
  /** the read phase is armed with the head deadline, not the read timeout: firing is the deadline */
  headTimed = false

  constructor(
    readonly connection: Http2Connection,
    readonly exchange: Exchange,
    readonly stream: http2.ClientHttp2Stream
  ) {
    this.reused = connection.finished > 0
    this.timer = new PhaseTimer((kind) => this.connection.onStreamTimeout(this, kind))
    // Each of these runs outside any fiber; the connection's method behind each catches what its code throws.
    stream.on("response", (headers) => connection.onResponse(this, headers))
    stream.on("data", (chunk: Buffer) => connection.onData(this, chunk))
    stream.on("end", () => connection.onEnd(this))
    stream.on("drain", () => connection.onDrain(this))
    stream.on("error", (error: Error) => {
      this.error ??= error
    })
    stream.on("close", () => connection.onStreamClose(this))
  }

  arm(kind: Timer, ms: number): void {
    this.timer.arm(kind, ms)
  }

  disarm(): void {
    this.timer.disarm()
  }

  /**
   * What the read side waits for now: the read timeout once the request is out and nobody paused the stream. While
   * the head is due, the head deadline too, whichever is sooner: node:http2 reports nothing of a head before all of
   * it is in (HEADERS and every CONTINUATION), so no byte of it restarts the read timeout, and both count from the
   * request sent.
   */
  armRead(headDue: boolean): void {
    if (this.paused) return this.disarm()
    const { head, read } = this.exchange.timeouts
    this.headTimed = headDue && head > 0 && (read <= 0 || head < read)
    this.arm(Timer.Read, this.headTimed ? head : read)
  }
}

export class Http2Connection extends Held implements Connection {
  readonly httpVersion = "HTTP/2" as const
  readonly awaitable = false
  state: ConnectionState = "IDLE"
  requestCount = 0
  idleSince = performance.now()
  /** streams that ended cleanly */
  finished = 0

  private readonly session: http2.ClientHttp2Session
  private readonly streams = new Map<Exchange, Http2Stream>()
  private maxStreams = MAX_STREAMS
  /** the server sent GOAWAY (or we are closing): no new streams, the open ones finish */
  private goingAway = false
  private sessionError: Error | undefined = undefined
  private idleTimer: ReturnType<typeof setTimeout> | undefined = undefined

  constructor(readonly owner: ConnectionOwner, readonly target: Target, private readonly socket: net.Socket) {
    super()
    this.onIdleTimer = this.onIdleTimer.bind(this)
    this.session = builtins.http2().connect(target.origin, {
      createConnection: () => socket,
      settings: { enablePush: false }
    })
    const session = this.session
    session.on("error", (error: Error) => {
      this.sessionError ??= error
    })
    // Like the streams' events, these run outside any fiber: what their code throws is caught here.
    session.on("remoteSettings", (settings: http2.Settings) => {
      try {
        const allowed = settings.maxConcurrentStreams ?? MAX_STREAMS
        const before = this.maxStreams
        this.maxStreams = Math.max(1, Math.min(allowed, MAX_STREAMS))
        if (this.maxStreams > before) this.owner.released(this)
      } catch (error) {
        this.crashed(undefined, error)
      }
    })
    session.on("goaway", () => {
      try {
        // node:http2 stops new streams (and destroys the session for an error code); the open ones may finish, and
        // those above the server's last stream id close with REFUSED_STREAM, which we retry elsewhere.
        this.goingAway = true
        if (this.streams.size === 0) this.close()
      } catch (error) {
        this.crashed(undefined, error)
      }
    })
    session.on("close", () => {
      try {
        this.onSessionClose()
      } catch (error) {
        this.crashed(undefined, error)
      }
    })
    // The connection-level window is shared by every stream: the default 64 KiB would let one busy download starve
    // the others. Each stream keeps its own 64 KiB window, which is what holds a server back for a slow reader.
    try {
      session.setLocalWindowSize(CONNECTION_WINDOW)
    } catch {
      // Only possible before the session is set up, which a connected socket makes immediate; the default works.
    }
    this.armIdle()
  }

  // ---- the pool's side -------------------------------------------------------------------------------------------

  /** Streams the session can open now: none once it is going away. */
  get capacity(): number {
    if (this.state === "CLOSED" || this.goingAway || this.session.closed || this.session.destroyed) return 0
    return Math.max(0, this.maxStreams - this.streams.size)
  }

  /** A stream is free and the session can take it. */
  isReusable(now: number): boolean {
    if (this.capacity === 0) return false
    const expiry = this.owner.keepaliveExpiry
    return this.state === "ACTIVE" || expiry <= 0 || now - this.idleSince < expiry
  }

  assign(exchange: Exchange): void {
    exchange.conn = this
    const headers = requestFields(exchange)
    if (headers instanceof LocalProtocolError) {
      exchange.conn = undefined
      return exchange.fail(headers)
    }
    const body = exchange.body
    let stream: http2.ClientHttp2Stream
    try {
      stream = this.session.request(headers, { endStream: body === undefined && !exchange.streamBody })
    } catch (error) {
      exchange.conn = undefined
      const code = (error as NodeJS.ErrnoException).code
      if (code === "ERR_HTTP2_GOAWAY_SESSION" || code === "ERR_HTTP2_INVALID_SESSION") {
        // The session went away between the pool's check and now: the request never left, so it may go elsewhere.
        this.goingAway = true
        return this.owner.acquire(exchange)
      }
      // node:http2 validates the fields (a repeated single-value field, an invalid name): the request is not valid.
      return exchange.fail(
        new LocalProtocolError({
          message: `${exchange.method} ${exchange.target.href}: ${(error as Error).message}`,
          request: exchange.requestInfo,
          cause: error
        })
      )
    }
    this.requestCount++
    if (this.state !== "ACTIVE") {
      // An IDLE session does not keep the process alive; one with streams does.
      if (this.state === "IDLE") this.session.ref()
      this.state = "ACTIVE"
      this.clearIdle()
    }
    const entry = new Http2Stream(this, exchange, stream)
    this.streams.set(exchange, entry)
    if (exchange.streamBody) {
      entry.bodyPending = true
      exchange.ready()
    } else if (body !== undefined) {
      entry.arm(Timer.Write, exchange.timeouts.write)
      stream.end(body, () => this.onRequestSent(entry))
    } else {
      this.onRequestSent(entry)
    }
  }

  abort(exchange: Exchange): void {
    const entry = this.streams.get(exchange)
    if (entry === undefined) return
    // Only this stream goes: RST_STREAM(CANCEL) tells the server to stop, the session carries on.
    this.release(entry)
    entry.stream.close(NGHTTP2_CANCEL)
    this.owner.released(this)
  }

  pauseReading(exchange: Exchange): void {
    const entry = this.streams.get(exchange)
    if (entry === undefined) return
    entry.paused = true
    // Flow control holds the server back once the stream's window is used up.
    entry.stream.pause()
    // A consumer that reads slowly is not a server that answers slowly.
    if (entry.timer.kind === Timer.Read) entry.disarm()
  }

  resumeReading(exchange: Exchange): void {
    const entry = this.streams.get(exchange)
    if (entry === undefined) return
    entry.paused = false
    entry.stream.resume()
    if (entry.requestSent && entry.timer.kind === Timer.None) entry.armRead(false)
  }

  writeBody(exchange: Exchange, bytes: Uint8Array): boolean {
    const entry = this.streams.get(exchange)
    if (entry === undefined) return false
    if (bytes.length === 0) return true
    const declared = exchange.streamLength
    if (declared >= 0) {
      entry.bodySent += bytes.length
      if (entry.bodySent > declared) {
        this.failBody(entry, `the body stream produced more than the ${declared} bytes its Content-Length declared`)
        return false
      }
    }
    const flushed = entry.stream.write(bytes)
    if (!flushed) entry.arm(Timer.Write, exchange.timeouts.write)
    return flushed
  }

  endBody(exchange: Exchange): void {
    const entry = this.streams.get(exchange)
    if (entry === undefined) return
    const declared = exchange.streamLength
    if (declared >= 0 && entry.bodySent !== declared) {
      return this.failBody(
        entry,
        `the body stream ended after ${entry.bodySent} of the ${declared} bytes its Content-Length declared`
      )
    }
    entry.bodyPending = false
    entry.arm(Timer.Write, exchange.timeouts.write)
    entry.stream.end(() => this.onRequestSent(entry))
  }

  shutdown(error: HttpError.HttpError | undefined): void {
    const failed = [...this.streams.values()]
    for (const entry of failed) this.release(entry)
    this.close()
    if (error !== undefined) for (const entry of failed) entry.exchange.fail(error)
  }

  /** Idempotent. Closes the session (GOAWAY, then the socket) and tells the pool the slot is free. */
  close(): void {
    if (this.state === "CLOSED") return
    this.state = "CLOSED"
    this.goingAway = true
    this.clearIdle()
    const orphans = [...this.streams.values()]
    for (const entry of orphans) this.release(entry)
    const session = this.session
    if (!session.destroyed) {
      // destroy() still sends GOAWAY and ends the socket gracefully; a peer that never reads it cannot keep the
      // socket open past the fallback.
      session.destroy()
      const socket = this.socket
      if (!socket.destroyed) setTimeout(() => destroyQuietly(socket), 1_000).unref()
    }
    this.owner.closed(this)
    for (const entry of orphans) {
      entry.exchange.fail(
        new ReadError({
          message: `${entry.exchange.method} ${entry.exchange.target.href}: the HTTP/2 connection was closed while ` +
            `the request was in flight`,
          request: entry.exchange.requestInfo
        })
      )
    }
  }

  // ---- stream events ---------------------------------------------------------------------------------------------

  // Node calls these from the event loop, outside any fiber, where a throw would reach `uncaughtException`. Each
  // catches at its entry (a try/catch costs nothing until something throws) and hands what it caught to `crashed`.

  /**
   * The request is sent (for a streamed body, once the body has ended): the read timeout and the head deadline
   * start, as for HTTP/1.1.
   */
  private onRequestSent(entry: Http2Stream): void {
    try {
      if (!this.live(entry)) return
      entry.requestSent = true
      entry.exchange.sentAt = performance.now()
      if (entry.timer.kind !== Timer.Read) entry.armRead(!entry.exchange.headReceived)
    } catch (error) {
      this.crashed(entry, error)
    }
  }

  onDrain(entry: Http2Stream): void {
    try {
      if (!this.live(entry)) return
      if (entry.timer.kind === Timer.Write && entry.bodyPending) entry.disarm()
      entry.exchange.drained()
    } catch (error) {
      this.crashed(entry, error)
    }
  }

  onData(entry: Http2Stream, chunk: Buffer): void {
    try {
      if (entry.released) return
      if (entry.timer.kind === Timer.Read) entry.timer.refresh()
      entry.exchange.onBody(chunk)
    } catch (error) {
      this.crashed(entry, error)
    }
  }

  onResponse(entry: Http2Stream, headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): void {
    try {
      this.response(entry, headers)
    } catch (error) {
      this.crashed(entry, error)
    }
  }

  onEnd(entry: Http2Stream): void {
    try {
      this.streamEnded(entry)
    } catch (error) {
      this.crashed(entry, error)
    }
  }

  onStreamClose(entry: Http2Stream): void {
    try {
      this.streamClosed(entry)
    } catch (error) {
      this.crashed(entry, error)
    }
  }

  onStreamTimeout(entry: Http2Stream, kind: Timer): void {
    try {
      this.streamTimedOut(entry, kind)
    } catch (error) {
      this.crashed(entry, error)
    }
  }

  private response(entry: Http2Stream, headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader): void {
    if (!this.live(entry)) return
    const status = Number(headers[HTTP2_HEADER_STATUS])
    const raw: Array<string> = []
    // The head's size as HTTP/1.1 would carry it ("name: value" and CRLF per field), for limits.maxHeadSize.
    let size = 0
    for (const name in headers) {
      if (name.charCodeAt(0) === 58 /* ":" */) continue
      const value = headers[name]
      if (value === undefined) continue
      if (Array.isArray(value)) {
        for (const item of value) {
          raw.push(name, item)
          size += name.length + item.length + 4
        }
      } else {
        const text = String(value)
        raw.push(name, text)
        size += name.length + text.length + 4
      }
    }
    const exchange = entry.exchange
    const limit = exchange.limits.maxHeadSize
    if (size > limit) {
      return this.failHead(
        entry,
        `the response head is larger than ${limit} bytes; raise limits.maxHeadSize if the server is trusted`
      )
    }
    if (entry.requestSent) entry.armRead(false)
    // HTTP/2 has no reason phrase (RFC 9113 §8.3.2): the standard one stands in, as httpx does.
    exchange.onHead(status, builtins.reasonPhrase(status), Version.Http2, raw, declaredLength(exchange, status, headers))
  }

  private streamEnded(entry: Http2Stream): void {
    if (!this.live(entry)) return
    // node:http2 also ends the readable side of streams it destroys with their session (rstCode CANCEL): that is a
    // broken connection, not the server's END_STREAM.
    if (this.session.destroyed || (entry.stream.rstCode ?? 0) !== 0) return this.streamClosed(entry)
    const exchange = entry.exchange
    this.release(entry)
    this.finished++
    // The server answered before the request body was done (a 413, say): stop sending the rest.
    if (!entry.stream.writableEnded) entry.stream.close(NGHTTP2_CANCEL)
    this.owner.released(this)
    exchange.complete()
  }

  private streamClosed(entry: Http2Stream): void {
    if (!this.live(entry)) return
    const exchange = entry.exchange
    const stream = entry.stream
    this.release(entry)
    const where = `${exchange.method} ${exchange.target.href}`
    const code = stream.rstCode ?? 0
    let error: HttpError.HttpError
    if (this.session.destroyed || this.sessionError !== undefined) {
      // The whole connection failed under this stream.
      if (this.retryable(entry)) return this.retry(entry)
      const cause = entry.error ?? this.sessionError
      if ((cause as NodeJS.ErrnoException | undefined)?.code === "ERR_HTTP2_ERROR") {
        // nghttp2 rejected what the server sent (a bad frame, or no HTTP/2 at all).
        error = new RemoteProtocolError({
          message: `${where}: the server broke the HTTP/2 protocol (${cause!.message})` +
            (!this.target.secure && this.finished === 0 ? "; is it an HTTP/2 (h2c) server?" : ""),
          request: exchange.requestInfo,
          cause
        })
        this.owner.released(this)
        return exchange.fail(error)
      }
      const writing = !exchange.headReceived && !entry.requestSent
      const Kind = writing ? WriteError : ReadError
      error = new Kind({
        message: `${where}: the HTTP/2 connection failed while ` +
          (writing ? "sending the request" : "reading the response") +
          (cause !== undefined ? `: ${cause.message}` : ""),
        request: exchange.requestInfo,
        cause
      })
    } else if (code === NGHTTP2_REFUSED_STREAM) {
      if (mayResend(exchange, Reason.Refused, exchange.headReceived, entry.reused)) return this.retry(entry)
      error = new RemoteProtocolError({
        message: `${where}: the server refused the HTTP/2 stream (REFUSED_STREAM)`,
        request: exchange.requestInfo,
        cause: entry.error
      })
    } else if (
      code === NGHTTP2_ENHANCE_YOUR_CALM && mayResend(exchange, Reason.Calm, exchange.headReceived, entry.reused)
    ) {
      return this.retry(entry)
    } else {
      error = new RemoteProtocolError({
        message: code === 0
          ? `${where}: the server closed the HTTP/2 stream before the response was complete`
          : `${where}: the server reset the HTTP/2 stream (${codeName(code)})`,
        request: exchange.requestInfo,
        cause: entry.error
      })
    }
    this.owner.released(this)
    exchange.fail(error)
  }

  private streamTimedOut(entry: Http2Stream, kind: Timer): void {
    if (!this.live(entry)) return
    const exchange = entry.exchange
    this.release(entry)
    entry.stream.close(NGHTTP2_CANCEL)
    this.owner.released(this)
    exchange.fail(this.timeoutError(entry, kind))
  }

  private timeoutError(entry: Http2Stream, kind: Timer): HttpError.HttpError {
    const exchange = entry.exchange
    const where = `${exchange.method} ${exchange.target.href}`
    if (kind === Timer.Write) {
      return new WriteTimeout({
        message: `${where}: the server accepted no request bytes for ${entry.timer.ms} ms (the write timeout)`,
        request: exchange.requestInfo
      })
    }
    if (entry.headTimed) {
      return new ReadTimeout({
        message: `${where}: the response head was not complete ${entry.timer.ms} ms after the request was sent ` +
          `(the head timeout); raise timeout.head if the server is just slow to answer`,
        request: exchange.requestInfo
      })
    }
    return new ReadTimeout({
      message: `${where}: no response bytes arrived for ${entry.timer.ms} ms (the read timeout); ` +
        `raise timeout.read if the server is just slow`,
      request: exchange.requestInfo
    })
  }

  /** The server broke a limit in its head: only this stream is given up, the session goes on. */
  private failHead(entry: Http2Stream, reason: string): void {
    const exchange = entry.exchange
    this.release(entry)
    entry.stream.close(NGHTTP2_CANCEL)
    this.owner.released(this)
    exchange.fail(
      new RemoteProtocolError({
        message: `${exchange.method} ${exchange.target.href}: ${reason}`,
        request: exchange.requestInfo
      })
    )
  }

  /** A streamed body broke its declared length: only its stream is unfinishable. */
  private failBody(entry: Http2Stream, reason: string): void {
    const exchange = entry.exchange
    this.release(entry)
    entry.stream.close(NGHTTP2_CANCEL)
    this.owner.released(this)
    exchange.fail(
      new LocalProtocolError({
        message: `${exchange.method} ${exchange.target.href}: ${reason}`,
        request: exchange.requestInfo
      })
    )
  }

  /** The session failed under the stream: whether its request goes again elsewhere (see resend.ts). */
  private retryable(entry: Http2Stream): boolean {
    return mayResend(entry.exchange, Reason.Stale, entry.exchange.headReceived, entry.reused)
  }

  private retry(entry: Http2Stream): void {
    this.owner.released(this)
    resend(this.owner, entry.exchange)
  }

  // ---- bookkeeping -----------------------------------------------------------------------------------------------

  private live(entry: Http2Stream): boolean {
    return !entry.released
  }

  /** Forget a stream; the last one going makes the connection idle (or closes it when the session is going away). */
  private release(entry: Http2Stream): void {
    entry.released = true
    entry.disarm()
    this.streams.delete(entry.exchange)
    if (this.streams.size > 0 || this.state !== "ACTIVE") return
    if (this.goingAway || this.session.destroyed) {
      // After the current event: the caller still reports this stream's end first.
      queueMicrotask(() => {
        try {
          this.close()
        } catch (error) {
          this.crashed(undefined, error)
        }
      })
      return
    }
    this.state = "IDLE"
    this.idleSince = performance.now()
    this.session.unref()
    this.armIdle()
  }

  private armIdle(): void {
    const ms = this.owner.keepaliveExpiry
    if (ms <= 0) return
    if (this.idleTimer !== undefined) {
      this.idleTimer.refresh()
      return
    }
    this.idleTimer = setTimeout(this.onIdleTimer, ms)
    this.idleTimer.unref()
  }

  private clearIdle(): void {
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer)
      this.idleTimer = undefined
    }
  }

  private onIdleTimer(): void {
    this.idleTimer = undefined
    try {
      if (this.state === "IDLE") this.close()
    } catch (error) {
      this.crashed(undefined, error)
    }
  }

  /**
   * Our own code threw in a callback of node:http2's (a bug, or a RangeError from an allocation too large): the
   * stream's request, if any, fails with a ReadError that keeps what was thrown (see `failInternally`), and the
   * session, whose bookkeeping may be half done, is closed. Its other requests fail with ReadError too, a transport
   * error that a retry may take elsewhere, and the pool gets the slot back.
   */
  private crashed(entry: Http2Stream | undefined, error: unknown): void {
    if (entry !== undefined) failInternally(entry.exchange, error)
    try {
      this.close()
    } catch {
      // The pool's bookkeeping threw in turn: the socket goes at least.
      destroyQuietly(this.socket)
    }
  }

  private onSessionClose(): void {
    if (this.state === "CLOSED") return
    // Streams still open learn it from their own close events, which node:http2 emits first; any left fail here.
    this.goingAway = true
    this.close()
  }
}

/**
 * The body length a response's Content-Length declares, or -1: none, not a number, or a response that has no body
 * whatever it says (RFC 9110 §8.6).
 */
const declaredLength = (exchange: Exchange, status: number, headers: http2.IncomingHttpHeaders): number => {
  const value = headers["content-length"]
  if (value === undefined || exchange.method === "HEAD" || status === 204 || status === 304) return -1
  const length = Number(value)
  return Number.isSafeInteger(length) && length >= 0 ? length : -1
}
