/**
 * Incremental HTTP/1.1 response parser (RFC 9112).
 *
 * Plain synchronous code on the hot path: state lives in fields so that a response may arrive split at any byte, line
 * ends are found with `Buffer.indexOf`, and body bytes are handed out as views of the caller's chunks. Only a line that
 * is split across chunks is copied (into `partial`), so a head that arrives in one chunk is parsed without copying.
 *
 * Every decision is a function of the bytes alone, never of how they were split: a line is examined only once it is
 * complete, and the few checks made on incomplete lines (size limits, the early status-line check) report exactly what
 * the complete-line path would report for the same bytes.
 *
 * It accepts what llhttp (Node's parser) accepts in strict mode: CRLF line ends only, no control characters but HTAB in
 * field values, no whitespace in chunk size lines. Where it is stricter, or reads a Transfer-Encoding differently, an
 * RFC says so; test/internal/h1/llhttp-differential.test.ts lists each such difference and checks the rest.
 */

import { DEFAULT_MAX_HEAD_SIZE } from "../core/limits.js"

export interface ResponseHandler {
  /**
   * The final (non-1xx) response head. rawHeaders is flat: [name0, value0, name1, value1, ...], names as sent (case
   * kept), values with surrounding OWS trimmed.
   */
  onHead(status: number, reason: string, versionMinor: number, rawHeaders: Array<string>): void
  /**
   * A piece of body bytes (a view into the chunk given to execute). Chunked framing already removed. Never called
   * with an empty buffer.
   */
  onBody(chunk: Buffer): void
  /** The message is complete. trailers is the flat trailer field list of a chunked body (empty array otherwise). */
  onComplete(trailers: Array<string>): void
}

// A plain object rather than a `const enum`: under verbatimModuleSyntax/isolatedModules other files cannot rely on
// const enums being inlined, and this keeps `BodyKind.Chunked` usable both as a value and (through the alias) a type.
export const BodyKind = { None: 0, Length: 1, Chunked: 2, UntilClose: 3 } as const
export type BodyKind = (typeof BodyKind)[keyof typeof BodyKind]

const S_HEAD = 0
const S_LENGTH = 1
const S_CHUNK_SIZE = 2
const S_CHUNK_DATA = 3
const S_CHUNK_CR = 4
const S_CHUNK_LF = 5
const S_TRAILERS = 6
const S_UNTIL_CLOSE = 7
const S_DONE = 8
const S_DEAD = 9

// Results of the per-line handlers.
const CONTINUE = 0
const COMPLETE = 1
const FAILED = -1

const MAX_HEAD = DEFAULT_MAX_HEAD_SIZE
const MAX_TRAILERS = 65536
const MAX_CHUNK_LINE = 4096
const EXCERPT = 40
// The status line is checked before it is complete once this many bytes are in: enough that the excerpt in the
// message (EXCERPT bytes plus an ellipsis) is what the complete line would give, even when the next byte is its CR.
const EARLY_STATUS_CHECK = EXCERPT + 2
// A retained line buffer above this size is dropped on reset so that one huge head does not pin memory per connection.
const PARTIAL_KEEP = 16384

const TRAILERS_TOO_LARGE = "the chunked trailer section is larger than 64 KiB"
const CHUNK_LINE_TOO_LONG = "a chunk size line is longer than 4 KiB"
const EMPTY_TRANSFER_ENCODING = "an empty Transfer-Encoding field"

// RFC 9110 §5.6.2 tchar.
const TCHAR = new Uint8Array(256)
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1
for (let c = 48; c <= 57; c++) TCHAR[c] = 1
for (let c = 65; c <= 90; c++) {
  TCHAR[c] = 1
  TCHAR[c + 32] = 1
}

const EMPTY = Buffer.alloc(0)
/** No transfer codings: one shared, frozen list for every message that has none. */
export const NO_CODINGS: ReadonlyArray<string> = Object.freeze([])
/** A message without trailers: one shared, frozen list (the handler only reads it). */
const NO_TRAILERS = Object.freeze([]) as unknown as Array<string>
/** What every field list is copied from (see `reset`); never changed. Not frozen: a copy of a frozen list is holey. */
const EMPTY_LIST: ReadonlyArray<string> = []
const CRLF_CRLF = Buffer.from("\r\n\r\n", "latin1")

