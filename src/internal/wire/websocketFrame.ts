/**
 * WebSocket frames (RFC 6455 §5), client side: encode masked frames, and decode a server's frames incrementally,
 * as strict as the RFC (and the Autobahn suite) asks. Plain synchronous code over Buffers: the decoder keeps its state
 * in fields so that a frame may arrive split at any byte, and fails at the first byte that breaks the protocol,
 * naming the close code to send (1002 protocol error, 1007 invalid UTF-8, 1009 too big).
 */
import { isUtf8 } from "node:buffer"
import * as builtins from "../core/builtins.js"
import type { Inflated } from "./websocketDeflate.js"

export const Opcode = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const
export type Opcode = (typeof Opcode)[keyof typeof Opcode]

/** RFC 6455 §7.4.1 codes the decoder fails with. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  NoStatus: 1005,
  Abnormal: 1006,
  InvalidData: 1007,
  TooBig: 1009
} as const

/**
 * The default largest message, in bytes (all its fragments together): a message is delivered whole, so this is the
 * memory one message may take. 64 MiB: well above what applications send in one message, and well below what would
 * hurt a Node process; `ws` allows 100 MiB, Python's `websockets` 1 MiB.
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024

/** What a decoder reports; each call happens inside `execute`. */
export interface FrameHandler {
  /** A whole message: text (validated UTF-8) as a string, binary as bytes. */
  onMessage(data: string | Uint8Array): void
  onPing(payload: Buffer): void
  onPong(payload: Buffer): void
  /** The server's close frame: its code (undefined when it sent none) and reason. */
  onClose(code: number | undefined, reason: string): void
}

/** Whether a code may appear in a close frame (RFC 6455 §7.4.1, §7.4.2; 1012–1014 are registered since). */
export const isValidCloseCode = (code: number): boolean =>
  Number.isInteger(code) &&
  ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999))

// ---- UTF-8, incrementally ------------------------------------------------------------------------------------------

/**
 * UTF-8 validation across the pieces of one text message (RFC 3629 §4: no overlongs, no surrogates, nothing above
 * U+10FFFF). Complete sequences are checked by Node's native `isUtf8`; only a sequence split between pieces goes
 * through the byte-at-a-time state below, so an invalid byte fails the piece it arrives in, not the message's end.
 */
export class Utf8Validator {
  /** continuation bytes still expected */
  private need = 0
  private lower = 0x80
  private upper = 0xbf

  reset(): void {
    this.need = 0
  }

  /** Whether the message can still be valid UTF-8 after these bytes. */
  write(bytes: Buffer): boolean {
    let start = 0
    const len = bytes.length
    while (this.need > 0 && start < len) {
      if (!this.step(bytes[start]!)) return false
      start++
    }
    if (start === len) return true
    const tail = incompleteTail(bytes, start, len)
    if (tail > start && !isUtf8(bytes.subarray(start, tail))) return false
    for (let i = tail; i < len; i++) if (!this.step(bytes[i]!)) return false
    return true
  }

  /** The message ended: no sequence may be left open. */
  get complete(): boolean {
    return this.need === 0
  }

  private step(b: number): boolean {
    if (this.need > 0) {
      if (b < this.lower || b > this.upper) return false
      this.need--
      this.lower = 0x80
      this.upper = 0xbf
      return true
    }
    if (b < 0x80) return true
    if (b >= 0xc2 && b <= 0xdf) this.need = 1
    else if (b === 0xe0) (this.need = 2), (this.lower = 0xa0)
    else if (b === 0xed) (this.need = 2), (this.upper = 0x9f)
    else if (b >= 0xe1 && b <= 0xef) this.need = 2
    else if (b === 0xf0) (this.need = 3), (this.lower = 0x90)
    else if (b === 0xf4) (this.need = 3), (this.upper = 0x8f)
    else if (b >= 0xf1 && b <= 0xf3) this.need = 3
    else return false
    return true
  }
}

/**
 * Where the sequence that `bytes[start, len)` ends in the middle of begins, or `len` when it ends on a boundary (or
 * when its end is invalid anyway, which `isUtf8` then reports).
 */
const incompleteTail = (bytes: Buffer, start: number, len: number): number => {
  let i = len - 1
  const stop = Math.max(start, len - 4)
  while (i >= stop && (bytes[i]! & 0xc0) === 0x80) i--
  if (i < stop) return len
  const lead = bytes[i]!
  const size = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1
  return i + size > len ? i : len
}

