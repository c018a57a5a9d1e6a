/**
 * One request/response exchange: the state a request carries from pool checkout to its last body byte, and the
 * bridge from the synchronous connection code to the fiber waiting on it.
 *
 * The connection reports events (ready, head, body, complete, failure); the fiber waits for one phase at a time
 * through `await`. Exactly one fiber callback is pending at any moment, so each wait is one `Effect.async`.
 *
 * The jobs it ties together each live in their own module: `deadlines.ts` (the total timeout and the pool wait),
 * `bodyQueue.ts` (the body bytes and their limits), `responseDecoding.ts` (undoing codings as bytes arrive),
 * `streamingResponse.ts` (the StreamingResponse and its reads), `requestBody.ts` (a streamed request body),
 * `queuedWait.ts` (a queued request's fiber), `sentRequest.ts` (the Request it represents), `timings.ts` (where its
 * time went).
 *
 * How an exchange ends (`done` is set by each, and each clears its deadlines):
 * - `complete`: the connection read the whole body (a body being decoded completes once zlib is done with it).
 * - `fail`: the connection, the pool or a limit failed it; the waiting fiber, and any later wait, gets the error.
 * - `timedOut`: its total timeout passed: it fails, leaves the pool's queue and gives up its connection.
 * - `abandon`: its caller let go (a scope closed, `close`, or a failed streamed body); an unfinished connection is
 *   closed, and another reader of the body gets a ReadError.
 * - `cancel`: the waiting fiber was interrupted (the canceller of its wait), which abandons it; `giveUp` is the same
 *   for a queued request watched through its fiber, and `readerInterrupted` for a body reader's loop.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type { Socket } from "node:net"
import * as Option from "effect/Option"
import { ReadError } from "../../HttpError.js"
import type * as HttpError from "../../HttpError.js"
import { decodingError, responseTooLarge } from "../wire/bodyDecoding.js"
import type { BodyDecoder } from "../wire/decoding.js"
import type { Request } from "../message/request.js"
import type { Response } from "../message/response.js"
import type { Timings } from "../core/model.js"
import { BufferedResponse } from "../message/response.js"
import type { Limits } from "../core/limits.js"
import type { Timeouts } from "../core/timeouts.js"
import type { Target } from "../core/url.js"
import type { HeaderInput } from "../wire/requestHead.js"
import { NO_CODINGS } from "../wire/responseParser.js"
import {
  addChunk,
  bodyLimit,
  copyOf,
  HIGH_WATER_MARK,
  keepInWhole,
  NO_CHUNKS,
  preallocates,
  takeContent,
  takeInto,
  takeQueued
} from "./bodyQueue.js"
import type { BodyQueue } from "./bodyQueue.js"
import { armTotal, clearDeadlines, clearPoolWait, clearTotal } from "./deadlines.js"
import type { Timed } from "./deadlines.js"
import { Phase, Version, versionNames } from "./phase.js"
import type { Resume } from "./phase.js"
import { unwatchFiber, watchFiber } from "./queuedWait.js"
import type { Watched } from "./queuedWait.js"
import { findCodings, startDecoding, stopDecoding, takeDecoded, undecodable } from "./responseDecoding.js"
import type { Decoding } from "./responseDecoding.js"
import { sentRequest } from "./sentRequest.js"
import { StreamingResponseImpl } from "./streamingResponse.js"
import type { IntoRead, OwnedResponse, StreamedExchange } from "./streamingResponse.js"
import { timingsOf } from "./timings.js"
import type { Marks, Opened } from "./timings.js"

export { Phase, Version }
export type { OwnedResponse }

/**
 * The connection an exchange runs on, as the exchange (and its body writer) sees it; implemented by the connections
 * above. The exchange calls it only to let go of what it holds there (the connection's reads and its slot), from a
 * timer, a reader or a scope, outside any fiber of the connection's: there is no caller to return that to.
 */
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

/**
 * The pool, as an exchange sees it. An exchange that ends while queued (its total timeout, its caller letting go)
 * leaves the queue through this: those ends come from a timer or an interrupted fiber, not from the pool.
 */
export interface ExchangeOwner {
  dequeue(exchange: Exchange): void
  /** The exchange ended (completed, failed or let go), once: the pool counts requests in flight and their time. */
  ended?(exchange: Exchange): void
}

