/**
 * One HTTP/1.1 connection to one origin over a socket the connect step opened (connect.ts): runs one exchange at a
 * time, reports to its owner when it is free again. Plain synchronous code driven by socket events; the fiber side
 * lives in the exchange.
 */
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
import type { Exchange, ReadSink } from "../exchange/exchange.js"
import { destroyQuietly, READ_SIZE, sharedReadBuffer } from "./socket.js"
import type { ReadRelay } from "./socket.js"
import type { Target } from "../core/url.js"
import { PhaseTimer } from "../exchange/deadlines.js"
import { ResponseParser } from "../wire/responseParser.js"
import type { ResponseHandler } from "../wire/responseParser.js"
import { Held } from "./connection.js"
import type { Connection, ConnectionOwner, ConnectionState } from "./connection.js"
import { mayResend, Reason, resend } from "./resend.js"
import { exchangeEnded, exchangeStarted, holdIfBatching } from "./coalescedWrites.js"

const enum Timer {
  None = 0,
  Write = 2,
  Read = 3,
  Idle = 4
}

/** A read at least this large counts as bulk: a streamed body then reads into a slab of the connection's own. */
const BULK_READ = 64 * 1024
/**
 * Reads of a streamed body in bulk land one after another in a slab, and their body bytes go to the reader as views
 * of it, without a copy. A slab is as large as four shared reads, so a reader that falls behind gets larger reads
 * (the kernel hands over what it holds) and so fewer chunks. A body with a declared length gets no larger slab than
 * what is left of it.
 */
const SLAB_SIZE = 4 * READ_SIZE
/** A slab with less room than this left (and than the body still needs) is retired: the next read gets a new one. */
const SLAB_MIN_ROOM = READ_SIZE
/** Queues a microtask without the allocations of `queueMicrotask` (an async resource and a bound function each). */
const RESOLVED = Promise.resolve()

export class Http11Connection extends Held implements Connection, ResponseHandler, ReadSink {
  readonly httpVersion = "HTTP/1.1" as const
  readonly awaitable = false
  state: ConnectionState = "IDLE"
  requestCount = 0
  idleSince = 0

  private exchange: Exchange | undefined = undefined
  private readonly parser = new ResponseParser(this)
  private completed = false
  private readonly timer: PhaseTimer
  /** ms the current exchange allows for reading; the timer switches to it once the request is written */
  private readTimeout = 0
  private writeTimeout = 0
  /** ms the current exchange allows for the whole response head, from the request sent (`timeout.head`) */
  private headTimeout = 0
  /** when the response head must be complete, on `performance.now()`'s clock; 0 while no head is awaited against it */
  private headDeadline = 0
  /** the read phase is armed with what is left before the head deadline, not the read timeout: firing means it */
  private headTimed = false
  /** bytes of a streamed request body are still to come: the connection cannot be reused before they are sent */
  private bodyPending = false
  /** bytes of a streamed body with a declared length written so far */
  private bodySent = 0

  /**
   * A direct plain connection that will speak HTTP/1.1 chooses the memory its socket reads into: the read buffer
   * every such socket shares (no allocation per read; the exchange keeps a copy of the body bytes), or, while a
   * streamed body arrives in bulk, the free end of a slab of its own, whose bytes go to the reader as they are.
   */
  private readonly reader: ReadRelay | undefined
  /** the slab a streamed body reads into while it arrives in bulk; views of it below `slabUsed` belong to readers */
  private slab: Buffer | undefined = undefined
  private slabUsed = 0
  /** the memory of the next read when it is a view of the slab (else the shared buffer) */
  private own: Buffer | undefined = undefined
  /** the read being handled is in the slab: its body bytes are handed on without a copy */
  private owned = false
  /** a view of the read being handled was handed on: the next read goes after it in the slab */
  private ownGiven = false
  /** the memory of the next read when it is the reader's own buffer (see `Exchange.readsInto`) */
  private into: Buffer | undefined = undefined
  /** the read being handled landed in the reader's own buffer */
  private inPlace = false
  private lastRead = 0

