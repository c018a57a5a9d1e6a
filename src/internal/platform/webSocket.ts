/**
 * A WHATWG WebSocket over httpfx's `client.websocket`, for @effect/platform's `Socket.WebSocketConstructor`: platform's
 * `fromWebSocket` drives it through `readyState`, the open/message/close/error events, `send` and `close`, and reads
 * the close event's `code`, `reason` and `wasClean`. Each socket opens in a scope of its own under the layer's,
 * closed when the socket closes (or with the layer).
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { WebSocket } from "../connection/websocket.js"
import { WebSocketConnection } from "../connection/websocket.js"

/** How a socket is opened: `client.websocket` of the layer's client. */
type Open = (url: string, protocols: ReadonlyArray<string>) => Effect.Effect<WebSocket, unknown, Scope.Scope>

const CONNECTING = 0
const OPEN = 1
const CLOSING = 2
const CLOSED = 3

/** RFC 6455 §7.4.1: 1006 is what a close event says when no close frame came. */
const ABNORMAL = 1006
const NO_STATUS = 1005

/** Node 20 has no global CloseEvent or ErrorEvent: the fields platform (and the DOM's types) read. */
class WsCloseEvent extends Event {
  constructor(readonly code: number, readonly reason: string, readonly wasClean: boolean) {
    super("close")
  }
}

class WsErrorEvent extends Event {
  constructor(readonly error: unknown, readonly message: string) {
    super("error")
  }
}

const messageOf = (cause: unknown): string => cause instanceof Error ? cause.message : String(cause)

const arrayBufferOf = (bytes: Uint8Array): ArrayBuffer =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? bytes.buffer
    : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer

type Handler = ((event: any) => void) | null

class HttpfxWebSocket extends EventTarget {
  static readonly CONNECTING = CONNECTING
  static readonly OPEN = OPEN
  static readonly CLOSING = CLOSING
  static readonly CLOSED = CLOSED
  readonly CONNECTING = CONNECTING
  readonly OPEN = OPEN
  readonly CLOSING = CLOSING
  readonly CLOSED = CLOSED

  readyState: number = CONNECTING
  protocol = ""
  readonly extensions = ""
  readonly bufferedAmount = 0
  binaryType: "arraybuffer" | "blob" = "arraybuffer"
  onopen: Handler = null
  onmessage: Handler = null
  onclose: Handler = null
  onerror: Handler = null
  private socket: WebSocket | undefined = undefined
  private readonly fiber: Fiber.RuntimeFiber<void>