export class ResponseParser {
  error: string | undefined = undefined
  receivedAny = false
  keepAlive = false
  /**
   * The transfer codings other than chunked (lowercase, in the order they were applied) of the body being read, to be
   * undone like Content-Encoding: those of a body read until the connection closes because its Transfer-Encoding does
   * not end in chunked (RFC 9112 §6.3), or those applied before a final chunked. Empty otherwise.
   */
  transferCodings: ReadonlyArray<string> = NO_CODINGS
  bodyKind: BodyKind = BodyKind.None
  contentLength = -1
  /**
   * The head just parsed was a 101 to a request that asked to upgrade: the connection now speaks another protocol,
   * and the bytes after the head (from the offset `execute` returned) are that protocol's.
   */
  upgraded = false

  private readonly handler: ResponseHandler
  private noBody = false
  /** the request asked to switch protocols (RFC 9110 §7.8): a 101 ends the HTTP/1.1 exchange */
  private upgrade = false
  /** the largest head accepted, in bytes (`limits.maxHeadSize`) */
  private maxHead = MAX_HEAD
  private state = S_HEAD
  /** Bytes of a line whose end has not arrived yet (the only copying the parser does). */
  private partial: Buffer = EMPTY
  private partialLen = 0
  /** Bytes of the current head or trailer section so far, for the 64 KiB limits. */
  private sectionBytes = 0
  /** Body bytes still expected: of the Content-Length body, or of the current chunk. */
  private remaining = 0

  /** Bytes of a Content-Length body still to come, or -1 when the body has no declared length. */
  get lengthLeft(): number {
    return this.bodyKind === BodyKind.Length ? this.remaining : -1
  }

  /** How many of the next bytes are sure to be body bytes, to be handed on as they are (no framing among them). */
  get bodyAhead(): number {
    switch (this.state) {
      case S_LENGTH:
      case S_CHUNK_DATA:
        return this.remaining
      case S_UNTIL_CLOSE:
        return Number.MAX_SAFE_INTEGER
      default:
        return 0
    }
  }

  // The head being parsed; status 0 means its status line has not been seen yet.
  private status = 0
  private versionMinor = 1
  private reason = ""
  private fields: Array<string> = []
  private cl = -1
  private te: string | undefined = undefined
  private connClose = false
  private connKeepAlive = false
  private trailers: Array<string> = NO_TRAILERS

  // Decoding a whole head with one toString and slicing the strings out of it costs a fraction of one toString per
  // name and value. `text` is chunk[textStart, textEnd) of the chunk being executed; lines outside it (split heads,
  // LF-only heads) are decoded on their own.
  private text = ""
  private textChunk: Buffer | undefined = undefined
  private textStart = 0
  private textEnd = 0
  /** No new decoding is attempted for the current chunk before this offset. */
  private textTried = 0

  constructor(handler: ResponseHandler) {
    this.handler = handler
  }

  reset(noBody: boolean, maxHeadSize: number = MAX_HEAD, upgrade = false): void {
    this.noBody = noBody
    this.upgrade = upgrade
    this.upgraded = false
    this.maxHead = maxHeadSize
    this.state = S_HEAD
    this.error = undefined
    this.receivedAny = false
    this.keepAlive = false
    this.bodyKind = BodyKind.None
    this.contentLength = -1
    this.transferCodings = NO_CODINGS
    this.partialLen = 0
    if (this.partial.length > PARTIAL_KEEP) this.partial = EMPTY
    this.remaining = 0
    // The previous list was handed to the handler, which may keep it. The new one is a copy of an empty list, not a
    // literal: V8 counts how many of a literal's arrays outlive a young collection and, past a ratio, allocates all
    // later ones straight in the old generation ("pretenuring"; seen on Node 20 and 22 after a full collection). A
    // dead list there keeps the names and values put in it alive through every young collection until the next full
    // one: in the bench, 0.8 MB promoted per young collection and twice the GC time. `slice` makes no such arrays.
    this.fields = EMPTY_LIST.slice()
    this.trailers = NO_TRAILERS
    this.startHead()
  }

  execute(chunk: Buffer): number {
    const initial = this.state
    if (initial === S_DEAD) return -1
    if (initial === S_DONE) return 0
    const len = chunk.length
    if (len === 0) return 0
    this.receivedAny = true
    this.textChunk = chunk
    this.textStart = this.textEnd = this.textTried = 0
    const result = this.parse(chunk, len)
    // Neither the chunk nor its decoding may outlive this call: an idle connection should not pin them, and a caller
    // could refill a buffer it passed before.
    this.textChunk = undefined
    this.text = ""
    return result
  }