  /**
   * `socket` is open; `proxied`: it goes through a proxy. `reader`, for a direct plain socket, is the relay its reads
   * come through (see `ReadRelay`).
   */
  constructor(
    readonly owner: ConnectionOwner,
    readonly target: Target,
    private readonly socket: net.Socket,
    private readonly proxied: boolean,
    reader: ReadRelay | undefined
  ) {
    super()
    this.reader = reader
    this.onData = this.onData.bind(this)
    this.onEnd = this.onEnd.bind(this)
    this.onError = this.onError.bind(this)
    this.onClose = this.onClose.bind(this)
    this.onDrain = this.onDrain.bind(this)
    this.afterReaderTurn = this.afterReaderTurn.bind(this)
    this.timer = new PhaseTimer((kind) => this.onTimer(kind))
    socket.on("data", this.onData)
    socket.on("end", this.onEnd)
    socket.on("error", this.onError)
    socket.on("close", this.onClose)
    socket.on("drain", this.onDrain)
    if (reader !== undefined) reader.sink = this
  }

  /** A free request slot: an idle connection has one. */
  get capacity(): number {
    return this.state === "IDLE" ? 1 : 0
  }

  // ---- Node's callbacks -----------------------------------------------------------------------------------------
  // Node calls these from the event loop, outside any fiber, where a throw would reach `uncaughtException`. Each
  // catches at its entry (a try/catch costs nothing until something throws; no closure per request) and hands what
  // it caught to `crashed`.

  onRead(nread: number, bytes: Buffer): boolean {
    const exchange = this.exchange
    try {
      this.readDone(nread, bytes, exchange)
      return true
    } catch (error) {
      this.crashed(exchange, error)
      return false
    }
  }

  nextReadBuffer(): Buffer {
    try {
      return this.readBuffer()
    } catch (error) {
      this.crashed(this.exchange, error)
      // The socket is destroyed: whatever it reads now is thrown away.
      return sharedReadBuffer()
    }
  }

  private onData(chunk: Buffer): void {
    const exchange = this.exchange
    try {
      this.receive(chunk)
    } catch (error) {
      this.crashed(exchange, error)
    }
  }

  private afterReaderTurn(): void {
    const exchange = this.exchange
    try {
      exchange?.afterReaderTurn()
    } catch (error) {
      this.crashed(exchange, error)
    }
  }

  private onEnd(): void {
    const exchange = this.exchange
    try {
      this.ended()
    } catch (error) {
      this.crashed(exchange, error)
    }
  }

  private onError(error: Error): void {
    const exchange = this.exchange
    try {
      this.socketFailed(error)
    } catch (thrown) {
      this.crashed(exchange, thrown)
    }
  }

  private onClose(): void {
    const exchange = this.exchange
    try {
      this.socketClosed()
    } catch (error) {
      this.crashed(exchange, error)
    }
  }

  private onDrain(): void {
    const exchange = this.exchange
    try {
      this.drainedSocket()
    } catch (error) {
      this.crashed(exchange, error)
    }
  }

  // ---- the pool's side -------------------------------------------------------------------------------------------

  assign(exchange: Exchange): void {
    this.exchange = exchange
    exchange.conn = this
    if (this.state === "IDLE") this.start(exchange)
  }

  isReusable(now: number): boolean {
    const socket = this.socket
    return this.state === "IDLE" && !socket.destroyed && socket.readable && socket.writable &&
      (this.owner.keepaliveExpiry <= 0 || now - this.idleSince < this.owner.keepaliveExpiry)
  }

  abort(exchange: Exchange): void {
    if (this.exchange === exchange) this.exchange = undefined
    this.close()
  }