/** What an exchange is made from: the request as the pool prepared it. */
interface ExchangeOptions {
  readonly method: string
  readonly target: Target
  /** the serialised HTTP/1.1 head */
  readonly headBytes: string
  /** the caller's fields, as given (HTTP/2 builds its fields from them) */
  readonly headers?: HeaderInput | undefined
  /** the whole request body, or undefined (none, or a streamed one) */
  readonly body: Uint8Array | undefined
  /** the request body is a Stream, written with `sendStreamed` */
  readonly streamBody: boolean
  /** a streamed body's declared Content-Length, sent without chunked framing; -1 for chunked */
  readonly streamLength: number
  readonly timeouts: Timeouts
  /** how large the response may be (the pool's, or the request's own over them) */
  readonly limits: Limits
  /** the response is a StreamingResponse, read by its holder */
  readonly streaming: boolean
  /** the body is delivered as the server sent it: no coding is undone (the pool's `decompress: false`) */
  readonly asSent: boolean
  /** the request asks to switch protocols (it has an Upgrade field): a 101 hands the socket over (see `switched`) */
  readonly upgrade?: boolean | undefined
}

/** What reads a socket opened with Node's `onread` (through connection/socket.ts's `ReadRelay`). */
export interface ReadSink {
  nextReadBuffer(): Buffer
  onRead(nread: number, bytes: Buffer): boolean
}

/** Whoever reads a socket opened with `onread` sets the sink of its relay. */
export interface ReadHandover {
  sink: ReadSink | undefined
}

/**
 * The connection a 101 handed over (RFC 9110 §15.2.2): its socket, paused, the bytes that came after the head, and,
 * for a socket whose reads come through `onread` rather than 'data' events, where the new protocol's code takes
 * them. The exchange owns it until the caller's scope closes, which destroys it.
 */
interface Upgraded {
  readonly socket: Socket
  readonly head: Buffer | undefined
  readonly reads: ReadHandover | undefined
}

const UpgradedKey = Symbol.for("httpfx/Response/upgraded")

/** The connection a 101 response to an upgrade request handed over, if `response` is one (see `Exchange.switched`). */
export const upgradedOf = (response: object): Upgraded | undefined =>
  (response as { readonly [UpgradedKey]?: Upgraded })[UpgradedKey]

// Shared by every exchange until it has headers of its own (a queued request holds none), and never written to:
// `onHead` replaces it.
const NO_HEADERS: Array<string> = []

export class Exchange implements BodyQueue, Decoding, Timed, Watched, StreamedExchange, Marks {
  // the request
  /** when it reached the pool (see timings.ts for this clock reading and the ones below) */
  readonly startedAt = performance.now()
  readonly method: string
  readonly target: Target
  readonly headBytes: string
  readonly headers: HeaderInput | undefined
  readonly body: Uint8Array | undefined
  readonly streamBody: boolean
  readonly streamLength: number
  readonly timeouts: Timeouts
  readonly limits: Limits
  readonly streaming: boolean
  readonly asSent: boolean
  readonly upgrade: boolean
  /** the socket a 101 handed over, until the caller's scope lets go of it */
  private upgraded: Upgraded | undefined = undefined
  conn: ExchangeConnection | undefined = undefined
  owner: ExchangeOwner | undefined = undefined
  /** in the pool's wait queue */
  queued = false
  /** the one automatic retry on a stale keep-alive connection has been used */
  retried = false

  // the response
  status = 0
  reason = ""
  /** a `Version`: the HTTP/1.x minor version as the parser reports it, or 2 for HTTP/2 */
  version: Version = Version.Http11
  rawHeaders: Array<string> = NO_HEADERS
  /** raw body bytes received so far */
  received = 0
  /** a streamed body is being read whole (`read`): the platform's largest buffer bounds it too */
  private readWhole = false
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

  // the body bytes (see bodyQueue.ts)
  chunks: Array<Buffer> = NO_CHUNKS
  size = 0
  chunkOffset = 0
  whole: Buffer | undefined = undefined

  // decoding (see responseDecoding.ts)
  codings: Array<string> | undefined = undefined
  transferCodings: ReadonlyArray<string> = NO_CODINGS
  decoder: BodyDecoder | undefined = undefined
  codingProblem: string | undefined = undefined

  // where its time went (see timings.ts): set by the pool, the connect step and the connections
  /** given a connection, or one began opening for it */
  checkoutAt = 0
  /** the connection was opened for this request, this long phase by phase */
  opened: Opened | undefined = undefined
  /** its last byte is with the socket */
  sentAt = 0
  headAt = 0
  /** the body is done: its last byte is in and, for a buffered body, decoded */
  doneAt = 0