  private parse(chunk: Buffer, len: number): number {
    let pos = 0
    while (pos < len) {
      switch (this.state) {
        case S_HEAD:
        case S_CHUNK_SIZE:
        case S_TRAILERS: {
          if (this.state === S_HEAD && pos >= this.textTried && this.partialLen === 0) this.decodeHead(chunk, pos)
          const lf = chunk.indexOf(10, pos)
          if (lf === -1) return this.holdPartial(chunk, pos, len) ? len : -1
          if (!this.checkLineLimit(chunk, pos, lf)) return -1
          let buf = chunk
          let start = pos
          let end = lf
          if (this.partialLen !== 0) {
            this.append(chunk, pos, lf)
            buf = this.partial
            start = 0
            end = this.partialLen
            this.partialLen = 0
          }
          pos = lf + 1
          // RFC 9112 §2.2 lets a recipient take a bare LF for CRLF; we do not (nor does llhttp): a peer that reads
          // such a line differently sees a different message. A CR anywhere else in a line is rejected below.
          if (end > start && buf[end - 1] === 13) end--
          // A status line with a bad version reports that instead, as the early check on an incomplete one does.
          else if (this.state !== S_HEAD || this.status !== 0 || versionOk(buf, start, end)) {
            return this.fail(this.bareLfMessage())
          }
          const r = this.state === S_HEAD
            ? this.headLine(buf, start, end)
            : this.state === S_CHUNK_SIZE
            ? this.chunkSizeLine(buf, start, end)
            : this.trailerLine(buf, start, end)
          if (r === CONTINUE) break
          return r === COMPLETE ? pos : -1
        }
        case S_LENGTH: {
          let end = pos + this.remaining
          if (end > len) end = len
          this.remaining -= end - pos
          const piece = pos === 0 && end === len ? chunk : chunk.subarray(pos, end)
          pos = end
          this.handler.onBody(piece)
          if (this.remaining === 0) return this.complete(pos, NO_TRAILERS)
          break
        }
        case S_CHUNK_DATA: {
          let end = pos + this.remaining
          if (end > len) end = len
          this.remaining -= end - pos
          const piece = pos === 0 && end === len ? chunk : chunk.subarray(pos, end)
          pos = end
          if (this.remaining === 0) this.state = S_CHUNK_CR
          this.handler.onBody(piece)
          break
        }
        case S_CHUNK_CR: {
          if (chunk[pos] !== 13) return this.missingChunkCrlf()
          this.state = S_CHUNK_LF
          pos++
          break
        }
        case S_CHUNK_LF: {
          if (chunk[pos] !== 10) return this.missingChunkCrlf()
          this.state = S_CHUNK_SIZE
          pos++
          break
        }
        case S_UNTIL_CLOSE: {
          this.handler.onBody(pos === 0 ? chunk : chunk.subarray(pos))
          return len
        }
        default:
          // Only reachable when a handler called finish() re-entrantly: stop where we are.
          return this.state === S_DEAD ? -1 : pos
      }
    }
    return pos
  }

  finish(): string | undefined {
    let message: string
    switch (this.state) {
      case S_DONE:
        return undefined
      case S_DEAD:
        return this.error
      case S_UNTIL_CLOSE:
        // RFC 9112 §6.3 (8): without Content-Length or Transfer-Encoding the body is delimited by the close.
        this.complete(0, NO_TRAILERS)
        return undefined
      case S_HEAD:
        if (!this.receivedAny) message = "the connection closed before any response byte was received"
        else if (this.status === 0 && this.partialLen > 0 && !versionPrefixPossible(this.partial, this.partialLen)) {
          message = versionError(this.partial, 0, this.partialLen)
        } else message = "the connection closed before the response head was complete"
        break
      case S_LENGTH:
        message = `the connection closed after ${this.contentLength - this.remaining} of ${this.contentLength} ` +
          "body bytes"
        break
      case S_TRAILERS:
        message = "the connection closed in the middle of the trailer section of a chunked body"
        break
      default:
        message = "the connection closed in the middle of a chunked body"
    }
    this.fail(message)
    return message
  }

  private decodeHead(chunk: Buffer, pos: number): void {
    const found = chunk.indexOf(CRLF_CRLF, pos)
    if (found !== -1 && found + 4 - pos <= this.maxHead) {
      this.textStart = pos
      this.textEnd = this.textTried = found + 4
      this.text = chunk.toString("latin1", pos, found + 4)
    } else {
      this.textStart = this.textEnd = 0
      this.textTried = chunk.length
    }
  }

  private latin1(buf: Buffer, start: number, end: number): string {
    const base = this.textStart
    return buf === this.textChunk && start >= base && end <= this.textEnd
      ? this.text.slice(start - base, end - base)
      : buf.toString("latin1", start, end)
  }