  shutdown(error: HttpError.HttpError | undefined): void {
    const exchange = this.exchange
    this.exchange = undefined
    this.close()
    if (exchange !== undefined && error !== undefined) exchange.fail(error)
  }

  pauseReading(_exchange: Exchange): void {
    this.socket.pause()
    // A consumer that reads slowly is not a server that answers slowly.
    if (this.timer.kind === Timer.Read) this.timer.suspend()
  }

  resumeReading(_exchange: Exchange): void {
    if (this.state === "CLOSED") return
    this.socket.resume()
    if (this.exchange !== undefined && this.timer.kind === Timer.None) this.arm(Timer.Read, this.readTimeout)
  }

  // ---- writing ---------------------------------------------------------------------------------------------------

  private start(exchange: Exchange): void {
    // An IDLE connection does not keep the process alive (as http.Agent's free sockets); one at work does.
    if (this.state === "IDLE") this.socket.ref()
    if (this.state !== "ACTIVE") exchangeStarted()
    this.state = "ACTIVE"
    this.requestCount++
    this.completed = false
    this.readTimeout = exchange.timeouts.read
    this.writeTimeout = exchange.timeouts.write
    this.headTimeout = exchange.timeouts.head
    this.headDeadline = 0
    this.headTimed = false
    this.parser.reset(exchange.method === "HEAD", exchange.limits.maxHeadSize, exchange.upgrade)
    const socket = this.socket
    if (socket.isPaused()) socket.resume()
    let flushed: boolean
    holdIfBatching(socket)
    if (exchange.body !== undefined) {
      socket.cork()
      socket.write(exchange.headBytes, "latin1")
      flushed = socket.write(exchange.body)
      socket.uncork()
    } else {
      flushed = socket.write(exchange.headBytes, "latin1")
    }
    if (exchange.streamBody) {
      this.bodyPending = true
      this.bodySent = 0
      this.disarm()
      exchange.ready()
    } else if (flushed) {
      this.awaitResponse()
    } else {
      this.arm(Timer.Write, this.writeTimeout)
    }
  }

  /**
   * One piece of a streamed request body, chunked-framed (RFC 9112 §7.1) unless the caller declared its length.
   * Returns false when the caller must wait for drain; fails the exchange when a declared length is exceeded.
   */
  writeBody(_exchange: Exchange, bytes: Uint8Array): boolean {
    if (bytes.length === 0 || this.state === "CLOSED") return true
    const socket = this.socket
    const declared = this.exchange?.streamLength ?? -1
    if (declared >= 0) {
      this.bodySent += bytes.length
      if (this.bodySent > declared) {
        this.failBody(`the body stream produced more than the ${declared} bytes its Content-Length declared`)
        return false
      }
      const flushed = socket.write(bytes)
      if (!flushed) this.arm(Timer.Write, this.writeTimeout)
      return flushed
    }
    socket.cork()
    socket.write(bytes.length.toString(16) + "\r\n", "latin1")
    socket.write(bytes)
    const flushed = socket.write("\r\n", "latin1")
    socket.uncork()
    if (!flushed) this.arm(Timer.Write, this.writeTimeout)
    return flushed
  }

  /** The streamed body is done: send the last chunk and start waiting for the response. */
  endBody(_exchange: Exchange): void {
    if (this.state === "CLOSED") return
    const declared = this.exchange?.streamLength ?? -1
    if (declared >= 0 && this.bodySent !== declared) {
      return this.failBody(`the body stream ended after ${this.bodySent} of the ${declared} bytes its Content-Length declared`)
    }
    this.bodyPending = false
    const flushed = declared >= 0 || this.socket.write("0\r\n\r\n", "latin1")
    if (this.exchange === undefined) return
    if (flushed) this.awaitResponse()
    else this.arm(Timer.Write, this.writeTimeout)
  }