// ---- encoding ------------------------------------------------------------------------------------------------------

/** Random bytes for masks, refilled a pool at a time rather than one crypto call per frame. */
const MASK_POOL_SIZE = 8192
let maskPool: Buffer | undefined
let maskOffset = MASK_POOL_SIZE

const nextMask = (): number => {
  if (maskOffset >= MASK_POOL_SIZE) {
    // node:crypto is loaded on first use (core/builtins.ts): a program without WebSockets never pays for it.
    builtins.crypto().randomFillSync(maskPool ??= Buffer.allocUnsafeSlow(MASK_POOL_SIZE))
    maskOffset = 0
  }
  const offset = maskOffset
  maskOffset += 4
  return offset
}

/**
 * One frame as a client sends it (RFC 6455 §5.2, §5.3): FIN set, masked with a fresh random key, the payload copied
 * masked into the same buffer as the header, so it goes out in one write.
 */
export const encodeFrame = (opcode: Opcode, payload: Uint8Array, compressed = false): Buffer => {
  const length = payload.length
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8
  const headerSize = 2 + lengthBytes + 4
  const frame = Buffer.allocUnsafe(headerSize + length)
  // RSV1: the message is compressed (RFC 7692 §6)
  frame[0] = compressed ? 0xc0 | opcode : 0x80 | opcode
  if (lengthBytes === 0) {
    frame[1] = 0x80 | length
  } else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 0x80 | 127
    frame.writeUInt32BE(Math.floor(length / 0x100000000), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
  const maskAt = headerSize - 4
  const m = nextMask()
  const pool = maskPool!
  const m0 = pool[m]!, m1 = pool[m + 1]!, m2 = pool[m + 2]!, m3 = pool[m + 3]!
  frame[maskAt] = m0
  frame[maskAt + 1] = m1
  frame[maskAt + 2] = m2
  frame[maskAt + 3] = m3
  let i = 0
  let o = headerSize
  const whole = length - (length & 3)
  while (i < whole) {
    frame[o++] = payload[i++]! ^ m0
    frame[o++] = payload[i++]! ^ m1
    frame[o++] = payload[i++]! ^ m2
    frame[o++] = payload[i++]! ^ m3
  }
  if (i < length) frame[o++] = payload[i++]! ^ m0
  if (i < length) frame[o++] = payload[i++]! ^ m1
  if (i < length) frame[o++] = payload[i++]! ^ m2
  return frame
}

const EMPTY = Buffer.alloc(0)

/** A close frame's payload: the code and the reason (at most 123 bytes of UTF-8, RFC 6455 §5.5). */
export const closePayload = (code: number | undefined, reason: string): Buffer => {
  if (code === undefined) return EMPTY
  const payload = Buffer.allocUnsafe(2 + Buffer.byteLength(reason))
  payload.writeUInt16BE(code, 0)
  payload.write(reason, 2, "utf8")
  return payload
}

// ---- decoding ------------------------------------------------------------------------------------------------------

const S_HEADER = 0
const S_PAYLOAD = 1
const S_DEAD = 2
/** after the server's close frame: what follows is ignored (RFC 6455 §5.5.1) */
const S_CLOSED = 3

/** The longest header a server sends: 2 bytes, 8 of length, no mask. */
const MAX_HEADER = 10

/** What the decoder needs of permessage-deflate (wire/websocketDeflate.ts), when it was negotiated. */
interface Inflater {
  /** The inflated bytes of a whole compressed message. */
  inflate(message: Buffer): Inflated
}

/** A server's frames, decoded incrementally into messages and control frames. */
export class FrameDecoder {
  /** why decoding stopped, for people */
  error: string | undefined = undefined
  /** the close code to send for `error` */
  errorCode = 0

  private state = S_HEADER
  private readonly header = Buffer.allocUnsafe(MAX_HEADER)
  private headerLength = 0
  // the frame being read
  private fin = false
  private opcode = 0
  private remaining = 0
  /** the control frame's payload so far (control frames are at most 125 bytes, RFC 6455 §5.5) */
  private control: Array<Buffer> = []
  // the message being read
  /** the opcode of the message whose fragments are arriving; 0 when none is open */
  private messageOpcode = 0
  private pieces: Array<Buffer> = []
  /** the message's bytes on the wire */
  private messageSize = 0
  /** the message has RSV1 set: its pieces are inflated together once it is all in */
  private compressed = false
  private readonly utf8 = new Utf8Validator()

  constructor(
    private readonly handler: FrameHandler,
    /** the largest message, all fragments together */
    private readonly maxMessageSize: number = DEFAULT_MAX_MESSAGE_SIZE,
    /** permessage-deflate, when the server accepted it */
    private readonly inflater?: Inflater | undefined
  ) {}

  /**
   * Decode `chunk`; views of it may be kept until the message they belong to is delivered (see `holdsBytes`), and a
   * binary message may be delivered as one. False when the server broke the protocol (see `error` and `errorCode`).
   */
  execute(chunk: Buffer): boolean {
    if (this.state === S_DEAD) return false
    if (this.state === S_CLOSED) return true
    let pos = 0
    const len = chunk.length
    while (pos < len) {
      if (this.state === S_HEADER) {
        pos = this.readHeader(chunk, pos, len)
        if (pos < 0) return false
        continue
      }
      if (this.state === S_CLOSED) return true
      if (this.state !== S_PAYLOAD) return false
      const end = Math.min(len, pos + this.remaining)
      if (end > pos) {
        this.remaining -= end - pos
        if (!this.payload(chunk.subarray(pos, end))) return false
        pos = end
      }
      if (this.remaining === 0 && !this.frameDone()) return false
    }
    return true
  }

  /** Whether views of the chunks given so far are kept for a message or control frame not all in yet. */
  get holdsBytes(): boolean {
    return this.pieces.length > 0 || this.control.length > 0
  }

  /** Take header bytes; -1 when the header breaks the protocol. */
  private readHeader(chunk: Buffer, pos: number, len: number): number {
    const header = this.header
    while (pos < len) {
      header[this.headerLength++] = chunk[pos++]!
      const need = this.headerSize()
      if (need < 0) return -1
      if (this.headerLength === need) return this.startFrame() ? pos : -1
    }
    return pos
  }

  /** The size of the header begun in `header`, once its second byte is in; checks what the first two bytes say. */
  private headerSize(): number {
    if (this.headerLength < 2) return 2
    const b0 = this.header[0]!
    const b1 = this.header[1]!
    if (this.headerLength === 2) {
      const opcode = b0 & 0x0f
      if ((b0 & 0x70) !== 0) {
        const why = this.reservedBits(b0 & 0x70, opcode)
        if (why !== undefined) return this.fail(CloseCode.ProtocolError, why)
      }
      if (opcode > 2 && opcode < 8 || opcode > 10) {
        return this.fail(CloseCode.ProtocolError, `a frame has the reserved opcode ${opcode}`)
      }
      if ((b1 & 0x80) !== 0) return this.fail(CloseCode.ProtocolError, "a frame from the server is masked (RFC 6455 §5.1)")
      if (opcode >= 8) {
        if ((b0 & 0x80) === 0) return this.fail(CloseCode.ProtocolError, "a control frame is fragmented")
        if ((b1 & 0x7f) > 125) return this.fail(CloseCode.ProtocolError, "a control frame is longer than 125 bytes")
      }
    }
    const length = b1 & 0x7f
    return length === 126 ? 4 : length === 127 ? 10 : 2
  }

  /** Why reserved bits break the protocol here, or undefined when they are RSV1 on a message's first frame (RFC 7692 §6). */
  private reservedBits(rsv: number, opcode: number): string | undefined {
    if (rsv !== 0x40 || this.inflater === undefined) {
      return rsv === 0x40
        ? "a frame has RSV1 set (compressed) but permessage-deflate was not negotiated"
        : "a frame has reserved bits set (RSV2-3) and no extension was negotiated"
    }
    if (opcode >= 8) return "a control frame has RSV1 set (control frames are never compressed, RFC 7692 §6.1)"
    if (opcode === Opcode.Continuation) {
      return "a continuation frame has RSV1 set (only a message's first frame says it is compressed, RFC 7692 §6.1)"
    }
    return undefined
  }

  private startFrame(): boolean {
    const header = this.header
    const b0 = header[0]!
    const opcode = b0 & 0x0f
    let length = header[1]! & 0x7f
    if (length === 126) {
      length = header.readUInt16BE(2)
    } else if (length === 127) {
      const high = header.readUInt32BE(2)
      // RFC 6455 §5.2: the most significant bit must be 0. Checked before anything is allocated for the payload.
      if (high >= 0x80000000) return this.failed(CloseCode.ProtocolError, "a frame declares a length with its top bit set")
      if (high > 0x1fffff) return this.tooBig(Number.MAX_SAFE_INTEGER)
      length = high * 0x100000000 + header.readUInt32BE(6)
    }
    this.headerLength = 0
    this.fin = (b0 & 0x80) !== 0
    this.opcode = opcode
    this.remaining = length
    if (opcode < 8) {
      if (opcode === Opcode.Continuation) {
        if (this.messageOpcode === 0) return this.failed(CloseCode.ProtocolError, "a continuation frame with no message to continue")
      } else {
        if (this.messageOpcode !== 0) {
          return this.failed(CloseCode.ProtocolError, "a new message began before the fragmented one before it ended")
        }
        this.messageOpcode = opcode
        this.messageSize = 0
        this.compressed = (b0 & 0x40) !== 0
        this.utf8.reset()
      }
      if (this.messageSize + length > this.maxMessageSize) return this.tooBig(this.messageSize + length)
      this.messageSize += length
    }
    this.state = S_PAYLOAD
    return length > 0 || this.frameDone()
  }

  private payload(bytes: Buffer): boolean {
    if (this.opcode >= 8) {
      this.control.push(bytes)
      return true
    }
    if (this.messageOpcode === Opcode.Text && !this.compressed && !this.utf8.write(bytes)) {
      return this.failed(CloseCode.InvalidData, "a text message is not valid UTF-8")
    }
    this.pieces.push(bytes)
    return true
  }

  /** The frame's payload is all in. */
  private frameDone(): boolean {
    this.state = S_HEADER
    const opcode = this.opcode
    if (opcode >= 8) {
      const payload = this.control.length === 1 ? this.control[0]! : Buffer.concat(this.control)
      this.control = []
      if (opcode === Opcode.Ping) this.handler.onPing(payload)
      else if (opcode === Opcode.Pong) this.handler.onPong(payload)
      else return this.closeFrame(payload)
      return true
    }
    if (!this.fin) return true
    const pieces = this.pieces
    const messageOpcode = this.messageOpcode
    this.messageOpcode = 0
    let bytes = pieces.length === 1 ? pieces[0]! : pieces.length === 0 ? EMPTY : Buffer.concat(pieces, this.messageSize)
    pieces.length = 0
    if (this.compressed) {
      const inflated = this.inflater!.inflate(bytes)
      if (!Buffer.isBuffer(inflated)) return this.failed(inflated.code, inflated.message)
      bytes = inflated
      if (messageOpcode === Opcode.Text && !isUtf8(bytes)) {
        return this.failed(CloseCode.InvalidData, "a text message is not valid UTF-8 once inflated")
      }
    }
    if (messageOpcode === Opcode.Text) {
      if (!this.compressed && !this.utf8.complete) return this.failed(CloseCode.InvalidData, "a text message ends in the middle of a UTF-8 sequence")
      this.handler.onMessage(bytes.toString("utf8"))
    } else {
      this.handler.onMessage(bytes)
    }
    return true
  }

  /** RFC 6455 §5.5.1: no body, or a valid code and a UTF-8 reason. */
  private closeFrame(payload: Buffer): boolean {
    if (payload.length === 0) {
      this.state = S_CLOSED
      this.handler.onClose(undefined, "")
      return true
    }
    if (payload.length === 1) return this.failed(CloseCode.ProtocolError, "a close frame has a 1-byte body")
    const code = payload.readUInt16BE(0)
    if (!isValidCloseCode(code)) return this.failed(CloseCode.ProtocolError, `a close frame has the invalid code ${code}`)
    const reason = payload.subarray(2)
    if (!isUtf8(reason)) return this.failed(CloseCode.InvalidData, "a close frame's reason is not valid UTF-8")
    this.state = S_CLOSED
    this.handler.onClose(code, reason.toString("utf8"))
    return true
  }

  private tooBig(size: number): boolean {
    const shown = size === Number.MAX_SAFE_INTEGER ? "more than 2^53 bytes" : `${size} bytes`
    return this.failed(
      CloseCode.TooBig,
      `a message of ${shown} is larger than the ${this.maxMessageSize} bytes allowed (maxMessageSize)`
    )
  }

  private fail(code: number, message: string): number {
    this.failed(code, message)
    return -1
  }

  private failed(code: number, message: string): false {
    this.state = S_DEAD
    this.error = message
    this.errorCode = code
    this.pieces = []
    this.control = []
    return false
  }
}
