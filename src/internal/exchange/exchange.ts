/**
 * One request/response exchange: the state a request carries from pool checkout to its last body byte, and the
 * bridge from the synchronous connection code to the fiber waiting on it.
 *
 * The connection reports events (ready, head, body, complete, failure); the fiber waits for one phase at a time
 * through `await`. Exactly one fiber callback is pending at any moment, so each wait is one `Effect.async`.
 */
import * as Headers from "@effect/platform/Headers"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as RuntimeFlags from "effect/RuntimeFlags"
import { ReadError, RequestTimeout } from "../../HttpError.js"
import type * as HttpError from "../../HttpError.js"
import { decodingError, maxBufferSize, responseTooLarge, unsupportedError } from "../wire/bodyDecoding.js"
import { BodyDecoder, bodyCodings, unsupportedCoding } from "../wire/decoding.js"
import type { HeaderInput } from "../wire/requestHead.js"
import { emptyBody, make as makeRequest } from "../message/request.js"
import type { Request } from "../message/request.js"
import type { BodyPull, BodyReadInto, Response, StreamingResponse } from "../message/response.js"
import { BufferedResponse, findHeader, StreamingBase } from "../message/response.js"
import { defaultLimits } from "../core/limits.js"
import type { Limits } from "../core/limits.js"
import type { Timeouts } from "../core/timeouts.js"
import type { Target } from "../core/url.js"
import { NO_CODINGS } from "../wire/responseParser.js"

/** What the waiting fiber is waiting for. */
export const enum Phase {
  None = 0,
  /** connection checked out and the head written: the caller may now stream the request body */
  Ready = 1,
  /** the socket took the last written bytes (a streamed request body waits on this for backpressure) */
  Drain = 2,
  /** the response head */
  Head = 3,
  /** more body bytes, or the end */
  Chunk = 4,
  /** the whole buffered response */
  Complete = 5,
  /** the rest of a streaming response's body, decoded: what `read` waits for */
  Rest = 6,
  /** body bytes in the reader's own buffer (`runForEach` with `buffer`), or the end */
  Into = 7
}

/** The connection an exchange runs on, as the exchange (and the pool's body writer) sees it. */
export interface ExchangeConnection {
  /**
   * The exchange was abandoned mid-flight: free its slot. HTTP/1.1 closes the connection (an unfinished exchange
   * leaves it unusable); HTTP/2 cancels just that stream.
   */
  abort(exchange: Exchange): void
  /** The consumer is behind: stop reading this exchange's response (the socket, or the HTTP/2 stream). */
  pauseReading(exchange: Exchange): void
  resumeReading(exchange: Exchange): void
  /**
   * One piece of a streamed request body. Returns false when the writer must wait for `drained` (or the exchange
   * ended); fails the exchange when a declared Content-Length is exceeded.
   */
  writeBody(exchange: Exchange, bytes: Uint8Array): boolean
  /** The streamed request body is complete. */
  endBody(exchange: Exchange): void
}

/** The protocol a response came in on, as `Exchange.version` holds it. */
export const enum Version {
  /** @public the parser's minor version 0: set by number, never by name */
  Http10 = 0,
  Http11 = 1,
  Http2 = 2
}

const versionNames = ["HTTP/1.0", "HTTP/1.1", "HTTP/2"] as const

/** The pool, as an exchange sees it. */
export interface ExchangeOwner {
  dequeue(exchange: Exchange): void
}

/**
 * A streaming response whose exchange its holder owns without a Scope (the platform adapter's): it lets go with
 * `abandon`, and may take a body that is all in already without a wait.
 */
export interface OwnedResponse extends StreamingResponse {
  /** `close`, at once. */
  abandon(): void
  /** Letting go would still do something: body bytes are still to come, or the body may yet be decoded. */
  readonly unfinished: boolean
  /** `read` at once, when the whole body is in and has nothing to undo; undefined when `read` has to wait. */
  readNow(): Response | undefined
}

/** Body bytes queued for a streaming consumer before the socket is paused. */
const HIGH_WATER_MARK = 64 * 1024

/**
 * A buffered body with a declared length up to this size is copied into one buffer of that size as it arrives (no
 * joining at the end). Larger declarations are not trusted that far: their pieces are copied one by one.
 */
const PREALLOCATE_LIMIT = 1024 * 1024

type Resume = (effect: Effect.Effect<any, any>) => void

// Shared by every exchange until it has headers or body bytes of its own (a queued request holds neither), and never
// written to: `onHead` replaces the first, `addChunk` the second.
const NO_HEADERS: Array<string> = []
const NO_CHUNKS: Array<Buffer> = []