  /** A streamed body broke its declared length: the request on the wire is unfinishable, so the connection goes. */
  private failBody(reason: string): void {
    const exchange = this.exchange
    this.exchange = undefined
    this.close()
    exchange?.fail(
      new LocalProtocolError({
        message: `${exchange.method} ${exchange.target.href}: ${reason}`,
        request: exchange.requestInfo
      })
    )
  }

  private drainedSocket(): void {
    if (this.timer.kind === Timer.Write) {
      if (this.bodyPending) this.disarm()
      else this.awaitResponse()
    }
    this.exchange?.drained()
  }

  // ---- waiting for the response ----------------------------------------------------------------------------------

  /**
   * The request is sent: its last byte is with the socket (for a streamed body, once the body has ended). The read
   * timeout starts, and so does the head deadline. It starts here rather than when the head was written, so that an
   * upload that takes longer than the deadline is not cut short: the write timeout and the body's own pace govern
   * the upload, and the server cannot be expected to answer before it has the whole request.
   */
  private awaitResponse(): void {
    const exchange = this.exchange
    const now = performance.now()
    if (exchange !== undefined) exchange.sentAt = now
    if (this.headTimeout > 0 && exchange !== undefined && !exchange.headReceived) {
      this.headDeadline = now + this.headTimeout
      this.armHeadWait(this.headTimeout)
    } else {
      this.arm(Timer.Read, this.readTimeout)
    }
  }

  /**
   * While the head is due, one timer serves both limits: it is armed with the read timeout, or with what is left
   * before the head deadline when that is sooner, and `headTimed` says which one firing means.
   */
  private armHeadWait(left: number): void {
    const read = this.readTimeout
    this.headTimed = read <= 0 || left < read
    this.arm(Timer.Read, this.headTimed ? Math.max(1, Math.ceil(left)) : read)
  }

  /**
   * Bytes came and the head is still not complete: the read timeout starts again, the head deadline stays where it
   * is (a server trickling its head a byte at a time must not hold the request for ever, as undici's headersTimeout).
   */
  private headStillDue(exchange: Exchange): void {
    const left = this.headDeadline - performance.now()
    if (left > 0) return this.armHeadWait(left)
    this.exchange = undefined
    this.close()
    exchange.fail(this.headTimeoutError(exchange))
  }

  private headTimeoutError(exchange: Exchange): ReadTimeout {
    return new ReadTimeout({
      message: `${exchange.method} ${exchange.target.href}: the response head was not complete ` +
        `${this.headTimeout} ms after the request was sent (the head timeout)` +
        (this.parser.receivedAny ? "; the server was still sending it" : "") +
        `; raise timeout.head if the server is just slow to answer`,
      request: exchange.requestInfo
    })
  }

  // ---- reading ---------------------------------------------------------------------------------------------------

  private readDone(nread: number, bytes: Buffer, exchange: Exchange | undefined): void {
    this.lastRead = nread
    this.owned = bytes === this.own
    this.inPlace = bytes === this.into
    this.receive(nread === bytes.length ? bytes : bytes.subarray(0, nread))
    this.owned = false
    this.inPlace = false
    if (this.ownGiven) {
      this.ownGiven = false
      this.own = undefined
      this.slabUsed += nread
    }
    if (exchange !== undefined && exchange === this.exchange && exchange.afterRead()) {
      // The reader is resumed on a microtask queued while the bytes were handed over; this one runs after it, and
      // still before the socket reads again (Node drains microtasks before it returns to the event loop).
      RESOLVED.then(this.afterReaderTurn)
    }
  }