  // deadlines (see deadlines.ts)
  totalTimer: ReturnType<typeof setTimeout> | undefined = undefined
  poolTimer: ReturnType<typeof setTimeout> | undefined = undefined

  // the waiting fiber
  private waiting = Phase.None
  private resume: Resume | undefined = undefined
  private paused = false
  private head: OwnedResponse | undefined = undefined
  // a queued buffered request's fiber (see queuedWait.ts)
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
  observer: (() => void) | undefined = undefined

  // a reader with a buffer of its own (`runForEach` with `buffer`)
  /** it, with its buffer, for as long as the exchange may write into that */
  private into: IntoRead | undefined = undefined
  /** the reader waits for bytes in its buffer */
  private intoWaiting = false

  /**
   * The caller's scope holds the exchange through this handle only until the exchange ends, so a long-lived scope
   * that opens many streaming responses does not keep every one of them alive.
   */
  scopeHandle: { exchange: Exchange | undefined } | undefined = undefined

  constructor(options: ExchangeOptions) {
    this.method = options.method
    this.target = options.target
    this.headBytes = options.headBytes
    this.headers = options.headers
    this.body = options.body
    this.streamBody = options.streamBody
    this.streamLength = options.streamLength
    this.timeouts = options.timeouts
    this.limits = options.limits
    this.streaming = options.streaming
    this.asSent = options.asSent
    this.upgrade = options.upgrade === true
  }

  get requestInfo(): HttpError.RequestInfo {
    return { method: this.method, url: this.target.href }
  }

  makeRequest(): Request {
    if (this.sent !== undefined) return this.sent
    return sentRequest(this.method, this.target.href, this.headBytes, this.body)
  }