export class Exchange {
  // the request
  readonly startedAt = performance.now()
  conn: ExchangeConnection | undefined = undefined
  owner: ExchangeOwner | undefined = undefined
  /** in the pool's wait queue */
  queued = false
  poolTimer: ReturnType<typeof setTimeout> | undefined = undefined
  /** the one automatic retry on a stale keep-alive connection has been used */
  retried = false
  /** a streamed body's declared Content-Length, sent without chunked framing; -1 for chunked */
  streamLength = -1
  /** how large the response may be (the pool's, or the request's own over them) */
  limits: Limits = defaultLimits
  /** the body is delivered as the server sent it: no coding is undone (the pool's `decompress: false`) */
  asSent = false

  // the response
  status = 0
  reason = ""
  /** a `Version`: the HTTP/1.x minor version as the parser reports it, or 2 for HTTP/2 */
  version: Version = Version.Http11
  rawHeaders: Array<string> = NO_HEADERS
  chunks: Array<Buffer> = NO_CHUNKS
  size = 0
  /** raw body bytes received so far */
  received = 0
  /** a streamed body is being read whole (`read`): the platform's largest buffer bounds it too */
  private readWhole = false
  /** every coding of the body to undo, content codings first (see `bodyCodings`); undefined when there are none */
  codings: Array<string> | undefined = undefined
  /** the transfer codings of a body read until close, in the order applied (RFC 9112 §6.1) */
  transferCodings: ReadonlyArray<string> = NO_CODINGS
  /** decodes a body read whole as its bytes arrive; `chunks` and `size` then hold decoded bytes */
  private decoder: BodyDecoder | undefined = undefined
  /** why `codings` cannot be undone: the body is read as it is, and its reader gets a DecodingError */
  private codingProblem: string | undefined = undefined
  /** The preallocated buffer `onBodyCopy` fills for a buffered body of declared length (also `chunks[0]`). */
  private whole: Buffer | undefined = undefined
  bodyDone = false
  failure: HttpError.HttpError | undefined = undefined
  /** The client's request this exchange sends, which its response reports; undefined: made from the head. */
  sent: Request | undefined = undefined
  /**
   * A reader has asked for body bytes. Until one does, the few bytes that arrive with the head are copied, rather
   * than read into a slab of their own that the reader (which may well bring its own buffer) would mostly not use.
   */
  bodyAsked = false
  /** finished from the pool's point of view: completed, failed, or abandoned */
  done = false
  headReceived = false

  // the waiting fiber
  private waiting = Phase.None
  private resume: Resume | undefined = undefined
  private totalTimer: ReturnType<typeof setTimeout> | undefined = undefined
  private paused = false
  private head: OwnedResponse | undefined = undefined

  // a reader with a buffer of its own (`runForEach` with `buffer`)
  /** it, with its buffer, for as long as the exchange may write into that */
  private into: IntoRead | undefined = undefined
  /** the reader waits for bytes in its buffer */
  private intoWaiting = false
  /** how much of `chunks[0]` that reader has already taken */
  private chunkOffset = 0

  constructor(
    readonly method: string,
    readonly target: Target,
    readonly headBytes: string,
    readonly body: Uint8Array | undefined,
    readonly streamBody: boolean,
    readonly headers: HeaderInput | undefined,
    readonly timeouts: Timeouts,
    readonly streaming: boolean
  ) {}

  get requestInfo(): HttpError.RequestInfo {
    return { method: this.method, url: this.target.href }
  }

  makeRequest(): Request {
    if (this.sent !== undefined) return this.sent
    return makeRequest({
      method: this.method,
      url: this.target.href,
      headers: requestHeaders(this.headBytes),
      body: this.body !== undefined ? { _tag: "Bytes", bytes: this.body } : emptyBody
    })
  }

  // ---- events from the connection -------------------------------------------------------------------------------

  ready(): void {
    if (this.waiting === Phase.Ready) this.settle(Effect.void)
  }

  drained(): void {
    if (this.waiting === Phase.Drain) this.settle(Effect.void)
  }

  /**
   * The response head. `declared` is the body's Content-Length (-1: none, or a response without a body);
   * `transferCodings` those of a body read until close.
   */
  onHead(
    status: number,
    reason: string,
    version: Version,
    rawHeaders: Array<string>,
    declared = -1,
    transferCodings: ReadonlyArray<string> = NO_CODINGS
  ): void {
    this.status = status
    this.reason = reason
    this.version = version
    this.rawHeaders = rawHeaders
    this.headReceived = true
    // Refused before a byte of it is read: the connection, with the body still on it, is closed.
    if (declared > this.bodyLimit) return this.tooLarge(declared)
    if (!this.asSent) {
      const contentEncoding = findHeader(rawHeaders, "content-encoding")
      if (contentEncoding !== undefined || transferCodings.length > 0) {
        this.transferCodings = transferCodings
        this.codings = bodyCodings(contentEncoding, transferCodings)
        if (!this.streaming && this.codings !== undefined) this.startDecoding()
      }
    }
    if (this.streaming) {
      this.clearTotal()
      if (this.waiting === Phase.Head) this.settle(Effect.succeed(this.streamingResponse()))
    }
    // A server may answer before the request body is done (a 413, say): the body writer wakes up and stops.
    if (this.waiting === Phase.Ready || this.waiting === Phase.Drain) this.settle(Effect.void)
  }