  private startHead(): void {
    this.status = 0
    this.versionMinor = 1
    this.reason = ""
    this.fields.length = 0
    this.sectionBytes = 0
    this.cl = -1
    this.te = undefined
    this.connClose = false
    this.connKeepAlive = false
  }

  /**
   * Fails a head that passes the limit inside the line made of `partial` and chunk[pos, stop). A first line is judged
   * on its first min(42, limit) bytes, which the whole line and every split of it have by then, so that the answer is
   * the same however it arrived: the status-line error when those bytes cannot start one, else the limit.
   */
  private headTooLarge(chunk: Buffer, pos: number, stop: number): false {
    if (this.status === 0) {
      const prefix = this.linePrefix(chunk, pos, stop, Math.min(EARLY_STATUS_CHECK, this.maxHead))
      if (!versionPrefixPossible(prefix, prefix.length)) return this.refuse(versionError(prefix, 0, prefix.length))
    }
    return this.refuse(
      `the response head is larger than ${this.maxHead} bytes; raise limits.maxHeadSize if the server is trusted`
    )
  }

  private bareLfMessage(): string {
    const line = this.state === S_HEAD
      ? "a line of the response head"
      : this.state === S_CHUNK_SIZE
      ? "a chunk size line"
      : "a line of the chunked trailer section"
    return `${line} ends in a bare LF instead of CRLF`
  }

  private fail(message: string): typeof FAILED {
    this.error = message
    this.state = S_DEAD
    return FAILED
  }

  private refuse(message: string): false {
    this.fail(message)
    return false
  }

  /** A 101 to an upgrade request: the head is the last HTTP/1.1 on this connection (RFC 9110 §15.2.2). */
  private switched(): number {
    this.bodyKind = BodyKind.None
    this.contentLength = -1
    this.keepAlive = false
    this.upgraded = true
    this.handler.onHead(101, this.reason, this.versionMinor, this.fields)
    this.complete(0, NO_TRAILERS)
    return COMPLETE
  }

  private complete(pos: number, trailers: Array<string>): number {
    this.state = S_DONE
    this.handler.onComplete(trailers)
    return pos
  }

  private missingChunkCrlf(): number {
    return this.fail("missing CRLF after chunk data")
  }

  /** Keeps the start of a line whose end is not in this chunk, enforcing the limits the complete line would hit. */
  private holdPartial(chunk: Buffer, pos: number, len: number): boolean {
    const total = this.partialLen + len - pos
    if (this.state === S_HEAD) {
      // `>=`: with no line end yet, the head will be at least one byte longer than what is here.
      if (this.sectionBytes + total >= this.maxHead) return this.headTooLarge(chunk, pos, len)
      if (this.status === 0 && total >= EARLY_STATUS_CHECK && this.partialLen < EARLY_STATUS_CHECK) {
        // Garbage without line ends (an HTTP/2 or TLS peer, say) fails now instead of after 64 KiB or at EOF.
        const prefix = this.linePrefix(chunk, pos, len, EARLY_STATUS_CHECK)
        if (!versionOk(prefix, 0, EARLY_STATUS_CHECK)) return this.refuse(versionError(prefix, 0, prefix.length))
      }
    } else if (this.state === S_TRAILERS) {
      if (this.sectionBytes + total >= MAX_TRAILERS) return this.refuse(TRAILERS_TOO_LARGE)
    } else if (total >= MAX_CHUNK_LINE) return this.refuse(CHUNK_LINE_TOO_LONG)
    this.append(chunk, pos, len)
    return true
  }

  /** Size limits for a line ending at `lf`, checked before the line is copied or parsed. */
  private checkLineLimit(chunk: Buffer, pos: number, lf: number): boolean {
    const lineLen = this.partialLen + lf + 1 - pos
    if (this.state === S_HEAD) {
      if (this.sectionBytes + lineLen > this.maxHead) return this.headTooLarge(chunk, pos, lf)
      this.sectionBytes += lineLen
    } else if (this.state === S_TRAILERS) {
      if (this.sectionBytes + lineLen > MAX_TRAILERS) return this.refuse(TRAILERS_TOO_LARGE)
      this.sectionBytes += lineLen
    } else if (lineLen > MAX_CHUNK_LINE) return this.refuse(CHUNK_LINE_TOO_LONG)
    return true
  }

  private append(chunk: Buffer, from: number, to: number): void {
    const need = this.partialLen + to - from
    if (need > this.partial.length) {
      // Doubling keeps byte-at-a-time input linear.
      const grown = Buffer.allocUnsafe(Math.max(256, need, this.partial.length * 2))
      this.partial.copy(grown, 0, 0, this.partialLen)
      this.partial = grown
    }
    chunk.copy(this.partial, this.partialLen, from, to)
    this.partialLen = need
  }

