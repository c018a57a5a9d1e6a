/**
 * A WebSocket over a socket an HTTP/1.1 upgrade handed over (RFC 6455 §5–§7): frames in through the decoder
 * (wire/websocketFrame.ts), messages out to one reader with backpressure, pings answered, and the closing handshake
 * either way. The socket side is plain synchronous code driven by socket events, each callback catching what it
 * throws; the reader and the writers wait through one `Effect.async` each.
 *
 * A reader's wait has no canceller: Effect wraps every `Effect.async` that returns one in an interruption handler,
 * which costs more than the rest of a small message's round trip. A waiting reader is woken with an Effect that takes
 * its messages when its fiber runs, so a reader whose wait was interrupted takes nothing and the messages stay queued
 * for the next; a reader still registered whose fiber has ended, or is the one asking again, no longer counts. Where
 * an interrupted reader must close the WebSocket (`messages`), the fiber is watched instead (see `watchReader`).
 */
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import type * as net from "node:net"
import type { ReadHandover, ReadSink } from "../exchange/exchange.js"
import { WebSocketError } from "../../HttpError.js"
import {
  closePayload,
  CloseCode,
  encodeFrame,
  FrameDecoder,
  isValidCloseCode,
  Opcode
} from "../wire/websocketFrame.js"
import type { FrameHandler } from "../wire/websocketFrame.js"
import { COMPRESS_THRESHOLD } from "../wire/websocketDeflate.js"
import type { PerMessageDeflate } from "../wire/websocketDeflate.js"

/**
 * What `client.websocket` gives: the subprotocol the server picked (empty when none), the messages as one stream, and
 * `send` and `close`.
 *
 * @since 0.2.0
 * @category models
 */
export interface WebSocket {
  /** the subprotocol the server picked from `protocols`, or "" */
  readonly protocol: string
  /**
   * The server's messages, text as strings and binary as bytes, for one reader at a time. Ends when the server
   * closes with 1000 or 1001 (or no code), or after `close`; fails with `WebSocketError` on another close code
   * (`code`), a protocol violation (1002, 1007, 1009) or a connection lost without a close frame (1006).
   * Interrupting a reader that waits for a message closes the WebSocket (1000): nobody reads it any more.
   */
  readonly messages: Stream.Stream<string | Uint8Array, WebSocketError>
  /**
   * The next message, for a reader that takes one at a time (a request and its reply): the cheapest way to read.
   * Once the messages end it fails with `WebSocketError`, its `code` the close code (1000 or 1001 when the WebSocket
   * closed normally, 1005 when the server's close frame had none; `messages` would just end there). One reader at a
   * time, this or `messages`. Interrupting it loses no message and leaves the WebSocket open.
   */
  readonly receive: Effect.Effect<string | Uint8Array, WebSocketError>
  /** A text frame for a string, a binary frame for bytes; waits while the socket's buffer is full. */
  send(data: string | Uint8Array): Effect.Effect<void, WebSocketError>
  /**
   * The closing handshake (RFC 6455 §7.1.2): a close frame with `code` [1000] and `reason` (at most 123 bytes of
   * UTF-8), then up to 1 second for the server's close before the socket is ended. Closing twice is closing once.
   */
  close(code?: number, reason?: string): Effect.Effect<void>
}

/** How long `close` and the scope wait for the server's close frame, then for it to end the TCP connection. */
const CLOSE_WAIT_MS = 1_000
type Messages = Chunk.Chunk<string | Uint8Array>

const ENDED = Effect.succeed(undefined)

/**
 * The messages as a Stream: each pull's messages written as one chunk, until the pull says they ended. Built of
 * channels once, rather than by `Stream.repeatEffectChunkOption`, whose Option wrapping and channels made anew for
 * every pull cost about a microsecond per pull.
 */
const messagesFrom = (
  pull: Effect.Effect<Messages | undefined, WebSocketError>
): Channel.Channel<Messages, unknown, WebSocketError, unknown, unknown, unknown> => {
  const loop: Channel.Channel<Messages, unknown, WebSocketError, unknown, unknown, unknown> = Channel.flatMap(
    Channel.fromEffect(pull),
    (messages) => messages === undefined ? Channel.void : Channel.zipRight(Channel.write(messages), loop)
  )
  return loop
}

const currentFiber = (): Fiber.RuntimeFiber<unknown, unknown> | undefined => {
  const fiber = Fiber.getCurrentFiber()
  return fiber._tag === "Some" ? fiber.value : undefined
}