  /** Its timings as they stand: `download` stays zero until the body is done. */
  measuredTimings(): Timings {
    return timingsOf(this)
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
    this.headAt = performance.now()
    this.status = status
    this.reason = reason
    this.version = version
    this.rawHeaders = rawHeaders
    this.headReceived = true
    // Refused before a byte of it is read: the connection, with the body still on it, is closed.
    if (declared > this.bodyLimit) return this.tooLarge(declared)
    if (!this.asSent && findCodings(this, rawHeaders, transferCodings) && !this.streaming) startDecoding(this)
    if (this.streaming) {
      clearTotal(this)
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
    if (this.passes(chunk.length)) return this.tooLarge(-1)
    this.enqueue(chunk)
  }

  /**
   * Body bytes that stay valid only during this call (they sit in a read buffer the next read overwrites): keep a
   * copy. `declared` is the Content-Length, or -1.
   */
  onBodyCopy(bytes: Buffer, declared: number): void {
    if (this.intoWaiting) {
      if (this.passes(bytes.length)) return this.tooLarge(-1)
      const taken = bytes.copy(this.into!.buffer, 0, 0)
      if (taken < bytes.length) this.enqueue(copyOf(bytes, taken))
      return this.settleInto(this.into!, taken)
    }
    // The declared length was checked against the limit with the head, and the parser passes no more than that.
    if (!this.streaming && this.decoder === undefined && preallocates(declared)) {
      return keepInWhole(this, bytes, declared)
    }
    const copy = copyOf(bytes, 0)
    if (this.passes(copy.length)) return this.tooLarge(-1)
    this.enqueue(copy)
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
    if (this.afterRead()) this.pauseReading()
  }

  /** The body ended; the connection has already gone back to the pool (or been closed). */
  complete(): void {
    this.bodyDone = true
    this.end()
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
    clearTotal(this)
    this.settleComplete(into)
  }

  /**
   * A 101 answered the upgrade request: the connection has left its pool, and its socket is this exchange's until the
   * caller's scope closes. The response (already handed to the waiting fiber by `onHead`) carries it.
   */
  switched(socket: Socket, head: Buffer | undefined, reads: ReadHandover | undefined): void {
    const upgraded: Upgraded = { socket, head, reads }
    this.upgraded = upgraded
    Object.defineProperty(this.streamingResponse(), UpgradedKey, { value: upgraded })
    this.bodyDone = true
    this.end()
    this.conn = undefined
    clearTotal(this)
  }

  fail(error: HttpError.HttpError): void {
    if (this.done && this.failure !== undefined) return
    stopDecoding(this)
    this.failure = error
    this.end()
    this.into = undefined
    this.releaseScope()
    this.conn = undefined
    clearDeadlines(this)
    if (this.waiting !== Phase.None) this.settleFailed(error)
  }

  /** Its total timeout passed (see deadlines.ts): it fails, and lets go of its place in the queue or its connection. */
  timedOut(error: HttpError.HttpError): void {
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
  }

  /**
   * The caller stopped caring (interrupted, its scope closed, or `close`): give the slot back now. A connection
   * with an unfinished exchange cannot be reused, so it is closed.
   */
  abandon(): void {
    const upgraded = this.upgraded
    if (upgraded !== undefined) {
      this.upgraded = undefined
      this.releaseScope()
      upgraded.socket.destroy()
      return
    }
    const decoding = stopDecoding(this)
    // Whatever happens to the socket now, not one more byte goes into the reader's buffer.
    this.into = undefined
    this.intoWaiting = false
    clearTotal(this)
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
    this.end()
    clearPoolWait(this)
    if (this.queued) this.owner?.dequeue(this)
    const conn = this.conn
    this.conn = undefined
    if (conn !== undefined) conn.abort(this)
    // Another fiber may be reading this body: it must end with an error, not wait for bytes that will never come.
    if (!this.bodyDone && this.failure === undefined) this.failure = this.closedEarly()
    if (this.resume !== undefined) this.settleFailed(this.failure!)
  }

  /** Finished from the pool's point of view; its owner hears it the first time. */
  private end(): void {
    if (this.done) return
    this.done = true
    this.owner?.ended?.(this)
  }

  clearPoolTimer(): void {
    clearPoolWait(this)
  }

  // ---- the body bytes --------------------------------------------------------------------------------------------

  /** The most body bytes this exchange takes, raw and decoded (see `bodyLimit`). */
  private get bodyLimit(): number {
    return bodyLimit(this.limits.maxBodySize, !this.streaming || this.readWhole)
  }

  /** Count `n` more raw body bytes: true when that passes the limit. */
  private passes(n: number): boolean {
    return (this.received += n) > this.bodyLimit
  }

  /** Raw body bytes, counted already: to the decoder, or queued for the reader. */
  private enqueue(chunk: Buffer): void {
    if (this.decoder !== undefined) {
      // zlib keeps what it is given; a socket whose bytes it cannot take yet waits (the read timeout with it).
      if (!this.decoder.write(chunk)) this.pauseReading()
      return
    }
    addChunk(this, chunk)
    if (this.streaming) {
      if (this.waiting === Phase.Chunk) this.settle(Effect.succeed(this.takeChunks()))
      else if (this.size >= HIGH_WATER_MARK && this.waiting !== Phase.Rest) this.pauseReading()
    }
  }

  private takeChunks(): Chunk.Chunk<Uint8Array> {
    const chunks = takeQueued(this)
    this.resumeReading()
    return Chunk.unsafeFromArray(chunks)
  }

  /** The consumer is behind: the connection stops reading this body, until `resumeReading`. */
  private pauseReading(): void {
    if (!this.paused && this.conn !== undefined) {
      this.paused = true
      this.conn.pauseReading(this)
    }
  }

  private resumeReading(): void {
    if (this.paused && this.conn !== undefined) {
      this.paused = false
      this.conn.resumeReading(this)
    }
  }

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

  /** zlib moved on: take its decoded bytes, count them, and finish when it has. */
  decoderChanged(): void {
    const decoder = this.decoder
    if (decoder === undefined) return
    if (!takeDecoded(this, decoder, this.bodyLimit)) return this.tooLarge(-1)
    if (decoder.failure !== undefined) return this.failAndAbort(decodingError(this.requestInfo, decoder.failure))
    if (!decoder.blocked) this.resumeReading()
    if (decoder.done && this.bodyDone) {
      this.decoder = undefined
      this.releaseScope()
      clearTotal(this)
      this.settleComplete(undefined)
    }
  }

  // ---- responses -------------------------------------------------------------------------------------------------

  private buffered(): Effect.Effect<Response, HttpError.HttpError> {
    const problem = undecodable(this)
    if (problem !== undefined) return Effect.fail(problem)
    return Effect.succeed(this.toResponse(takeContent(this)))
  }

  private rest(): Effect.Effect<Uint8Array, HttpError.HttpError> {
    const problem = undecodable(this)
    return problem !== undefined ? Effect.fail(problem) : Effect.succeed(takeContent(this))
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
      // Until the body was done: the clock was read then (this response is usually made in the same turn).
      (this.doneAt > 0 ? this.doneAt : performance.now()) - this.startedAt
    )
  }