  constructor(
    readonly url: string,
    protocols: ReadonlyArray<string>,
    private readonly runtime: Runtime.Runtime<never>,
    parent: Scope.Scope,
    open: Open
  ) {
    super()
    this.fiber = Runtime.runFork(runtime)(this.lifecycle(parent, open(url, protocols)))
  }

  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.readyState === CONNECTING) {
      throw new DOMException("WebSocket.send: the WebSocket is still connecting", "InvalidStateError")
    }
    // WHATWG: data sent after close() is dropped.
    const socket = this.socket
    if (this.readyState !== OPEN || socket === undefined) return
    if (typeof data === "string" || data instanceof Uint8Array) return this.write(socket, data)
    if (ArrayBuffer.isView(data)) return this.write(socket, new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    if (data instanceof Blob) {
      Runtime.runFork(this.runtime)(
        Effect.flatMap(Effect.promise(() => data.arrayBuffer()), (buffer) => socket.send(new Uint8Array(buffer))).pipe(
          Effect.ignore
        )
      )
      return
    }
    this.write(socket, new Uint8Array(data))
  }

  close(code?: number, reason?: string): void {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw new DOMException(`WebSocket.close: the code must be 1000 or in 3000–4999, not ${code}`, "InvalidAccessError")
    }
    if (reason !== undefined && Buffer.byteLength(reason) > 123) {
      throw new DOMException("WebSocket.close: the reason is longer than 123 bytes of UTF-8", "SyntaxError")
    }
    if (this.readyState === CLOSING || this.readyState === CLOSED) return
    if (this.readyState === CONNECTING || this.socket === undefined) {
      // WHATWG: closing before open fails the connection; the interrupted handshake closes the socket's scope.
      this.readyState = CLOSING
      Runtime.runFork(this.runtime)(Fiber.interrupt(this.fiber))
      return
    }
    this.readyState = CLOSING
    // The messages end once the closing handshake is done: `lifecycle` then says so.
    Runtime.runFork(this.runtime)(this.socket.close(code ?? 1000, reason ?? ""))
  }

  /** Written at once, in order (`send` writes before it waits for the socket's buffer to drain). */
  private write(socket: WebSocket, data: string | Uint8Array): void {
    Runtime.runFork(this.runtime)(Effect.ignore(socket.send(data)))
  }

  private lifecycle(parent: Scope.Scope, open: Effect.Effect<WebSocket, unknown, Scope.Scope>): Effect.Effect<void> {
    return Effect.acquireUseRelease(
      Scope.fork(parent, ExecutionStrategy.sequential),
      (scope) =>
        Effect.flatMap(Effect.exit(Scope.extend(open, scope)), (opened) => {
          if (Exit.isFailure(opened)) {
            return Effect.sync(() => this.failed(Cause.squash(opened.cause)))
          }
          return Effect.flatMap(
            Effect.sync(() => this.opened(opened.value)),
            () => Effect.exit(Stream.runForEach(opened.value.messages, (message) => Effect.sync(() => this.deliver(message))))
          ).pipe(Effect.flatMap((end) => Scope.close(scope, Exit.void).pipe(Effect.as(end))), Effect.map((end) => this.ended(opened.value, end)))
        }).pipe(Effect.onInterrupt(() => Effect.sync(() => this.failed("the WebSocket was closed before it opened")))),
      (scope, exit) => Scope.close(scope, exit)
    )
  }

  private opened(socket: WebSocket): void {
    this.socket = socket
    this.protocol = socket.protocol
    this.readyState = OPEN
    this.dispatch(new Event("open"))
  }

  private deliver(message: string | Uint8Array): void {
    const data = typeof message === "string"
      ? message
      : this.binaryType === "blob"
      ? new Blob([arrayBufferOf(message)])
      : arrayBufferOf(message)
    this.dispatch(new MessageEvent("message", { data }))
  }

  /** WHATWG "fail the WebSocket connection": an error event, then a close event with 1006. */
  private failed(cause: unknown): void {
    if (this.readyState === CLOSED) return
    this.readyState = CLOSED
    this.dispatch(new WsErrorEvent(cause, messageOf(cause)))
    this.dispatch(new WsCloseEvent(ABNORMAL, "", false))
  }

  private ended(socket: WebSocket, end: Exit.Exit<void, unknown>): void {
    const received = socket instanceof WebSocketConnection ? socket.received : undefined
    if (received !== undefined) {
      this.readyState = CLOSED
      this.dispatch(new WsCloseEvent(received.code ?? NO_STATUS, received.reason, true))
      return
    }
    // No close frame came: the connection was lost, our close went unanswered, or the server broke the protocol.
    if (Exit.isFailure(end)) {
      const error = Cause.squash(end.cause)
      const code = (error as { readonly code?: number } | undefined)?.code
      if (code !== undefined && code !== ABNORMAL) return this.failed(error)
    }
    this.readyState = CLOSED
    this.dispatch(new WsCloseEvent(ABNORMAL, "", false))
  }

  private dispatch(event: Event): void {
    const handler = (this as unknown as Record<string, Handler>)[`on${event.type}`]
    this.dispatchEvent(event)
    if (typeof handler === "function") handler.call(this, event)
  }
}

/**
 * The constructor platform's `Socket.WebSocketConstructor` holds: sockets opened with `open`, in scopes under the
 * current one, their events dispatched on the runtime of the layer.
 */
export const makeConstructor = (
  open: Open
): Effect.Effect<(url: string, protocols?: string | Array<string>) => globalThis.WebSocket, never, Scope.Scope> =>
  Effect.map(
    Effect.zip(Effect.runtime<never>(), Effect.scope),
    ([runtime, scope]) => (url, protocols) => {
      const list = protocols === undefined ? [] : typeof protocols === "string" ? [protocols] : protocols
      return new HttpfxWebSocket(url, list, runtime, scope, open) as unknown as globalThis.WebSocket
    }
  )