  onBody(chunk: Buffer): void {
    if (this.intoWaiting) {
      if (this.passes(chunk.length)) return this.tooLarge(-1)
      const n = chunk.copy(this.into!.buffer, 0, 0)
      if (n < chunk.length) this.enqueue(chunk.subarray(n))
      return this.settleInto(this.into!, n)
    }
    this.queue(chunk)
  }

  /**
   * The most body bytes this exchange takes, raw and decoded: `limits.maxBodySize`, and for a body read whole the
   * largest buffer the platform allocates. (Worked out when needed rather than kept: a field holding a number that
   * is not a small integer would cost every exchange an allocation.)
   */
  private get bodyLimit(): number {
    const configured = this.limits.maxBodySize
    return this.streaming && !this.readWhole ? configured : Math.min(configured, maxBufferSize())
  }

  /** Count `n` more raw body bytes: true when that passes the limit. */
  private passes(n: number): boolean {
    return (this.received += n) > this.bodyLimit
  }

  private addChunk(chunk: Buffer): void {
    if (this.chunks === NO_CHUNKS) this.chunks = [chunk]
    else this.chunks.push(chunk)
  }

  private queue(chunk: Buffer): void {
    if (this.passes(chunk.length)) return this.tooLarge(-1)
    this.enqueue(chunk)
  }

  /** Raw body bytes, counted already: to the decoder, or queued for the reader. */
  private enqueue(chunk: Buffer): void {
    if (this.decoder !== undefined) return this.feedDecoder(chunk)
    this.addChunk(chunk)
    this.size += chunk.length
    if (this.streaming) {
      if (this.waiting === Phase.Chunk) {
        this.settle(Effect.succeed(this.takeChunks()))
      } else if (
        this.size >= HIGH_WATER_MARK && this.waiting !== Phase.Rest && !this.paused && this.conn !== undefined
      ) {
        this.paused = true
        this.conn.pauseReading(this)
      }
    }
  }

  /**
   * Body bytes that stay valid only during this call (they sit in a read buffer the next read overwrites): keep a
   * copy. `declared` is the Content-Length, or -1.
   */
  onBodyCopy(bytes: Buffer, declared: number): void {
    const n = bytes.length
    if (this.intoWaiting) {
      if (this.passes(n)) return this.tooLarge(-1)
      const taken = bytes.copy(this.into!.buffer, 0, 0)
      if (taken < n) {
        const rest = Buffer.allocUnsafe(n - taken)
        bytes.copy(rest, 0, taken, n)
        this.enqueue(rest)
      }
      return this.settleInto(this.into!, taken)
    }
    // The declared length was checked against the limit with the head, and the parser passes no more than that.
    if (!this.streaming && declared > 0 && declared <= PREALLOCATE_LIMIT && this.decoder === undefined) {
      let whole = this.whole
      if (whole === undefined) {
        whole = this.whole = Buffer.allocUnsafe(declared)
        this.addChunk(whole)
      }
      // The parser never passes more than the declared length.
      bytes.copy(whole, this.size, 0, n)
      this.size += n
      return
    }
    const copy = Buffer.allocUnsafe(n)
    bytes.copy(copy, 0, 0, n)
    this.queue(copy)
  }

  /** A read of `n` body bytes landed straight in the reader's buffer (see `readsInto`). */
  onBodyInPlace(n: number): void {
    if (this.passes(n)) return this.tooLarge(-1)
    if (this.intoWaiting) return this.settleInto(this.into!, n)
    // Not reachable while the socket reads only for a waiting reader; should it happen, the bytes are not lost.
    if (this.into !== undefined) this.enqueue(Buffer.from(this.into.buffer.subarray(0, n)))
  }

  /**
   * The reader's own buffer, once a reader has one and while the body lasts: a connection that reads into memory of
   * its choosing reads body bytes straight into it. Between the reader's waits the connection does not read (see
   * `afterRead`), so no bytes land there while the reader is using them.
   */
  get readsInto(): Buffer | undefined {
    return this.bodyDone ? undefined : this.into?.buffer
  }