  /** Node asks before the first read and after each one. */
  private readBuffer(): Buffer {
    const exchange = this.exchange
    const into = exchange?.readsInto
    if (into !== undefined) return this.readBufferInto(into)
    this.into = undefined
    if (
      exchange !== undefined && exchange.streaming && exchange.bodyAsked && !exchange.bodyDone &&
      this.lastRead >= BULK_READ
    ) {
      if (this.own === undefined) {
        const left = this.parser.lengthLeft
        const room = this.slab === undefined ? 0 : this.slab.length - this.slabUsed
        if (room < SLAB_MIN_ROOM && (left < 0 || room < left)) {
          this.slab = Buffer.allocUnsafeSlow(left > 0 && left < SLAB_SIZE ? left : SLAB_SIZE)
          this.slabUsed = 0
        }
        this.own = this.slab!.subarray(this.slabUsed)
      }
      return this.own
    }
    this.own = undefined
    // An idle connection keeps no slab: its rest would wait unused for as long as the connection does.
    if (exchange === undefined) this.slab = undefined
    return sharedReadBuffer()
  }

  /**
   * A reader with a buffer of its own: bytes sure to be body go straight into it (no more of them than that, so the
   * read holds no framing); framing goes through the shared buffer, and no more of it than the reader's buffer could
   * take, so that the body bytes among it fit there too and nothing is queued.
   */
  private readBufferInto(into: Buffer): Buffer {
    this.own = undefined
    const ahead = this.parser.bodyAhead
    if (ahead > 0) return this.into = ahead >= into.length ? into : into.subarray(0, ahead)
    this.into = undefined
    const shared = sharedReadBuffer()
    return into.length >= shared.length ? shared : shared.subarray(0, into.length)
  }

  private receive(chunk: Buffer): void {
    const exchange = this.exchange
    if (exchange === undefined || this.state !== "ACTIVE") {
      // Bytes nobody asked for (RFC 9112 §9.3 allows none between responses): the connection cannot be trusted.
      this.close()
      return
    }
    // While the head is due, `headStillDue` re-arms the timer after the bytes are parsed (if the head is still due).
    if (this.timer.kind === Timer.Read && this.headDeadline === 0) this.timer.refresh()
    const consumed = this.parser.execute(chunk)
    // Given up while its bytes were parsed (its body passed a limit): the connection is closed already.
    if (this.exchange !== exchange) return
    if (consumed < 0) {
      this.exchange = undefined
      this.close()
      exchange.fail(
        new RemoteProtocolError({
          message: `${exchange.method} ${exchange.target.href}: the server sent an invalid response: ${this.parser.error}`,
          request: exchange.requestInfo
        })
      )
      return
    }
    if (this.completed) {
      if (this.parser.upgraded) return this.switched(exchange, chunk, consumed)
      this.finish(exchange, consumed === chunk.length)
    }
    else if (this.headDeadline !== 0) this.headStillDue(exchange)
  }

  onHead(status: number, reason: string, versionMinor: number, rawHeaders: Array<string>): void {
    if (this.headDeadline !== 0) this.headArrived()
    const parser = this.parser
    this.exchange!.onHead(status, reason, versionMinor, rawHeaders, parser.contentLength, parser.transferCodings)
  }

  /** The head is complete: from now on only silence counts, timed by the read timeout from this read. */
  private headArrived(): void {
    this.headDeadline = 0
    this.headTimed = false
    if (this.timer.kind === Timer.Read) this.arm(Timer.Read, this.readTimeout)
  }

  onBody(chunk: Buffer): void {
    const exchange = this.exchange
    // The rest of a read whose exchange was given up on the way (see onData).
    if (exchange === undefined) return
    if (this.reader === undefined) {
      exchange.onBody(chunk)
    } else if (this.inPlace) {
      // Only body bytes were read there (the read was no longer than `bodyAhead`), from its start.
      exchange.onBodyInPlace(chunk.length)
    } else if (this.owned) {
      // Slab memory the next reads will not reuse: the reader may keep it as it is.
      this.ownGiven = true
      exchange.onBody(chunk)
    } else {
      exchange.onBodyCopy(chunk, this.parser.contentLength)
    }
  }

  onComplete(): void {
    this.completed = true
  }