/** Messages held for a reader that is behind, in bytes, before the socket stops reading (and the server's sends wait). */
const HIGH_WATER_BYTES = 1024 * 1024
/** … or in messages. */
const HIGH_WATER_COUNT = 1024

const enum State {
  Open = 0,
  /** our close frame is sent; the server's is awaited */
  Closing = 1,
  /** the closing handshake is done or the connection is lost: the socket is ended or destroyed */
  Closed = 2
}

type Resume<A, E> = (effect: Effect.Effect<A, E>) => void

/** A read's memory, when the socket's reads come through `onread`: reused while nothing keeps a view of it. */
const READ_BUFFER_SIZE = 64 * 1024

export class WebSocketConnection implements WebSocket, FrameHandler, ReadSink {
  readonly messages: Stream.Stream<string | Uint8Array, WebSocketError>
  readonly receive: Effect.Effect<string | Uint8Array, WebSocketError>
  private state = State.Open
  private readonly decoder: FrameDecoder
  private queue: Array<string | Uint8Array> = []
  private queuedBytes = 0
  private paused = false
  /** how the messages end: undefined while open, `null` for a normal end, else the error */
  private end: WebSocketError | null | undefined = undefined
  /**
   * The one reader waiting for a message: `messages`' pull (which takes every queued message) or `receive` (one),
   * and the fiber it waits in. Woken with `nextChunk` or `nextOne`.
   */
  private reader: Resume<any, any> | undefined = undefined
  private readerTakesAll = false
  private readerFiber: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
  /** the fiber `messages` is read in, watched: ending while it waits closes the WebSocket */
  private watched: Fiber.RuntimeFiber<unknown, unknown> | undefined = undefined
  private readonly onReaderExit: () => void
  private readonly nextChunk: Effect.Effect<Messages | undefined, WebSocketError>
  private readonly nextOne: Effect.Effect<string | Uint8Array, WebSocketError>
  /** the close code we sent, for `receive`'s error once the messages end */
  private sentCode: number | undefined = undefined
  /** writers waiting for the socket's buffer to empty: told true when it did, false when the socket is gone */
  private drainWaiters: Array<(drained: boolean) => void> = []
  private closeWaiters: Array<() => void> = []
  /** the socket has closed */
  private gone = false
  private closeTimer: ReturnType<typeof setTimeout> | undefined = undefined
  /** the next messages, or undefined once they ended normally */
  private readonly pullEffect: Effect.Effect<Messages | undefined, WebSocketError>
  /** the server's close frame once it came (its code, undefined when it had none): the WHATWG close event says it */
  received: { readonly code: number | undefined; readonly reason: string } | undefined = undefined

  private readonly socket: net.Socket
  /**
   * The memory the next read goes into, when the socket's reads come through `onread` (plain ws://): no allocation
   * and no 'data' event per read. Left behind for a fresh one when the decoder keeps views of it (a message not all
   * in yet); a message delivered as a view of it is copied out.
   */
  private readBuffer: Buffer | undefined = undefined
  /** pongs are being written during a read, to go out together */
  private corked = false

  constructor(
    upgraded: {
      readonly socket: net.Socket
      /** the bytes that came after the 101's head */
      readonly head: Buffer | undefined
      /** set when the socket's reads come through `onread` rather than 'data' events */
      readonly reads: ReadHandover | undefined
    },
    readonly protocol: string,
    /** the ws:// or wss:// URL, for messages */
    private readonly url: string,
    maxMessageSize: number,
    /** permessage-deflate, when the server accepted it; its zlib streams close with the socket */
    private readonly deflate?: PerMessageDeflate | undefined
  ) {
    const socket = this.socket = upgraded.socket
    this.decoder = new FrameDecoder(this, maxMessageSize, deflate)
    this.onData = this.onData.bind(this)
    this.onEnd = this.onEnd.bind(this)
    this.onError = this.onError.bind(this)
    this.onSocketClose = this.onSocketClose.bind(this)
    this.onDrain = this.onDrain.bind(this)
    this.pullEffect = Effect.async((resume) => this.pull(resume))
    this.messages = Stream.fromChannel(messagesFrom(this.pullEffect))
    this.receive = Effect.async((resume) => this.receiveNext(resume))
    this.nextChunk = Effect.suspend(() => this.queue.length > 0 ? Effect.succeed(this.take()) : this.pullEffect)
    this.nextOne = Effect.suspend(() => this.queue.length > 0 ? Effect.succeed(this.takeOne()) : this.receive)
    this.onReaderExit = () => this.guard(() => this.readerExited())
    socket.setNoDelay(true)
    if (upgraded.reads !== undefined) upgraded.reads.sink = this
    else socket.on("data", this.onData)
    socket.on("end", this.onEnd)
    socket.on("error", this.onError)
    socket.on("close", this.onSocketClose)
    socket.on("drain", this.onDrain)
    if (upgraded.head !== undefined) this.onData(upgraded.head)
    // Read on even after a failure in `head`: the server's end of the connection has to be seen for it to close.
    socket.resume()
  }