  /**
   * After each read of a connection that reads into memory of its choosing: true when a reader with a buffer of its
   * own has just been handed bytes there. The connection then calls `afterReaderTurn` once the reader has had its
   * turn, before the socket can read again.
   */
  afterRead(): boolean {
    return this.into !== undefined && !this.intoWaiting && !this.paused && !this.bodyDone
  }

  /**
   * The reader has had its turn with the bytes it was handed. If it asked for more, the next read may land in its
   * buffer as it is. If not (its `f` is still at work), the kernel keeps the bytes until it asks, rather than a copy
   * of ours: reading stops. Deciding this only now, rather than at once, spares a reader that asks again straight
   * away a stop and a restart of the socket for every read.
   */
  afterReaderTurn(): void {
    if (this.afterRead() && this.conn !== undefined) {
      this.paused = true
      this.conn.pauseReading(this)
    }
  }

  /** The body ended; the connection has already gone back to the pool (or been closed). */
  complete(): void {
    this.bodyDone = true
    this.done = true
    const into = this.into
    this.into = undefined
    this.conn = undefined
    const decoder = this.decoder
    if (decoder !== undefined) {
      // The rest is zlib's: the waiting fiber is resumed with the last decoded bytes (see `decoderChanged`). Until
      // then the scope, the total timeout and interruption can still stop it.
      decoder.end()
      return
    }
    // A streamed body with codings may yet be read whole, and decoded then: its scope keeps the power to stop that.
    if (!this.streaming || this.codings === undefined) this.releaseScope()
    this.clearTotal()
    this.settleComplete(into)
  }

  private settleComplete(into: IntoRead | undefined): void {
    switch (this.waiting) {
      case Phase.Complete:
        return this.settle(this.buffered())
      case Phase.Rest:
        return this.settle(this.rest())
      case Phase.Chunk:
        return this.settle(this.chunks.length > 0 ? Effect.succeed(this.takeChunks()) : Effect.fail(Option.none()))
      case Phase.Into:
        return this.settleInto(into!, -1)
      case Phase.Head:
        return this.settle(Effect.succeed(this.streamingResponse()))
      case Phase.Ready:
      case Phase.Drain:
        return this.settle(Effect.void)
    }
  }

  fail(error: HttpError.HttpError): void {
    if (this.done && this.failure !== undefined) return
    this.stopDecoding()
    this.failure = error
    this.done = true
    this.into = undefined
    this.releaseScope()
    this.conn = undefined
    this.clearTotal()
    this.clearPoolTimer()
    if (this.waiting !== Phase.None) this.settleFailed(error)
  }

  // ---- the fiber's side ------------------------------------------------------------------------------------------

  /**
   * Wait for `phase`. `start` runs inside the registration (the pool checkout for the first wait), so the common
   * buffered request is a single `Effect.async` from checkout to the last byte.
   */
  await<A, E>(phase: Phase, start?: (exchange: Exchange) => void): Effect.Effect<A, E> {
    return Effect.async<A, E>((resume) => this.register(resume, phase, start))
  }

  /**
   * The body of an `Effect.async` registration: returns the canceller while the fiber waits. A `guarded` wait gets
   * none: the reader's loop around it calls `readerInterrupted` instead (one handler per body, not one per read).
   */
  register(
    resume: Resume,
    phase: Phase,
    start?: (exchange: Exchange) => void,
    guarded = false
  ): Effect.Effect<void> | undefined {
    this.waiting = phase
    this.resume = resume
    if (start !== undefined) {
      this.armTotal()
      start(this)
    } else {
      this.check()
    }
    if (this.resume === undefined || guarded) return undefined
    if (this.queued && phase === Phase.Complete && this.watchFiber()) return undefined
    return Effect.sync(() => this.cancel())
  }

  /** The loop reading this body (`runForEach`) was interrupted: a guarded wait in progress ends as a canceller would. */
  readerInterrupted(): void {
    if (this.resume !== undefined && (this.waiting === Phase.Chunk || this.waiting === Phase.Into)) this.cancel()
  }

  // A buffered request that has to queue is watched through its fiber rather than given a canceller. Effect builds an
  // interruption handler around every `Effect.async` that returns one: about 1.5 KB that a queued request holds for
  // as long as it waits, and most of what 10,000 queued requests cost. The fiber's exit plays the canceller's part,
  // and a waiter whose fiber was interrupted is passed over when its turn comes, so its request is never sent.

  /** The fiber of a queued buffered request, while it waits without a canceller. */
  private fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
  private observer: (() => void) | undefined = undefined