  /** The first `n` bytes (or fewer) of the line made of `partial` and `chunk[pos, stop)`. */
  private linePrefix(chunk: Buffer, pos: number, stop: number, n: number): Buffer {
    const size = Math.min(n, this.partialLen + stop - pos)
    const out = Buffer.allocUnsafe(size)
    const fromPartial = Math.min(this.partialLen, size)
    this.partial.copy(out, 0, 0, fromPartial)
    chunk.copy(out, fromPartial, pos, pos + size - fromPartial)
    return out
  }

  private headLine(buf: Buffer, start: number, end: number): number {
    if (this.status === 0) return this.statusLine(buf, start, end)
    if (start === end) return this.headEnd()
    const fields = this.fields
    const err = this.parseField(buf, start, end, fields, "header", fields.length === 0)
    if (err !== undefined) return this.fail(err)
    // Interim (1xx) heads are only checked for syntax; their framing and connection fields mean nothing.
    if (this.status < 200) return CONTINUE
    const name = fields[fields.length - 2]!
    const n = name.length
    if (n === 14) {
      if (name.toLowerCase() === "content-length") {
        const e = this.contentLengthField(fields[fields.length - 1]!)
        if (e !== undefined) return this.fail(e)
      }
    } else if (n === 17) {
      if (name.toLowerCase() === "transfer-encoding") {
        const value = fields[fields.length - 1]!
        // A field with no coding at all says nothing about the framing, but one parser may ignore it while another
        // counts it as present (llhttp 9.4.3 rejects it too).
        if (value === "") return this.fail(EMPTY_TRANSFER_ENCODING)
        // RFC 9110 §5.3: repeated list fields combine as one comma-separated list.
        this.te = this.te === undefined ? value : this.te + "," + value
      }
    } else if (n === 10) {
      if (name.toLowerCase() === "connection") this.connectionField(fields[fields.length - 1]!)
    }
    return CONTINUE
  }

  private statusLine(buf: Buffer, start: number, end: number): number {
    if (!versionOk(buf, start, end)) return this.fail(versionError(buf, start, end))
    const len = end - start
    // RFC 9112 §4: status-code = 3DIGIT; a reason may be absent entirely, as some servers omit the SP before it.
    const d0 = len < 12 ? -1 : buf[start + 9]! - 48
    const d1 = len < 12 ? -1 : buf[start + 10]! - 48
    const d2 = len < 12 ? -1 : buf[start + 11]! - 48
    if (d0 < 1 || d0 > 9 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 || (len > 12 && buf[start + 12] !== 32)) {
      return this.fail(`invalid status code in status line ${excerpt(buf, start, end)}`)
    }
    // The reason phrase carries no semantics (RFC 9112 §4) but may not smuggle a NUL or a bare CR into the head.
    for (let i = start + 13; i < end; i++) {
      const c = buf[i]
      if (c === 0 || c === 13) {
        return this.fail(`invalid character ${escapeByte(c)} in the reason phrase of ${excerpt(buf, start, end)}`)
      }
    }
    this.status = d0 * 100 + d1 * 10 + d2
    this.versionMinor = buf[start + 7]! - 48
    this.reason = len > 13 ? this.latin1(buf, start + 13, end) : ""
    return CONTINUE
  }

  private contentLengthField(value: string): string | undefined {
    // Deliberately stricter than RFC 9112 §6.3 (5), which tolerates a list of identical values: when two parsers
    // disagree about which Content-Length counts, the bytes after the body become someone else's response.
    let n: number
    if (value.indexOf(",") === -1) {
      n = parseDecimal(value)
      if (n < 0) return invalidContentLength(value, n)
      if (this.cl === -1) {
        this.cl = n
        return undefined
      }
      return duplicateContentLength([this.cl, n])
    }
    const values: Array<number> = this.cl === -1 ? [] : [this.cl]
    for (const element of value.split(",")) {
      n = parseDecimal(trimOws(element))
      if (n < 0) return invalidContentLength(value, n)
      values.push(n)
    }
    return duplicateContentLength(values)
  }

  private connectionField(value: string): void {
    const v = value.toLowerCase()
    if (v === "close") this.connClose = true
    else if (v === "keep-alive") this.connKeepAlive = true
    else {
      for (const element of v.split(",")) {
        const token = trimOws(element)
        if (token === "close") this.connClose = true
        else if (token === "keep-alive") this.connKeepAlive = true
      }
    }
  }