  // ---- the caller's side ---------------------------------------------------------------------------------------

  send(data: string | Uint8Array): Effect.Effect<void, WebSocketError> {
    return Effect.suspend(() => {
      if (this.state !== State.Open) {
        return Effect.fail(this.error(`cannot send on ${this.url}: the WebSocket is closed or closing`, undefined))
      }
      const frame = this.frameOf(typeof data === "string" ? Opcode.Text : Opcode.Binary, data)
      if (frame === undefined) {
        return Effect.fail(this.error(`cannot send on ${this.url}: the WebSocket closed after an internal error`, undefined))
      }
      if (this.socket.write(frame)) return Effect.void
      // Written in order already; the caller waits for the socket's buffer to empty before sending more.
      return Effect.async<void, WebSocketError>((resume) => {
        const waiter = (drained: boolean) =>
          resume(drained ? Effect.void : Effect.fail(this.error(`${this.url}: the connection closed while sending`, undefined)))
        this.drainWaiters.push(waiter)
        return Effect.sync(() => {
          const index = this.drainWaiters.indexOf(waiter)
          if (index >= 0) this.drainWaiters.splice(index, 1)
        })
      })
    })
  }

  /**
   * A data frame, compressed when permessage-deflate was negotiated and the message is big enough; zlib runs
   * synchronously, so messages go out in the order they were sent. Undefined when zlib failed (the socket is gone).
   */
  private frameOf(opcode: Opcode, data: string | Uint8Array): Buffer | undefined {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data
    const deflate = this.deflate
    if (deflate === undefined || !deflate.compresses || bytes.length < COMPRESS_THRESHOLD) {
      return encodeFrame(opcode, bytes)
    }
    let frame: Buffer | undefined
    this.guard(() => {
      frame = encodeFrame(opcode, deflate.deflate(bytes), true)
    })
    return frame
  }