  /**
   * Watch the waiting fiber, when its wait can be interrupted (a wait that cannot be keeps its canceller: it is
   * never interrupted, and the fiber may already be, running a finalizer). Answers whether it is watched.
   */
  private watchFiber(): boolean {
    const current = Fiber.getCurrentFiber()
    if (current._tag === "None") return false
    const fiber = current.value
    // The flags the wait runs with; not on the RuntimeFiber interface, hence the check (without them: a canceller).
    const flags = (fiber as { readonly currentRuntimeFlags?: unknown }).currentRuntimeFlags
    if (typeof flags !== "number" || !RuntimeFlags.interruptible(flags as RuntimeFlags.RuntimeFlags)) return false
    const observer = () => this.fiberExited()
    this.fiber = fiber
    this.observer = observer
    fiber.addObserver(observer)
    return true
  }

  private unwatchFiber(): void {
    const fiber = this.fiber
    const observer = this.observer
    this.fiber = undefined
    this.observer = undefined
    if (fiber !== undefined && observer !== undefined) fiber.removeObserver(observer)
  }

  /** The watched fiber ended while still waiting here: the wait was interrupted. */
  private fiberExited(): void {
    // Called from the fiber's own list of observers, which must not change while it runs through them.
    this.fiber = undefined
    this.observer = undefined
    if (this.resume !== undefined) this.cancel()
  }

  /** The fiber a queued request waits in without a canceller, if it does (see `watchFiber`). */
  get watchedFiber(): Fiber.RuntimeFiber<unknown, unknown> | undefined {
    return this.fiber
  }

  /** Its watched fiber was interrupted while the request waited in the queue: nobody waits for it any more. */
  giveUp(): void {
    this.unwatchFiber()
    this.cancel()
  }

  /** Settle at once if what is awaited has already happened. */
  private check(): void {
    if (this.failure !== undefined) return this.settleFailed(this.failure)
    switch (this.waiting) {
      case Phase.Head:
        if (this.headReceived) this.settle(Effect.succeed(this.streamingResponse()))
        return
      case Phase.Complete:
        if (this.bodyDone && this.decoder === undefined) this.settle(this.buffered())
        return
      case Phase.Rest:
        // Read whole now: the platform's largest buffer bounds it too.
        this.readWhole = true
        if (this.received > this.bodyLimit) return this.tooLarge(-1)
        if (this.codings !== undefined && this.decoder === undefined && this.startDecoding()) {
          if (this.bodyDone) this.decoder!.end()
          else if (this.paused && !this.decoder!.blocked && this.conn !== undefined) {
            this.paused = false
            this.conn.resumeReading(this)
          }
        } else if (this.bodyDone) {
          this.settle(this.rest())
        } else if (this.paused && this.conn !== undefined) {
          // Buffering the rest anyway: let the bytes flow.
          this.paused = false
          this.conn.resumeReading(this)
        }
        return
      case Phase.Chunk:
        if (this.chunks.length > 0) this.settle(Effect.succeed(this.takeChunks()))
        else if (this.bodyDone) this.settle(Effect.fail(Option.none()))
        return
      case Phase.Into:
        // `waitInto` has already answered a reader whose body is done, queued or broken: this one waits for bytes.
        if (this.paused && this.conn !== undefined) {
          this.paused = false
          this.conn.resumeReading(this)
        }
        return
      case Phase.Ready:
      case Phase.Drain:
        if (this.headReceived || this.bodyDone) this.settle(Effect.void)
        return
    }
  }

  private settle(effect: Effect.Effect<any, any>): void {
    if (this.observer !== undefined) this.unwatchFiber()
    const resume = this.resume
    this.waiting = Phase.None
    this.resume = undefined
    this.intoWaiting = false
    if (resume !== undefined) resume(effect)
  }

  /** The waiting fiber fails: a stream pull's way (`Some`) or the plain way. */
  private settleFailed(error: HttpError.HttpError): void {
    this.settle(this.waiting === Phase.Chunk ? Effect.fail(Option.some(error)) : Effect.fail(error))
  }

  /**
   * `n` bytes are in the reader's buffer (-1: the body ended): it takes them now, and nothing more is written there
   * until it asks again.
   */
  private settleInto(into: IntoRead, n: number): void {
    into.taken = n
    this.settle(Effect.void)
  }

  /** Letting go of the exchange would still do something: body bytes are to come, or a body with codings to decode. */
  get unfinished(): boolean {
    return !this.done || this.codings !== undefined
  }

  /**
   * The whole body is in, unfailed, with no coding to undo, and fits one buffer: a `Rest` wait would settle at once
   * with `takeWholeBody`.
   */
  get wholeBodyIn(): boolean {
    return this.bodyDone && this.failure === undefined && this.codings === undefined &&
      this.received <= Math.min(this.limits.maxBodySize, maxBufferSize())
  }