  private finish(exchange: Exchange, clean: boolean): void {
    this.exchange = undefined
    this.completed = false
    if (clean && this.parser.keepAlive && !this.bodyPending && this.socket.readable && this.socket.writable) {
      this.leaveActive()
      this.state = "IDLE"
      this.idleSince = performance.now()
      // A streamed body can complete with the socket paused for a slow reader; an idle connection must keep reading
      // so that stray bytes or the server's FIN close it before it is handed out again.
      if (this.socket.isPaused()) this.socket.resume()
      this.socket.unref()
      this.arm(Timer.Idle, this.owner.keepaliveExpiry)
      this.owner.released(this)
    } else {
      this.close()
    }
    exchange.complete()
  }

  /**
   * A 101 answered the exchange's upgrade request: the socket now speaks another protocol and belongs to the
   * exchange (and through it to the caller's scope). The connection leaves the pool for good, without closing the
   * socket; the bytes that came after the head are the new protocol's first.
   */
  private switched(exchange: Exchange, chunk: Buffer, consumed: number): void {
    this.exchange = undefined
    this.completed = false
    this.leaveActive()
    this.state = "CLOSED"
    this.disarm()
    const socket = this.socket
    // Nobody reads until the new protocol's code attaches: the bytes wait in the socket, not in a lost 'data' event.
    socket.pause()
    socket.off("data", this.onData)
    socket.off("end", this.onEnd)
    socket.off("close", this.onClose)
    socket.off("drain", this.onDrain)
    // The error listener stays until the new owner has one (a socket error with no listener would throw).
    socket.off("error", this.onError)
    socket.on("error", ignoreError)
    // Reads through `onread` stop here too (the socket is paused), until the new owner becomes the relay's sink.
    const reader = this.reader
    if (reader !== undefined) reader.sink = undefined
    this.owner.closed(this)
    exchange.switched(socket, consumed < chunk.length ? Buffer.from(chunk.subarray(consumed)) : undefined, reader)
  }

  private ended(): void {
    const exchange = this.exchange
    if (exchange === undefined || this.state !== "ACTIVE") {
      // Closed by the server while idle: drop it now so it is never handed out.
      this.close()
      return
    }
    const problem = this.parser.finish()
    if (this.completed) {
      this.finish(exchange, false)
      return
    }
    this.exchange = undefined
    this.close()
    if (this.retryable(exchange)) return resend(this.owner, exchange)
    exchange.fail(
      new RemoteProtocolError({
        message: this.parser.receivedAny
          ? `${exchange.method} ${exchange.target.href}: ${problem}`
          : `${exchange.method} ${exchange.target.href}: the server disconnected without sending a response` +
            this.tlsHint(),
        request: exchange.requestInfo
      })
    )
  }

  private socketFailed(error: Error): void {
    const exchange = this.exchange
    this.exchange = undefined
    this.close()
    if (exchange === undefined) return
    if (this.retryable(exchange)) return resend(this.owner, exchange)
    const code = (error as NodeJS.ErrnoException).code
    const writing = !exchange.headReceived && (code === "EPIPE" || this.bodyPending)
    const Kind = writing ? WriteError : ReadError
    exchange.fail(
      new Kind({
        message: `${exchange.method} ${exchange.target.href}: the connection failed while ` +
          `${writing ? "sending the request" : "reading the response"}: ${error.message}`,
        request: exchange.requestInfo,
        cause: error
      })
    )
  }

  private socketClosed(): void {
    if (this.state === "CLOSED") return
    const exchange = this.exchange
    if (exchange !== undefined) {
      this.ended()
    } else {
      this.close()
    }
  }

  /**
   * A TLS server that reads plain HTTP closes the connection without a byte (Node's, OpenSSL's "http request"
   * error) or answers with a TLS alert (the parser names that one): on a first request to an http:// origin, say so.
   */
  private tlsHint(): string {
    return this.requestCount === 1 && !this.target.secure && !this.proxied
      ? "; if the server expects TLS on this port, use https://"
      : ""
  }

