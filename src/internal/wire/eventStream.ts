/**
 * The event stream format (WHATWG HTML, "Server-sent events" §9.2.6, "Interpreting an event stream"): body bytes in,
 * events out, a chunk at a time, whatever the chunks' boundaries. Plain synchronous code, one parser per `sse` call.
 */

/**
 * One event of an event stream (`client.sse`), as the WHATWG rules dispatch it on a blank line.
 *
 * @since 0.3.0
 * @category models
 */
export interface ServerSentEvent {
  /** the last `event:` field of its block; "message" when it had none */
  readonly event: string
  /** its `data:` fields joined with "\n" */
  readonly data: string
  /** the last event ID when it was dispatched: the last `id:` field seen, in its block or before, on any connection */
  readonly id: string
  /** the reconnection time in milliseconds its block's `retry:` field set, when it set one */
  readonly retry?: number
}

/**
 * The longest line, and the most data one event may gather, when the client and the call set no `limits.maxBodySize`
 * (counted in characters, which never outnumber the bytes they came as).
 */
export const DEFAULT_MAX_EVENT_SIZE = 8 * 1024 * 1024

const LF = 10
const CR = 13
const SPACE = 32

/** Is `value` one or more ASCII digits (the only `retry:` value the WHATWG rules take)? */
const isDigits = (value: string): boolean => {
  if (value.length === 0) return false
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code < 48 || code > 57) return false
  }
  return true
}

export class EventStreamParser {
  /** the last event ID string: set from the ID buffer when a block is dispatched, kept across connections */
  lastEventId: string
  /** the reconnection time the server's last `retry:` field set, in milliseconds */
  retry: number | undefined = undefined
  /** what passed `maxEventSize`, once one did: the parser then takes nothing more */
  tooLarge: "line" | "event" | undefined = undefined
  // A leading BOM is dropped by the decoder once, at its stream's start; a new decoder for each connection.
  private decoder = new TextDecoder("utf-8")
  /** the start of a line whose end has not come yet */
  private pending = ""
  /** the last chunk ended with CR: an LF starting the next one belongs to that line end */
  private skipLF = false
  private data = ""
  private eventType = ""
  private idBuffer: string
  /** the `retry:` of the block being read, for its event */
  private blockRetry: number | undefined = undefined

  constructor(readonly maxEventSize: number, lastEventId = "") {
    this.lastEventId = lastEventId
    this.idBuffer = lastEventId
  }

  /**
   * A connection starts: its body is a new stream (a BOM may lead it), and what the last one left undispatched, an
   * `id:` included, is dropped (an event is dispatched only on a blank line).
   */
  reset(): void {
    this.decoder = new TextDecoder("utf-8")
    this.pending = ""
    this.skipLF = false
    this.data = ""
    this.eventType = ""
    this.idBuffer = this.lastEventId
    this.blockRetry = undefined
  }

  /** Parse the next bytes of the body, adding what they complete to `out`. */
  push(bytes: Uint8Array, out: Array<ServerSentEvent>): void {
    if (this.tooLarge !== undefined) return
    const text = this.decoder.decode(bytes, { stream: true })
    const length = text.length
    let position = 0
    if (this.skipLF && length > 0) {
      this.skipLF = false
      if (text.charCodeAt(0) === LF) position = 1
    }
    // The next CR and LF at or after `position`; -1 once there is none left in this text.
    let cr = text.indexOf("\r", position)
    let lf = text.indexOf("\n", position)
    while (position < length) {
      if (cr >= 0 && cr < position) cr = text.indexOf("\r", position)
      if (lf >= 0 && lf < position) lf = text.indexOf("\n", position)
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf)
      if (end < 0) {
        this.pending = this.pending.length === 0 ? text.slice(position) : this.pending + text.slice(position)
        if (this.pending.length > this.maxEventSize) this.tooLarge = "line"
        return
      }
      const piece = text.slice(position, end)
      const line = this.pending.length === 0 ? piece : this.pending + piece
      this.pending = ""
      if (text.charCodeAt(end) === CR) {
        if (end + 1 === length) this.skipLF = true
        position = end + 1 < length && text.charCodeAt(end + 1) === LF ? end + 2 : end + 1
      } else {
        position = end + 1
      }
      if (line.length > this.maxEventSize) {
        this.tooLarge = "line"
        return
      }
      this.line(line, out)
      if (this.tooLarge !== undefined) return
    }
  }

  private line(line: string, out: Array<ServerSentEvent>): void {
    if (line.length === 0) return this.dispatch(out)
    const colon = line.indexOf(":")
    if (colon === 0) return
    let field: string
    let value: string
    if (colon < 0) {
      field = line
      value = ""
    } else {
      field = line.slice(0, colon)
      value = line.slice(line.charCodeAt(colon + 1) === SPACE ? colon + 2 : colon + 1)
    }
    switch (field) {
      case "data":
        if (this.data.length + value.length + 1 > this.maxEventSize) {
          this.tooLarge = "event"
          return
        }
        this.data = this.data.length === 0 ? value + "\n" : this.data + value + "\n"
        return
      case "event":
        this.eventType = value
        return
      case "id":
        if (value.indexOf("\0") < 0) this.idBuffer = value
        return
      case "retry":
        if (isDigits(value)) this.retry = this.blockRetry = parseInt(value, 10)
        return
    }
  }

  private dispatch(out: Array<ServerSentEvent>): void {
    this.lastEventId = this.idBuffer
    const retry = this.blockRetry
    this.blockRetry = undefined
    const data = this.data
    const event = this.eventType.length === 0 ? "message" : this.eventType
    this.data = ""
    this.eventType = ""
    if (data.length === 0) return
    const id = this.lastEventId
    // The data buffer's last LF is not part of the data.
    out.push(
      retry === undefined
        ? { event, data: data.slice(0, -1), id }
        : { event, data: data.slice(0, -1), id, retry }
    )
  }
}