  private headEnd(): number {
    const status = this.status
    if (status < 200) {
      if (status === 101) {
        if (this.upgrade) return this.switched()
        return this.fail("unexpected 101 Switching Protocols (no upgrade was requested)")
      }
      // RFC 9110 §15.2: interim responses precede the final one on the same connection; skip them.
      this.startHead()
      return CONTINUE
    }
    // RFC 9112 §6.3, in order.
    let kind: BodyKind
    const cl = this.cl
    const te = this.te
    // RFC 9112 §6.3 (3) says such a message "ought to be handled as an error"; llhttp rejects it even where the status
    // or the request method leaves no body to frame.
    if (te !== undefined && cl !== -1) {
      return this.fail("the response has both Transfer-Encoding and Content-Length (a request smuggling vector)")
    }
    if (this.noBody || status === 204 || status === 304) kind = BodyKind.None
    else if (te !== undefined) {
      if (te.length === 7 && this.versionMinor === 1 && te.toLowerCase() === "chunked") kind = BodyKind.Chunked
      else {
        const k = this.transferEncodingKind(te)
        if (k === FAILED) return FAILED
        kind = k
      }
    } else if (cl !== -1) kind = BodyKind.Length
    else kind = BodyKind.UntilClose
    this.bodyKind = kind
    this.contentLength = kind === BodyKind.Length ? cl : -1
    this.keepAlive = kind !== BodyKind.UntilClose && !this.connClose &&
      (this.versionMinor === 1 || this.connKeepAlive)
    let done = false
    if (kind === BodyKind.Length) {
      this.remaining = cl
      this.state = S_LENGTH
      done = cl === 0
    } else if (kind === BodyKind.Chunked) this.state = S_CHUNK_SIZE
    else if (kind === BodyKind.UntilClose) this.state = S_UNTIL_CLOSE
    else done = true
    this.handler.onHead(status, this.reason, this.versionMinor, this.fields)
    if (!done) return CONTINUE
    this.complete(0, NO_TRAILERS)
    return COMPLETE
  }

  /** The body kind a Transfer-Encoding other than a plain "chunked" gives, setting `transferCodings`; or FAILED. */
  private transferEncodingKind(te: string): BodyKind | typeof FAILED {
    // RFC 9112 §6.1: HTTP/1.0 has no chunked coding, so such framing cannot be trusted.
    if (this.versionMinor === 0) return this.fail("an HTTP/1.0 response has a Transfer-Encoding header field")
    const codings = transferCodings(te)
    if (codings === undefined) {
      return this.fail(
        `Transfer-Encoding ${quote(te)} applies chunked more than once or before another coding ` +
          "(RFC 9112 §6.1 allows it once, last)"
      )
    }
    let kind: BodyKind = BodyKind.UntilClose
    // RFC 9112 §6.3 (4): when chunked is not the last coding, the body ends when the connection closes.
    if (codings.length !== 0 && codings[codings.length - 1] === "chunked") {
      kind = BodyKind.Chunked
      codings.pop()
    }
    if (codings.length !== 0) this.transferCodings = codings
    return kind
  }

  private chunkSizeLine(buf: Buffer, start: number, end: number): number {
    // RFC 9112 §7.1: chunk-size = 1*HEXDIG, then chunk extensions, which are checked and skipped.
    let i = start
    let size = 0
    for (; i < end; i++) {
      const c = buf[i]!
      let d: number
      if (c >= 48 && c <= 57) d = c - 48
      else {
        const l = c | 0x20
        if (l >= 97 && l <= 102) d = l - 87
        else break
      }
      size = size * 16 + d
      if (size > Number.MAX_SAFE_INTEGER) return this.fail(`chunk size too large: ${excerpt(buf, start, end)}`)
    }
    // No whitespace after the size: RFC 9112 §7.1.1 calls it BWS, but it has split parsers on where a chunk ends,
    // and llhttp rejects it too.
    if (i === start || (i < end && buf[i] !== 59)) {
      return this.fail(`invalid chunk size line ${excerpt(buf, start, end)}`)
    }
    if (i < end && !chunkExtensionsOk(buf, i, end)) {
      return this.fail(`invalid chunk extension in chunk size line ${excerpt(buf, start, end)}`)
    }
    if (size === 0) {
      this.state = S_TRAILERS
      // Made only for a trailer section, and not as a literal (see `reset`).
      this.trailers = EMPTY_LIST.slice()
      this.sectionBytes = 0
    } else {
      this.remaining = size
      this.state = S_CHUNK_DATA
    }
    return CONTINUE
  }