  /** The body, read whole without a wait: only once `wholeBodyIn` has said so. */
  takeWholeBody(): Uint8Array {
    this.readWhole = true
    this.bodyAsked = true
    return this.content()
  }

  /**
   * The caller stopped caring (interrupted, its scope closed, or `close`): give the slot back now. A connection
   * with an unfinished exchange cannot be reused, so it is closed.
   */
  abandon(): void {
    const decoding = this.stopDecoding()
    // Whatever happens to the socket now, not one more byte goes into the reader's buffer.
    this.into = undefined
    this.intoWaiting = false
    this.clearTotal()
    this.releaseScope()
    if (this.done) {
      // The raw body was all in, its decoding was not: a reader waiting for it ends with an error, as below.
      if (decoding && this.failure === undefined && this.resume !== undefined) {
        return this.settleFailed(this.failure = this.closedEarly())
      }
      this.resume = undefined
      this.waiting = Phase.None
      return
    }
    this.done = true
    this.clearPoolTimer()
    if (this.queued) this.owner?.dequeue(this)
    const conn = this.conn
    this.conn = undefined
    if (conn !== undefined) conn.abort(this)
    // Another fiber may be reading this body: it must end with an error, not wait for bytes that will never come.
    if (!this.bodyDone && this.failure === undefined) this.failure = this.closedEarly()
    if (this.resume !== undefined) this.settleFailed(this.failure!)
  }

  private closedEarly(): ReadError {
    return new ReadError({
      message: `${this.method} ${this.target.href}: the response was closed before its body was read to the end`,
      request: this.requestInfo
    })
  }

  /** The canceller of the waiting fiber: it was interrupted, so it is not resumed; the exchange is given up. */
  private cancel(): void {
    this.resume = undefined
    this.waiting = Phase.None
    this.abandon()
  }

  /**
   * The caller's scope holds the exchange through this handle only until the exchange ends, so a long-lived scope
   * that opens many streaming responses does not keep every one of them alive.
   */
  scopeHandle: { exchange: Exchange | undefined } | undefined = undefined

  private releaseScope(): void {
    if (this.scopeHandle !== undefined) {
      this.scopeHandle.exchange = undefined
      this.scopeHandle = undefined
    }
  }

  clearPoolTimer(): void {
    if (this.poolTimer !== undefined) {
      clearTimeout(this.poolTimer)
      this.poolTimer = undefined
    }
  }

  private armTotal(): void {
    const total = this.timeouts.total
    if (total > 0 && this.totalTimer === undefined) {
      this.totalTimer = setTimeout(() => {
        this.totalTimer = undefined
        const error = new RequestTimeout({
          message: `${this.method} ${this.target.href} did not complete within the total timeout of ${total} ms`,
          request: this.requestInfo
        })
        const conn = this.conn
        this.conn = undefined
        this.fail(error)
        this.done = true
        // A timer callback runs outside any fiber: what the pool or the connection throws must not escape it (the
        // request has already failed, and abort closes the socket before it tells the pool).
        try {
          if (this.queued) this.owner?.dequeue(this)
          if (conn !== undefined) conn.abort(this)
        } catch {
          // Nothing safer is left to do.
        }
      }, total)
    }
  }

  private clearTotal(): void {
    if (this.totalTimer !== undefined) {
      clearTimeout(this.totalTimer)
      this.totalTimer = undefined
    }
  }

  private takeChunks(): Chunk.Chunk<Uint8Array> {
    const chunks = this.chunks
    if (this.chunkOffset > 0) {
      chunks[0] = chunks[0]!.subarray(this.chunkOffset)
      this.chunkOffset = 0
    }
    this.chunks = NO_CHUNKS
    this.size = 0
    if (this.paused && this.conn !== undefined) {
      this.paused = false
      this.conn.resumeReading(this)
    }
    return Chunk.unsafeFromArray(chunks)
  }

  // ---- responses -------------------------------------------------------------------------------------------------

  private buffered(): Effect.Effect<Response, HttpError.HttpError> {
    if (this.codingProblem !== undefined) return Effect.fail(unsupportedError(this.requestInfo, this.codingProblem))
    return Effect.succeed(this.toResponse(this.content()))
  }

  private rest(): Effect.Effect<Uint8Array, HttpError.HttpError> {
    if (this.codingProblem !== undefined) return Effect.fail(unsupportedError(this.requestInfo, this.codingProblem))
    return Effect.succeed(this.content())
  }

