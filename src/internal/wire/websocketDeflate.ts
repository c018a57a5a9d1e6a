/**
 * permessage-deflate (RFC 7692) for the client: the offer, the strict check of the server's answer (§7.1), and the
 * compression of whole messages either way. Synchronous zlib, one call per message, so messages keep their order with
 * no queue; `maxOutputLength` stops an inflation as soon as its output passes the limit (a zip bomb costs no more than
 * the limit and one 16 KB output chunk).
 */
import { constants as bufferConstants } from "node:buffer"
import * as builtins from "../core/builtins.js"

/** The client's offer: any window for the server; it says it can take `client_max_window_bits` (§7.1.2.2). */
export const DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"

/** What the server's answer agreed. */
interface DeflateParams {
  readonly serverNoContextTakeover: boolean
  readonly clientNoContextTakeover: boolean
  /** 8–15 */
  readonly serverMaxWindowBits: number
  /** 8–15 */
  readonly clientMaxWindowBits: number
}

const WINDOW_BITS = /^(?:[89]|1[0-5])$/
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

/**
 * The server's `Sec-WebSocket-Extensions` to our offer, or why it is not an answer to it (RFC 7692 §7.1, §5: one
 * permessage-deflate element, only the four parameters, each at most once, with valid values).
 */
export const parseDeflateAnswer = (header: string): DeflateParams | string => {
  const elements = header.split(",")
  if (elements.length > 1) return "the server accepted more than one extension, and only permessage-deflate was offered"
  const [name, ...params] = elements[0]!.split(";").map((part) => part.trim())
  if (name !== "permessage-deflate") return `the server chose the extension ${JSON.stringify(name)}, which was not offered`
  const seen = new Set<string>()
  let serverNoContextTakeover = false
  let clientNoContextTakeover = false
  let serverMaxWindowBits = 15
  let clientMaxWindowBits = 15
  for (const param of params) {
    const eq = param.indexOf("=")
    const key = (eq < 0 ? param : param.slice(0, eq)).trim()
    let value = eq < 0 ? undefined : param.slice(eq + 1).trim()
    // §7.1: a value may come as a quoted-string; unquoted, it must still be a token.
    if (value !== undefined && value.length >= 2 && value.startsWith("\"") && value.endsWith("\"")) value = value.slice(1, -1)
    if (!TOKEN.test(key)) return `permessage-deflate has the malformed parameter ${JSON.stringify(param)}`
    if (seen.has(key)) return `permessage-deflate has the parameter ${key} twice (RFC 7692 §7)`
    seen.add(key)
    switch (key) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== undefined) return `permessage-deflate's ${key} has a value (${JSON.stringify(value)}); it takes none`
        if (key === "server_no_context_takeover") serverNoContextTakeover = true
        else clientNoContextTakeover = true
        break
      case "server_max_window_bits":
      case "client_max_window_bits":
        if (value === undefined || !WINDOW_BITS.test(value)) {
          return `permessage-deflate's ${key} is ${value === undefined ? "without a value" : JSON.stringify(value)}, ` +
            "not a number of bits from 8 to 15 (RFC 7692 §7.1.2)"
        }
        if (key === "server_max_window_bits") serverMaxWindowBits = Number(value)
        else clientMaxWindowBits = Number(value)
        break
      default:
        return `permessage-deflate has the unknown parameter ${JSON.stringify(key)} (RFC 7692 §7.1)`
    }
  }
  return { serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, clientMaxWindowBits }
}

/** Messages smaller than this go uncompressed (as `ws` does): below it deflate saves little and costs a zlib call. */
export const COMPRESS_THRESHOLD = 1024

/** §7.2.1: a compressed message's data is a sync-flushed deflate stream without its last 4 bytes. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff])

/** What inflating a message gave: its bytes, or the close code and why. */
export type Inflated = Buffer | { readonly code: number; readonly message: string }

/**
 * The last `window` bytes of `history` then `data`: what a stream kept across messages would hold in its window
 * (context takeover, §7.1.1). Copied, so that a big message is not kept alive by its last 32 KB.
 */
const slide = (history: Buffer | undefined, data: Buffer, window: number): Buffer => {
  if (data.length >= window) return Buffer.from(data.subarray(data.length - window))
  if (history === undefined || history.length === 0) return Buffer.from(data)
  const joined = Buffer.concat([history, data])
  return joined.length > window ? joined.subarray(joined.length - window) : joined
}

/**
 * Both directions of one WebSocket's permessage-deflate. Each message is one synchronous zlib call (node:zlib's
 * streams cannot be driven synchronously more than once); context takeover hands the previous messages' last window of
 * bytes to the next call as its dictionary, which gives the same back-references a kept stream would.
 */
export class PerMessageDeflate {
  /** the server's messages' last window, inflated */
  private inflateHistory: Buffer | undefined = undefined
  /** our messages' last window, before compression */
  private deflateHistory: Buffer | undefined = undefined
  /**
   * Whether messages we send may be compressed: not when the server allows only an 8-bit window for them, which zlib's
   * raw deflate cannot make (it widens it to 9 bits), so they go uncompressed, as §6 allows any message to.
   */
  readonly compresses: boolean

  constructor(
    private readonly params: DeflateParams,
    /** the largest message, inflated */
    private readonly maxMessageSize: number
  ) {
    this.compresses = params.clientMaxWindowBits > 8
  }

  /** Inflate a whole compressed message, stopping as soon as its output passes the limit (a zip bomb). */
  inflate(message: Buffer): Inflated {
    const zlib = builtins.zlib()
    const bits = this.params.serverMaxWindowBits
    const history = this.inflateHistory
    try {
      const out = zlib.inflateRawSync(message.length === 0 ? TAIL : Buffer.concat([message, TAIL]), {
        windowBits: bits,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
        maxOutputLength: Math.min(this.maxMessageSize, bufferConstants.MAX_LENGTH),
        ...(history !== undefined && history.length > 0 ? { dictionary: history } : {})
      })
      if (!this.params.serverNoContextTakeover) this.inflateHistory = slide(history, out, 1 << bits)
      return out
    } catch (error) {
      if ((error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
        return {
          code: 1009,
          message: `a compressed message inflates to more than the ${this.maxMessageSize} bytes allowed (maxMessageSize)`
        }
      }
      // RFC 7692 asks only to fail the connection; 1007 is RFC 6455's code for data that does not fit its message's
      // type (§7.4.1), and what `ws` sends.
      return { code: 1007, message: `a compressed message is not valid deflate data (${(error as Error).message})` }
    }
  }

  /** `data` compressed for a frame with RSV1 set (§7.2.1). */
  deflate(data: Uint8Array): Buffer {
    const zlib = builtins.zlib()
    const bits = this.params.clientMaxWindowBits
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.length)
    const history = this.deflateHistory
    const out = zlib.deflateRawSync(bytes, {
      windowBits: bits,
      finishFlush: zlib.constants.Z_SYNC_FLUSH,
      ...(history !== undefined && history.length > 0 ? { dictionary: history } : {})
    })
    if (!this.params.clientNoContextTakeover) this.deflateHistory = slide(history, bytes, 1 << bits)
    return out.subarray(0, out.length - TAIL.length)
  }

  /** Drops the windows kept for context takeover (zlib's streams are closed after each call). */
  close(): void {
    this.inflateHistory = undefined
    this.deflateHistory = undefined
  }
}
