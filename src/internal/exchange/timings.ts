/**
 * Where an exchange's time went (`Response.timings`). The pool, the connect step and the connections read
 * `performance.now()` (monotonic, sub-millisecond) at phase boundaries they pass anyway and store the readings as
 * plain numbers on the exchange; the Durations are made of them only when someone reads `timings`, so a request
 * whose timings nobody reads allocates nothing for them.
 *
 * The boundaries, in order: the request reaches the pool (`startedAt`); it is given a connection, or one starts
 * opening for it (`checkoutAt`); that connection is open (`Opened`, for the request it was opened for); the last
 * request byte is with the socket (`sentAt`); the response head is in (`headAt`); the body is done (`doneAt`).
 */
import * as Duration from "effect/Duration"
import type { Timings } from "../core/model.js"

/**
 * How long opening a connection took, in ms, phase by phase: made once per connection by the connect step, and
 * kept by the exchange the connection was opened for.
 */
export class Opened {
  constructor(
    readonly dns: number,
    readonly connect: number,
    readonly tls: number,
    /** when the connection was ready for the request, on `performance.now()`'s clock */
    readonly readyAt: number
  ) {}
}

/** An exchange's clock readings, in ms on `performance.now()`'s clock; 0: that boundary was not (yet) passed. */
export interface Marks {
  readonly startedAt: number
  readonly checkoutAt: number
  /** the connection was opened for this request (undefined: it was reused, or none was opened) */
  readonly opened: Opened | undefined
  readonly sentAt: number
  readonly headAt: number
  readonly doneAt: number
}

const duration = (ms: number): Duration.Duration => ms > 0 ? Duration.millis(ms) : Duration.zero

/** From `from` to `to`; zero when either was not passed, or they came in the other order. */
const between = (from: number, to: number): Duration.Duration =>
  from > 0 && to > from ? Duration.millis(to - from) : Duration.zero

/**
 * The phases of `marks` as Durations. Sending starts when the connection is ready: at checkout for a connection
 * that was open already, once open for the one opened for this request.
 */
export const timingsOf = (marks: Marks): Timings => {
  const opened = marks.opened
  return {
    poolWait: between(marks.startedAt, marks.checkoutAt),
    dns: opened === undefined ? Duration.zero : duration(opened.dns),
    connect: opened === undefined ? Duration.zero : duration(opened.connect),
    tls: opened === undefined ? Duration.zero : duration(opened.tls),
    send: between(opened === undefined ? marks.checkoutAt : opened.readyAt, marks.sentAt),
    firstByte: between(marks.sentAt, marks.headAt),
    download: between(marks.headAt, marks.doneAt)
  }
}