  /** The body bytes, joined (decoded already when it had codings): never more than `bodyLimit` of them. */
  private content(): Uint8Array {
    const chunks = this.chunks
    const content: Uint8Array = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.size)
    this.chunks = NO_CHUNKS
    this.whole = undefined
    this.size = 0
    return content
  }

  // ---- limits and decoding ---------------------------------------------------------------------------------------

  /** The body passed its limit (`declared`: as its Content-Length announced): the exchange fails and lets go. */
  private tooLarge(declared: number): void {
    this.failAndAbort(responseTooLarge(this.requestInfo, this.bodyLimit, this.limits.maxBodySize, declared))
  }

  /** Fail, and give up the connection: the rest of the body is still on it. */
  private failAndAbort(error: HttpError.HttpError): void {
    const conn = this.conn
    this.conn = undefined
    this.fail(error)
    if (conn !== undefined) conn.abort(this)
  }

  /**
   * Decode the body as it arrives, from the raw bytes queued so far on. False when its codings cannot be undone
   * here: it is then read as it is, and its reader gets a DecodingError.
   */
  private startDecoding(): boolean {
    const problem = unsupportedCoding(this.codings!)
    if (problem !== undefined) {
      this.codingProblem = problem
      return false
    }
    const decoder = this.decoder = new BodyDecoder(this.codings!, () => this.decoderChanged())
    const queued = this.chunks
    if (this.chunkOffset > 0) queued[0] = queued[0]!.subarray(this.chunkOffset)
    this.chunkOffset = 0
    this.chunks = NO_CHUNKS
    this.size = 0
    for (let i = 0; i < queued.length; i++) decoder.write(queued[i]!)
    return true
  }

  private feedDecoder(chunk: Buffer): void {
    // zlib keeps what it is given; a socket whose bytes it cannot take yet waits (the read timeout with it).
    if (!this.decoder!.write(chunk) && !this.paused && this.conn !== undefined) {
      this.paused = true
      this.conn.pauseReading(this)
    }
  }

  /** zlib moved on: take its decoded bytes, count them, and finish when it has. */
  private decoderChanged(): void {
    const decoder = this.decoder
    if (decoder === undefined) return
    const out = decoder.take()
    if (out !== undefined) {
      for (let i = 0; i < out.length; i++) {
        const chunk = out[i]!
        this.size += chunk.length
        if (this.size > this.bodyLimit) return this.tooLarge(-1)
        this.addChunk(chunk)
      }
    }
    if (decoder.failure !== undefined) return this.failAndAbort(decodingError(this.requestInfo, decoder.failure))
    if (this.paused && !decoder.blocked && this.conn !== undefined) {
      this.paused = false
      this.conn.resumeReading(this)
    }
    if (decoder.done && this.bodyDone) {
      this.decoder = undefined
      this.releaseScope()
      this.clearTotal()
      this.settleComplete(undefined)
    }
  }

  /** Free the decoder's zlib streams at once (interrupted, failed, timed out, closed); true if there was one. */
  private stopDecoding(): boolean {
    const decoder = this.decoder
    if (decoder === undefined) return false
    this.decoder = undefined
    decoder.destroy()
    return true
  }

  toResponse(content: Uint8Array): Response {
    return new BufferedResponse(
      this.status,
      this.reason,
      versionNames[this.version],
      this.rawHeaders,
      this.target.href,
      this,
      [],
      content,
      performance.now() - this.startedAt
    )
  }

  streamingResponse(): OwnedResponse {
    if (this.head !== undefined) return this.head
    return this.head = new StreamingResponseImpl(this)
  }

  /**
   * The registration of `into`'s wait for the next raw body bytes, written into its buffer (the reader's own, as a
   * Buffer over the same memory). Bytes already queued are copied at once; otherwise the reader waits, and on a
   * connection that reads into memory of its choosing the socket reads straight into the buffer.
   */
  waitInto(into: IntoRead, resume: Resume): void {
    this.bodyAsked = true
    if (this.chunks.length > 0) {
      into.taken = this.takeInto(into.buffer)
      return resume(Effect.void)
    }
    if (this.bodyDone) {
      this.into = undefined
      into.taken = -1
      // The body was claimed and is read to its end: nothing is left for the scope to stop (see `complete`).
      this.releaseScope()
      return resume(Effect.void)
    }
    if (this.failure !== undefined) return resume(Effect.fail(this.failure))
    this.into = into
    this.intoWaiting = true
    this.register(resume, Phase.Into, undefined, true)
  }

  /** Queued body bytes copied into `buffer`, as many as fit. */
  private takeInto(buffer: Buffer): number {
    const chunks = this.chunks
    let n = 0
    while (n < buffer.length && chunks.length > 0) {
      const chunk = chunks[0]!
      const taken = chunk.copy(buffer, n, this.chunkOffset)
      n += taken
      this.size -= taken
      this.chunkOffset += taken
      if (this.chunkOffset === chunk.length) {
        chunks.shift()
        this.chunkOffset = 0
      }
    }
    // A paused socket stays paused until the reader waits again (see `check`).
    return n
  }

  /**
   * The raw body as a stream of chunks; one pull per chunk batch, and the pull itself applies backpressure. A
   * `guarded` pull is for a loop that calls `readerInterrupted` when it is interrupted (see `register`).
   */
  pull(guarded = false): Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<HttpError.HttpError>> {
    this.bodyAsked = true
    if (this.chunks.length > 0) return Effect.succeed(this.takeChunks())
    if (this.bodyDone) {
      // The body was claimed and is read to its end: nothing is left for the scope to stop (see `complete`).
      this.releaseScope()
      return Effect.fail(Option.none())
    }
    if (this.failure !== undefined) return Effect.fail(Option.some(this.failure))
    if (!guarded) return this.await<Chunk.Chunk<Uint8Array>, Option.Option<HttpError.HttpError>>(Phase.Chunk)
    return Effect.async((resume) => this.register(resume, Phase.Chunk, undefined, true))
  }
}

