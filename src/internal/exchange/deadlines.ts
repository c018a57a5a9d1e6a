/**
 * The one place an exchange's deadlines are armed and cleared: the total timeout (from checkout to the last body
 * byte, or to the head of a streaming response), the wait for a pooled connection, and the phase timer a
 * connection times each exchange's connect, write, head and read phases with.
 *
 * Expiry callbacks are module functions handed the exchange as a timer argument, so arming a deadline allocates the
 * timer and nothing else: no closure per request.
 */
import { RequestTimeout } from "../../HttpError.js"
import type * as HttpError from "../../HttpError.js"
import type { Timeouts } from "../core/timeouts.js"

type Timer = ReturnType<typeof setTimeout>

/** An exchange, as its deadlines see it. */
export interface Timed {
  readonly method: string
  readonly target: { readonly href: string }
  readonly timeouts: Timeouts
  readonly requestInfo: HttpError.RequestInfo
  /** the total timeout, while armed */
  totalTimer: Timer | undefined
  /** the wait for a pooled connection, while armed */
  poolTimer: Timer | undefined
  /** The total timeout passed: the exchange ends with `error`. */
  timedOut(error: HttpError.HttpError): void
}

/** The error of a request that took longer than its total timeout of `ms`. */
const totalTimeoutError = (request: HttpError.RequestInfo, ms: number): RequestTimeout =>
  new RequestTimeout({
    message: `${request.method} ${request.url} did not complete within the total timeout of ${ms} ms`,
    request
  })

/** Start the total timeout, once: arming it again while it runs does nothing. */
export const armTotal = (exchange: Timed): void => {
  const total = exchange.timeouts.total
  if (total > 0 && exchange.totalTimer === undefined) exchange.totalTimer = setTimeout(totalPassed, total, exchange)
}

const totalPassed = (exchange: Timed): void => {
  exchange.totalTimer = undefined
  exchange.timedOut(totalTimeoutError(exchange.requestInfo, exchange.timeouts.total))
}

export const clearTotal = (exchange: Timed): void => {
  const timer = exchange.totalTimer
  if (timer !== undefined) {
    exchange.totalTimer = undefined
    clearTimeout(timer)
  }
}

/**
 * Start the wait for a pooled connection (`timeouts.pool`; none when that is 0). `expired` is the owner's: it knows
 * why nothing became free, and takes the exchange out of its queue.
 */
export const armPoolWait = (exchange: Timed, expired: () => void): void => {
  const ms = exchange.timeouts.pool
  if (ms > 0) exchange.poolTimer = setTimeout(poolWaitPassed, ms, exchange, expired)
}

const poolWaitPassed = (exchange: Timed, expired: () => void): void => {
  exchange.poolTimer = undefined
  expired()
}

export const clearPoolWait = (exchange: Timed): void => {
  const timer = exchange.poolTimer
  if (timer !== undefined) {
    exchange.poolTimer = undefined
    clearTimeout(timer)
  }
}

/** Every deadline of the exchange cleared: it ended, and nothing may fire for it any more. */
export const clearDeadlines = (exchange: Timed): void => {
  clearTotal(exchange)
  clearPoolWait(exchange)
}

/** `ms` of a timer running `delay`'s action: never refreshed by `arm`, nor left running by it. */
const DELAY = -1

/**
 * One Node timer timing one phase at a time (connect, write, read, idle …) for a connection or a stream. It is
 * refreshed rather than recreated while the duration repeats: a keep-alive connection arms it for every request, so
 * this keeps timer allocation off the hot path.
 */
export class PhaseTimer {
  /** the phase being timed; 0 when none */
  kind = 0
  /** the duration last armed, in ms, for messages */
  ms = 0
  private timer: Timer | undefined = undefined
  private readonly fire: () => void

  constructor(onFire: (kind: number) => void) {
    this.fire = () => {
      const kind = this.kind
      this.timer = undefined
      this.kind = 0
      // 0: suspended (see `suspend`), and not armed again in time
      if (kind !== 0) onFire(kind)
    }
  }

  /**
   * Time `kind` for `ms`; 0 or less means no limit for that phase. A phase without a limit suspends the timer rather
   * than clearing it: a connection with no read timeout still arms its keep-alive expiry after every response, and
   * would otherwise allocate a timer per request for it.
   */
  arm(kind: number, ms: number): void {
    this.kind = kind
    if (ms <= 0) return this.ms === DELAY ? this.disarm() : this.suspend()
    if (this.timer !== undefined && this.ms === ms) {
      this.timer.refresh()
      return
    }
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(this.fire, ms)
    this.timer.unref()
    this.ms = ms
  }

  /** Restart the countdown of the current phase: bytes moved. */
  refresh(): void {
    this.timer?.refresh()
  }

  /**
   * Stop timing for now, when the same phase is likely to be armed again soon (a reader that paused the socket
   * between its reads): the timer stays scheduled and firing does nothing, so that arming it again refreshes it
   * instead of allocating a new one. `disarm` for good, when whatever `onFire` reaches may be let go.
   */
  suspend(): void {
    this.kind = 0
  }

  disarm(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    this.kind = 0
  }

  /** Run `action` once after `ms`, in place of any phase (a backoff between connect attempts). */
  delay(ms: number, action: () => void): void {
    this.disarm()
    this.ms = DELAY
    this.timer = setTimeout(() => {
      this.timer = undefined
      action()
    }, ms)
  }
}