  private trailerLine(buf: Buffer, start: number, end: number): number {
    if (start === end) {
      this.complete(0, this.trailers)
      return COMPLETE
    }
    const trailers = this.trailers
    const err = this.parseField(buf, start, end, trailers, "trailer", false)
    if (err !== undefined) return this.fail(err)
    // RFC 9110 §6.5.1: framing fields mean nothing after the body; llhttp rejects these two, and so do we.
    const name = trailers[trailers.length - 2]!
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      return this.fail("a Content-Length field in the trailer section of a chunked body")
    }
    if (name.length === 17 && trailers[trailers.length - 1] === "" && name.toLowerCase() === "transfer-encoding") {
      return this.fail(EMPTY_TRANSFER_ENCODING)
    }
    return CONTINUE
  }

  /** Parses one field line into `out`; returns an error message instead when the line is malformed. */
  private parseField(
    buf: Buffer,
    start: number,
    end: number,
    out: Array<string>,
    kind: string,
    first: boolean
  ): string | undefined {
    const c0 = buf[start]
    if (c0 === 32 || c0 === 9) {
      // RFC 9112 §2.2 and §5.2: whitespace after the start line, or obs-fold, must be rejected or dropped; a peer that
      // unfolds it differently would see different fields, so we reject.
      return first
        ? "whitespace between the status line and the first header field"
        : `obsolete line folding (a ${kind} field line starting with whitespace)`
    }
    let i = start
    while (i < end && TCHAR[buf[i]!] === 1) i++
    if (i === end) return `${kind} field line without a colon: ${excerpt(buf, start, end)}`
    const c = buf[i]!
    if (c !== 58) {
      if (c === 32 || c === 9) {
        let colon = i
        while (colon < end && buf[colon] !== 58) colon++
        // RFC 9112 §5.1: whitespace before the colon has been used to make proxies and origins see different names.
        if (colon < end) return `whitespace between ${kind} field name and colon: ${excerpt(buf, start, colon + 1)}`
        return `${kind} field line without a colon: ${excerpt(buf, start, end)}`
      }
      return `invalid character ${escapeByte(c)} in ${kind} field name ${excerpt(buf, start, i)}`
    }
    if (i === start) return `empty ${kind} field name`
    let vs = i + 1
    let ve = end
    while (vs < ve && (buf[vs] === 32 || buf[vs] === 9)) vs++
    while (ve > vs && (buf[ve - 1] === 32 || buf[ve - 1] === 9)) ve--
    for (let j = vs; j < ve; j++) {
      const b = buf[j]!
      // RFC 9110 §5.5: field-value = *( VCHAR / obs-text / SP / HTAB ); CR, LF and NUL are never valid, and llhttp
      // rejects the other controls too. The value itself stays out of the message: it may be a cookie or a token.
      // Spelled out rather than isControl(b): this loop runs for every byte of every value.
      if ((b < 32 && b !== 9) || b === 127) {
        return `${controlName(b)} in the value of ${kind} field ${excerpt(buf, start, i)}`
      }
    }
    out.push(this.latin1(buf, start, i), vs === ve ? "" : this.latin1(buf, vs, ve))
    return undefined
  }
}

function versionOk(buf: Buffer, start: number, end: number): boolean {
  if (end - start < 9) return false
  const minor = buf[start + 7]
  return buf[start] === 72 && buf[start + 1] === 84 && buf[start + 2] === 84 && buf[start + 3] === 80 &&
    buf[start + 4] === 47 && buf[start + 5] === 49 && buf[start + 6] === 46 && (minor === 48 || minor === 49) &&
    buf[start + 8] === 32
}

/** Whether an incomplete first line could still become "HTTP/1.0 " or "HTTP/1.1 ". */
function versionPrefixPossible(buf: Buffer, len: number): boolean {
  const expected = "HTTP/1.x "
  for (let i = 0; i < len && i < expected.length; i++) {
    const c = buf[i]
    if (i === 7 ? c !== 48 && c !== 49 : c !== expected.charCodeAt(i)) return false
  }
  return true
}

function versionError(buf: Buffer, start: number, end: number): string {
  const expected = `expected an HTTP/1.0 or HTTP/1.1 status line, received ${excerpt(buf, start, end)}`
  return isTlsRecord(buf, start, end)
    ? `the server answered with TLS, not plain HTTP: use https:// for this port (${expected})`
    : expected
}

/**
 * Whether the bytes start a TLS record (RFC 8446 §5.1): an alert (21) or a handshake (22), version 3.x, which is what
 * a TLS server sends to a client that spoke plain HTTP to it.
 */