class StreamingResponseImpl extends StreamingBase implements OwnedResponse {
  // Built when a reader first pulls: a response read whole (or not at all) never needs them.
  private pullEffect: BodyPull | undefined = undefined
  private guardedPullEffect: BodyPull | undefined = undefined

  constructor(private readonly exchange: Exchange) {
    super(
      exchange.status,
      exchange.reason,
      versionNames[exchange.version],
      exchange.rawHeaders,
      exchange.target.href,
      exchange,
      [],
      exchange.startedAt
    )
  }

  protected rawBody(): Stream.Stream<Uint8Array, HttpError.HttpError> {
    return Stream.repeatEffectChunkOption(this.pullEffect ??= Effect.suspend(() => this.exchange.pull()))
  }

  protected override transferCodings(): ReadonlyArray<string> {
    return this.exchange.transferCodings
  }

  /** As the exchange found them when the head came in: none when it delivers the body as sent. */
  protected override codings(): ReadonlyArray<string> | undefined {
    return this.exchange.codings
  }

  protected override maxBodySize(): number {
    return this.exchange.limits.maxBodySize
  }

  protected override rawPull(): BodyPull {
    return this.guardedPullEffect ??= Effect.suspend(() => this.exchange.pull(true))
  }

  protected override readerInterrupted(): Effect.Effect<void> {
    return Effect.sync(() => this.exchange.readerInterrupted())
  }

  protected override rawReadInto(buffer: Buffer): BodyReadInto {
    return new IntoRead(this.exchange, buffer)
  }

  /** One wait for the whole rest of the body, rather than a stream pull per chunk. */
  override get read(): Effect.Effect<Response, HttpError.BodyError> {
    return Effect.suspend(() => {
      const consumed = this.claimBody()
      if (consumed !== undefined) return Effect.fail(consumed)
      this.exchange.bodyAsked = true
      return Effect.map(
        this.exchange.await<Uint8Array, HttpError.BodyError>(Phase.Rest),
        (content) => this.toBuffered(content)
      )
    })
  }

  override readNow(): Response | undefined {
    const exchange = this.exchange
    if (!exchange.wholeBodyIn || this.claimBody() !== undefined) return undefined
    return this.toBuffered(exchange.takeWholeBody())
  }

  get unfinished(): boolean {
    return this.exchange.unfinished
  }

  get close(): Effect.Effect<void> {
    return Effect.sync(() => this.exchange.abandon())
  }

  /** `close`, at once: for an owner that manages the exchange's lifetime without a Scope. */
  abandon(): void {
    this.exchange.abandon()
  }
}

/** A reader's reads straight into its buffer (see `BodyReadInto`): one `Effect.async` for all of them. */
class IntoRead implements BodyReadInto {
  taken = 0
  readonly wait: Effect.Effect<void, HttpError.HttpError>
  constructor(exchange: Exchange, readonly buffer: Buffer) {
    this.wait = Effect.async<void, HttpError.HttpError>((resume) => exchange.waitInto(this, resume))
  }
}

/** The headers that went out, read back from the serialised head (only when someone asks). */
const requestHeaders = (head: string): Headers.Headers => {
  const flat: Array<string> = []
  const lines = head.split("\r\n")
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(":")
    if (colon > 0) flat.push(line.slice(0, colon), line.slice(colon + 1).trim())
  }
  const record: Record<string, string> = {}
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase()
    record[name] = record[name] === undefined ? flat[i + 1]! : record[name] + ", " + flat[i + 1]!
  }
  return Headers.unsafeFromRecord(record)
}