  close(code: number = CloseCode.Normal, reason: string = ""): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (!isValidCloseCode(code) || code === 1015) {
        return Effect.dieMessage(`WebSocket.close: ${code} is not a close code an endpoint may send (RFC 6455 §7.4)`)
      }
      if (Buffer.byteLength(reason) > 123) {
        return Effect.dieMessage("WebSocket.close: the reason is longer than 123 bytes of UTF-8 (RFC 6455 §5.5)")
      }
      if (this.state === State.Open) this.startClose(code, reason)
      return this.closed
    })
  }

  /** Waits until the socket is closed (the closing handshake done, or its time up). */
  private get closed(): Effect.Effect<void> {
    if (this.gone) return Effect.void
    return Effect.async<void>((resume) => {
      const waiter = () => resume(Effect.void)
      this.closeWaiters.push(waiter)
      return Effect.sync(() => {
        const index = this.closeWaiters.indexOf(waiter)
        if (index >= 0) this.closeWaiters.splice(index, 1)
      })
    })
  }

  private pull(resume: Resume<Messages | undefined, WebSocketError>): void {
    if (this.queue.length > 0) return resume(Effect.succeed(this.take()))
    if (this.end !== undefined) return resume(this.end === null ? ENDED : Effect.fail(this.end))
    const fiber = currentFiber()
    if (this.readerWaits(fiber)) return resume(Effect.fail(this.alreadyRead()))
    this.wait(resume, true, fiber)
    this.watchReader(fiber)
  }

  private receiveNext(resume: Resume<string | Uint8Array, WebSocketError>): void {
    if (this.queue.length > 0) return resume(Effect.succeed(this.takeOne()))
    if (this.end !== undefined) return resume(Effect.fail(this.ended(this.end)))
    const fiber = currentFiber()
    if (this.readerWaits(fiber)) return resume(Effect.fail(this.alreadyRead()))
    // Interrupted, this wait leaves the WebSocket as it is: nothing was taken, and the next reader replaces it.
    this.wait(resume, false, fiber)
  }

  private wait(resume: Resume<any, any>, takesAll: boolean, fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined) {
    this.reader = resume
    this.readerTakesAll = takesAll
    this.readerFiber = fiber
  }

  /** Whether a reader is waiting for real: not one whose wait was interrupted (see the top of this file). */
  private readerWaits(asking: Fiber.RuntimeFiber<unknown, unknown> | undefined): boolean {
    if (this.reader === undefined) return false
    const fiber = this.readerFiber
    return fiber === undefined || (fiber !== asking && fiber.unsafePoll() === null)
  }

  /**
   * A `messages` reader interrupted while it waits closes the WebSocket: nobody reads it any more. Its fiber is
   * watched (once per fiber, not per wait) in place of a canceller; it cannot end while it waits unless interrupted.
   */
  private watchReader(fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined): void {
    if (fiber === this.watched || fiber === undefined) return
    this.unwatch()
    this.watched = fiber
    fiber.addObserver(this.onReaderExit)
  }

  private unwatch(): void {
    const watched = this.watched
    if (watched === undefined) return
    this.watched = undefined
    watched.removeObserver(this.onReaderExit)
  }

  private readerExited(): void {
    const fiber = this.watched
    this.watched = undefined
    if (this.reader === undefined || !this.readerTakesAll || this.readerFiber !== fiber) return
    this.reader = undefined
    this.readerFiber = undefined
    if (this.state === State.Open) this.startClose(CloseCode.Normal, "")
  }

  private take(): Messages {
    const taken = this.queue
    this.queue = []
    this.queuedBytes = 0
    this.resumeReading()
    return Chunk.unsafeFromArray(taken)
  }

  private takeOne(): string | Uint8Array {
    const message = this.queue.length === 1 ? this.queue.pop()! : this.queue.shift()!
    this.queuedBytes -= message.length
    if (this.queue.length === 0) this.resumeReading()
    return message
  }

  private resumeReading(): void {
    if (this.paused && this.state !== State.Closed) {
      this.paused = false
      this.socket.resume()
    }
  }

  /** What `receive` fails with once the messages ended: the error, or for a normal end one that names its code. */
  private ended(end: WebSocketError | null): WebSocketError {
    if (end !== null) return end
    const code = this.received !== undefined ? this.received.code ?? CloseCode.NoStatus : this.sentCode
    return this.error(`${this.url}: the WebSocket is closed${code === undefined ? "" : ` (code ${code})`}`, code)
  }

  private alreadyRead(): WebSocketError {
    return this.error(`the messages of ${this.url} are already being read`, undefined)
  }

  // ---- the decoder's side --------------------------------------------------------------------------------------

  onMessage(data: string | Uint8Array): void {
    if (this.end !== undefined) return
    // A view of the read buffer, which the next read reuses: the message gets bytes of its own.
    if (typeof data !== "string" && this.readBuffer !== undefined && data.buffer === this.readBuffer.buffer) {
      data = Buffer.from(data)
    }
    // Queued even for a waiting reader: it gets every message of this read at once (see `onData`).
    this.queue.push(data)
    this.queuedBytes += data.length
    if (!this.paused && (this.queuedBytes >= HIGH_WATER_BYTES || this.queue.length >= HIGH_WATER_COUNT)) {
      this.paused = true
      this.socket.pause()
    }
  }

  /** A waiting reader is woken to take what the last read queued (a `receive`, the first of it). */
  private deliver(): void {
    if (this.queue.length > 0) this.wake()
  }

  /** Wake the waiting reader, if any, with what takes its messages (or its end) once its fiber runs. */
  private wake(): void {
    const reader = this.reader
    if (reader === undefined) return
    this.reader = undefined
    this.readerFiber = undefined
    reader(this.readerTakesAll ? this.nextChunk : this.nextOne)
  }

  onPing(payload: Buffer): void {
    if (this.state !== State.Open) return
    // Pongs answered while a read is decoded go out together (`onData` uncorks).
    if (!this.corked) {
      this.corked = true
      this.socket.cork()
    }
    this.socket.write(encodeFrame(Opcode.Pong, payload))
  }

  onPong(_payload: Buffer): void {}

  onClose(code: number | undefined, reason: string): void {
    this.received = { code, reason }
    if (this.state === State.Open) {
      // RFC 6455 §5.5.1: answer with a close frame, echoing the code; then the server ends the TCP connection.
      this.socket.write(encodeFrame(Opcode.Close, closePayload(code, "")))
      if (code === undefined || code === CloseCode.Normal || code === CloseCode.GoingAway) this.finish(null)
      else {
        this.finish(this.error(
          `${this.url}: the server closed the WebSocket with code ${code}${reason === "" ? "" : ` (${reason})`}`,
          code
        ))
      }
    } else {
      this.finish(null)
    }
    this.endSocket()
  }

  // ---- the socket's callbacks: each catches what its code throws ------------------------------------------------

  nextReadBuffer(): Buffer {
    return this.readBuffer ??= Buffer.allocUnsafeSlow(READ_BUFFER_SIZE)
  }

  onRead(nread: number, bytes: Buffer): boolean {
    const own = bytes === this.readBuffer
    // Not ours (the first read may land in the memory chosen before this WebSocket took the socket): copied.
    this.onData(own ? bytes.subarray(0, nread) : Buffer.from(bytes.subarray(0, nread)))
    if (own && this.decoder.holdsBytes) this.readBuffer = undefined
    return true
  }

  private onData(chunk: Buffer): void {
    try {
      // The server broke the protocol already: what it sends on is dropped until it closes.
      if (this.decoder.error !== undefined) return
      const ok = this.decoder.execute(chunk)
      if (this.corked) {
        this.corked = false
        this.socket.uncork()
      }
      this.deliver()
      if (!ok) this.protocolError()
    } catch (error) {
      this.crashed(error)
    }
  }

  private onEnd(): void {
    this.guard(() => this.lost("the server ended the connection without a closing handshake"))
  }

  private onError(error: Error): void {
    this.guard(() => this.lost(`the connection failed: ${error.message}`))
  }

  private onSocketClose(): void {
    this.guard(() => {
      this.lost("the connection closed without a closing handshake")
      this.socketGone()
    })
  }

  private onDrain(): void {
    this.guard(() => {
      const waiters = this.drainWaiters
      this.drainWaiters = []
      for (const waiter of waiters) waiter(true)
    })
  }

  private guard(f: () => void): void {
    try {
      f()
    } catch (error) {
      this.crashed(error)
    }
  }

  private crashed(error: unknown): void {
    try {
      const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      this.finish(this.error(`${this.url}: the WebSocket was closed after an internal error (${what})`, undefined))
    } catch {
      // Nothing safer is left to do: the socket goes below.
    }
    this.socket.destroy()
  }

  // ---- closing -------------------------------------------------------------------------------------------------

  private startClose(code: number, reason: string): void {
    this.state = State.Closing
    this.sentCode = code
    this.socket.write(encodeFrame(Opcode.Close, closePayload(code, reason)))
    // The reader stays: messages the server sent before its close frame are still delivered.
    this.closeTimer = setTimeout(() => this.guard(() => this.socket.destroy()), CLOSE_WAIT_MS)
  }

  /** The server broke the protocol: tell it why (RFC 6455 §7.1.7), fail the reader with the same code, and go. */
  private protocolError(): void {
    const decoder = this.decoder
    const code = decoder.errorCode
    if (this.state === State.Open) this.socket.write(encodeFrame(Opcode.Close, closePayload(code, "")))
    this.finish(this.error(`${this.url}: ${decoder.error} (closed with ${code})`, code))
    this.endSocket()
  }

  /** The connection ended or failed before the closing handshake was done. */
  private lost(why: string): void {
    if (this.state === State.Closed) return
    this.finish(this.state === State.Closing ? null : this.error(`${this.url}: ${why}`, CloseCode.Abnormal))
    this.state = State.Closed
    this.socket.destroy()
  }

  /** The closing handshake is done on our side: end the TCP connection, destroying it if it lingers. */
  private endSocket(): void {
    this.state = State.Closed
    this.socket.end()
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer)
    this.closeTimer = setTimeout(() => this.guard(() => this.socket.destroy()), CLOSE_WAIT_MS)
    this.closeTimer.unref()
  }

  private socketGone(): void {
    this.state = State.Closed
    this.gone = true
    this.deflate?.close()
    this.unwatch()
    if (this.closeTimer !== undefined) clearTimeout(this.closeTimer)
    this.closeTimer = undefined
    const drains = this.drainWaiters
    this.drainWaiters = []
    for (const waiter of drains) waiter(false)
    const waiters = this.closeWaiters
    this.closeWaiters = []
    for (const waiter of waiters) waiter()
  }

  /** The messages end: normally (`null`) or with `error`, once; a waiting reader hears at once. */
  private finish(end: WebSocketError | null): void {
    if (this.end !== undefined) return
    this.end = end
    this.wake()
  }

  private error(message: string, code: number | undefined): WebSocketError {
    return new WebSocketError({ message, request: { method: "GET", url: this.url }, code })
  }
}