  /** The connection broke under `exchange`: whether it goes again elsewhere (a stale keep-alive, see resend.ts). */
  private retryable(exchange: Exchange): boolean {
    return mayResend(exchange, Reason.Stale, this.parser.receivedAny, this.requestCount > 1)
  }

  // ---- timers ----------------------------------------------------------------------------------------------------

  private arm(kind: Timer, ms: number): void {
    this.timer.arm(kind, ms)
  }

  private disarm(): void {
    this.timer.disarm()
  }

  private onTimer(kind: Timer): void {
    const exchange = this.exchange
    try {
      this.timedOut(kind)
    } catch (error) {
      this.crashed(exchange, error)
    }
  }

  private timedOut(kind: Timer): void {
    const exchange = this.exchange
    if (kind === Timer.Idle || exchange === undefined) {
      this.close()
      return
    }
    this.exchange = undefined
    this.close()
    exchange.fail(this.timeoutError(exchange, kind))
  }

  private timeoutError(exchange: Exchange, kind: Timer): HttpError.HttpError {
    const where = `${exchange.method} ${exchange.target.href}`
    switch (kind) {
      case Timer.Write:
        return new WriteTimeout({
          message: `${where}: the server accepted no request bytes for ${this.timer.ms} ms (the write timeout)`,
          request: exchange.requestInfo
        })
      default:
        if (this.headTimed) return this.headTimeoutError(exchange)
        return new ReadTimeout({
          message: `${where}: no response bytes arrived for ${this.timer.ms} ms (the read timeout); ` +
            `raise timeout.read if the server is just slow`,
          request: exchange.requestInfo
        })
    }
  }

  private leaveActive(): void {
    if (this.state === "ACTIVE") exchangeEnded()
  }

  // ---- closing ---------------------------------------------------------------------------------------------------

  private teardownSocket(): void {
    // A late error from a socket we no longer listen to must not become an uncaught exception.
    destroyQuietly(this.socket)
  }

  /** Idempotent. Destroys the socket and tells the pool the slot is free. */
  close(): void {
    if (this.state === "CLOSED") return
    this.leaveActive()
    this.state = "CLOSED"
    this.disarm()
    this.teardownSocket()
    this.owner.closed(this)
  }

  /**
   * Our own code threw in a callback of Node's (a bug, or a RangeError from an allocation too large), which must not
   * reach `uncaughtException`: the request fails with a ReadError that keeps what was thrown, and the connection,
   * whose state is now unknown, is closed, which gives its pool slot back. `during` is the exchange the callback
   * began with; one the pool may have handed over since fails too.
   */
  private crashed(during: Exchange | undefined, error: unknown): void {
    const current = this.exchange
    this.exchange = undefined
    try {
      this.close()
    } catch {
      // The pool's bookkeeping threw in turn: the socket goes at least.
      destroyQuietly(this.socket)
    }
    failInternally(during, error)
    if (current !== during) failInternally(current, error)
  }
}

const ignoreError = (): void => {}

/**
 * Fail an exchange still in flight because our own code threw in a callback (see `Http11Connection.crashed`).
 * ReadError rather than RemoteProtocolError: the connection broke under the request, as with a reset, but nothing
 * says the server broke HTTP; the cause keeps what was thrown, for a bug report. Never throws.
 */
export const failInternally = (exchange: Exchange | undefined, error: unknown): void => {
  if (exchange === undefined || exchange.done) return
  try {
    const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    exchange.fail(
      new ReadError({
        message: `${exchange.method} ${exchange.target.href}: the connection was closed after an internal error ` +
          `while handling it (${what}); if this repeats, please report it with this error's cause`,
        request: exchange.requestInfo,
        cause: error
      })
    )
  } catch {
    // Nothing safer is left to do: the connection is already closed.
  }
}