  streamingResponse(): OwnedResponse {
    if (this.head !== undefined) return this.head
    return this.head = new StreamingResponseImpl(this)
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
      this.received <= bodyLimit(this.limits.maxBodySize, true)
  }

  /** The body, read whole without a wait: only once `wholeBodyIn` has said so. */
  takeWholeBody(): Uint8Array {
    this.readWhole = true
    this.bodyAsked = true
    return takeContent(this)
  }

  // ---- a streaming response's reads ------------------------------------------------------------------------------

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

  /**
   * The registration of `into`'s wait for the next raw body bytes, written into its buffer (the reader's own, as a
   * Buffer over the same memory). Bytes already queued are copied at once; otherwise the reader waits, and on a
   * connection that reads into memory of its choosing the socket reads straight into the buffer.
   */
  waitInto(into: IntoRead, resume: Resume): void {
    this.bodyAsked = true
    if (this.chunks.length > 0) {
      // A paused socket stays paused until the reader waits again (see `check`).
      into.taken = takeInto(this, into.buffer)
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

  /** The loop reading this body (`runForEach`) was interrupted: a guarded wait in progress ends as if cancelled. */
  readerInterrupted(): void {
    if (this.resume !== undefined && (this.waiting === Phase.Chunk || this.waiting === Phase.Into)) this.cancel()
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
   * none: its caller handles interruption (the reader's loop calls `readerInterrupted`, one handler per body, not one
   * per read; a scopeless opening's owner calls `abandon`).
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
      armTotal(this)
      start(this)
    } else {
      this.check()
    }
    if (this.resume === undefined || guarded) return undefined
    // A queued buffered request is watched through its fiber rather than given a canceller (see queuedWait.ts).
    if (this.queued && phase === Phase.Complete && watchFiber(this)) return undefined
    return Effect.sync(() => this.cancel())
  }

  /** The watched fiber ended while still waiting here: the wait was interrupted. */
  fiberExited(): void {
    // Called from the fiber's own list of observers, which must not change while it runs through them.
    this.fiber = undefined
    this.observer = undefined
    if (this.resume !== undefined) this.cancel()
  }

  /** The fiber a queued request waits in without a canceller, if it does (see queuedWait.ts). */
  get watchedFiber(): Fiber.RuntimeFiber<unknown, unknown> | undefined {
    return this.fiber
  }

  /** Its watched fiber was interrupted while the request waited in the queue: nobody waits for it any more. */
  giveUp(): void {
    unwatchFiber(this)
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
        return this.readRest()
      case Phase.Chunk:
        if (this.chunks.length > 0) this.settle(Effect.succeed(this.takeChunks()))
        else if (this.bodyDone) this.settle(Effect.fail(Option.none()))
        return
      case Phase.Into:
        // `waitInto` has already answered a reader whose body is done, queued or broken: this one waits for bytes.
        return this.resumeReading()
      case Phase.Ready:
      case Phase.Drain:
        if (this.headReceived || this.bodyDone) this.settle(Effect.void)
        return
    }
  }

  /** A streaming body is read whole from now on (`read`): decoded as it arrives, if it has codings. */
  private readRest(): void {
    // The platform's largest buffer bounds it too.
    this.readWhole = true
    if (this.received > this.bodyLimit) return this.tooLarge(-1)
    if (this.codings !== undefined && this.decoder === undefined && startDecoding(this)) {
      if (this.bodyDone) this.decoder!.end()
      else if (!this.decoder!.blocked) this.resumeReading()
    } else if (this.bodyDone) {
      this.settle(this.rest())
    } else {
      // Buffering the rest anyway: let the bytes flow.
      this.resumeReading()
    }
  }

  private settleComplete(into: IntoRead | undefined): void {
    // Once: a streamed body read whole after its last byte came is decoded then, on the reader's time.
    if (this.doneAt === 0) this.doneAt = performance.now()
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

  private settle(effect: Effect.Effect<any, any>): void {
    if (this.observer !== undefined) unwatchFiber(this)
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

  private releaseScope(): void {
    if (this.scopeHandle !== undefined) {
      this.scopeHandle.exchange = undefined
      this.scopeHandle = undefined
    }
  }
}