function isTlsRecord(buf: Buffer, start: number, end: number): boolean {
  return end - start >= 2 && (buf[start] === 21 || buf[start] === 22) && buf[start + 1] === 3
}

/** Returns the value, or -1 when it is not 1*DIGIT, or -2 when it is above Number.MAX_SAFE_INTEGER. */
function parseDecimal(s: string): number {
  const len = s.length
  if (len === 0) return -1
  let n = 0
  for (let i = 0; i < len; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
    if (n > Number.MAX_SAFE_INTEGER) return -2
  }
  return n
}

function invalidContentLength(value: string, code: number): string {
  const shown = quote(value)
  return code === -2 ? `Content-Length is too large: ${shown}` : `invalid Content-Length: ${shown}`
}

function duplicateContentLength(values: Array<number>): string {
  const all = values.join(", ")
  for (const v of values) if (v !== values[0]) return `conflicting Content-Length values (${all})`
  return `repeated Content-Length (${all}); exactly one value is required`
}

/**
 * The codings of a Transfer-Encoding list, lowercase, in the order applied; undefined when chunked is applied twice
 * or before another coding (RFC 9112 §6.1). Empty list elements are ignored as RFC 9110 §5.6.1 asks.
 */
function transferCodings(te: string): Array<string> | undefined {
  const codings: Array<string> = []
  for (const element of te.split(",")) {
    const coding = trimOws(element).toLowerCase()
    if (coding === "") continue
    if (codings.length !== 0 && codings[codings.length - 1] === "chunked") return undefined
    codings.push(coding)
  }
  return codings
}

/**
 * Whether buf[i, end) is chunk extensions as RFC 9112 §7.1.1 has them, without BWS (llhttp rejects it too):
 * *( ";" token [ "=" ( token / quoted-string ) ] ).
 */
function chunkExtensionsOk(buf: Buffer, i: number, end: number): boolean {
  while (i < end) {
    if (buf[i] !== 59) return false
    const name = ++i
    while (i < end && TCHAR[buf[i]!] === 1) i++
    if (i === name) return false
    if (i === end || buf[i] !== 61) continue
    if (++i < end && buf[i] === 34) {
      i = quotedStringEnd(buf, i + 1, end)
      if (i === -1) return false
    } else {
      const value = i
      while (i < end && TCHAR[buf[i]!] === 1) i++
      if (i === value) return false
    }
  }
  return true
}

/** The offset after the closing DQUOTE of a quoted-string (RFC 9110 §5.6.4) whose content starts at i, or -1. */
function quotedStringEnd(buf: Buffer, i: number, end: number): number {
  while (i < end) {
    const c = buf[i++]!
    if (c === 34) return i
    if (c === 92) {
      if (i === end) return -1
      if (isControl(buf[i++]!)) return -1
    } else if (isControl(c)) return -1
  }
  return -1
}

/** Trims SP and HTAB only: String.prototype.trim also drops characters like U+00A0 that a peer would keep. */
function trimOws(s: string): string {
  let a = 0
  let b = s.length
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--
  return a === 0 && b === s.length ? s : s.slice(a, b)
}

function excerpt(buf: Buffer, start: number, end: number): string {
  const truncated = end - start > EXCERPT
  return quote(buf.toString("latin1", start, truncated ? start + EXCERPT : end), truncated)
}

/** A latin1 string quoted for an error message, cut at EXCERPT characters, control and non-ASCII bytes escaped. */
function quote(s: string, truncated = false): string {
  let out = "\""
  const n = Math.min(s.length, EXCERPT)
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c === 34 || c === 92) out += "\\" + s[i]
    else if (c >= 32 && c < 127) out += s[i]
    else out += escapeCode(c)
  }
  return out + (truncated || s.length > EXCERPT ? "…\"" : "\"")
}

function escapeCode(c: number): string {
  if (c === 13) return "\\r"
  if (c === 10) return "\\n"
  if (c === 9) return "\\t"
  return "\\x" + c.toString(16).padStart(2, "0")
}

/** A control character other than HTAB: outside VCHAR, obs-text, SP and HTAB (RFC 9110 §5.5, §5.6.4). */
function isControl(c: number): boolean {
  return (c < 32 && c !== 9) || c === 127
}

function controlName(c: number): string {
  return c === 0 ? "NUL" : c === 13 ? "bare CR" : `control character ${escapeByte(c)}`
}

function escapeByte(c: number | undefined): string {
  const code = c ?? 0
  return code > 32 && code < 127 && code !== 34 && code !== 92
    ? "\"" + String.fromCharCode(code) + "\""
    : "\"" + escapeCode(code) + "\""
}
