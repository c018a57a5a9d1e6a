/**
 * The client's one retry policy, for each hop on its own: which requests may go again (idempotent methods, RFC 9110
 * §9.2.2, with a body that can be sent again), after which failures (a transport error, not a request that could
 * not be made) and answers (429 and 503 by default, honouring Retry-After, RFC 9110 §10.2.3), and how long to wait
 * (the schedule). Each attempt goes down the rest of the pipeline again, so it carries the cookies of the jar as it
 * is then.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Schedule from "effect/Schedule"
import * as HttpError from "../../HttpError.js"
import { isIdempotent } from "../core/methods.js"
import type { Request } from "../message/request.js"
import { findHeader } from "../message/response.js"
import type { Response, StreamingResponse } from "../message/response.js"
import * as Transport from "../transport/transport.js"

/**
 * Retries of idempotent requests on transport errors and on 429/503 (honouring a Retry-After up to `maxRetryAfter`,
 * 60 seconds unless the object form says otherwise): a count with exponential backoff, or any Schedule.
 *
 * @since 0.1.0
 * @category models
 */
export type RetryPolicy =
  | number
  | {
    readonly times: number
    /** first delay [0.5 seconds], doubled at each retry */
    readonly backoff?: Duration.DurationInput | undefined
    /** statuses to retry [429, 503] */
    readonly statuses?: ReadonlyArray<number> | undefined
    /** the longest Retry-After waited for [60 seconds]: a longer one returns the response as it is, at once */
    readonly maxRetryAfter?: Duration.DurationInput | undefined
  }
  | Schedule.Schedule<unknown, unknown>
import { flatOf } from "./cookies.js"

export interface RetrySettings {
  readonly schedule: Schedule.Schedule<unknown, unknown>
  readonly statuses: ReadonlySet<number>
  /** milliseconds: a longer Retry-After is not waited for */
  readonly maxRetryAfter: number
}

const DEFAULT_STATUSES: ReadonlyArray<number> = [429, 503]
const DEFAULT_MAX_RETRY_AFTER = 60_000

/** The policy of the `retry` option; undefined when it retries nothing. */
export const toRetryPolicy = (input: RetryPolicy | undefined): RetrySettings | undefined => {
  if (input === undefined) return undefined
  if (Schedule.isSchedule(input)) {
    return { schedule: input, statuses: new Set(DEFAULT_STATUSES), maxRetryAfter: DEFAULT_MAX_RETRY_AFTER }
  }
  const times = typeof input === "number" ? input : input.times
  if (times <= 0) return undefined
  const backoff = typeof input === "number" ? undefined : input.backoff
  const statuses = typeof input === "number" ? undefined : input.statuses
  const maxRetryAfter = typeof input === "number" ? undefined : input.maxRetryAfter
  return {
    schedule: Schedule.intersect(Schedule.exponential(backoff ?? "500 millis", 2), Schedule.recurs(times)),
    statuses: new Set(statuses ?? DEFAULT_STATUSES),
    maxRetryAfter: maxRetryAfter === undefined
      ? DEFAULT_MAX_RETRY_AFTER
      : Duration.toMillis(Duration.decode(maxRetryAfter))
  }
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; milliseconds from now. */
const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const date = Date.parse(trimmed)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

/** A failure on the way (connect, read, write, a timeout, a peer that broke HTTP), not a request that cannot work. */
const retryableError = (error: HttpError.HttpError) =>
  HttpError.isTransportError(error) && error._tag !== "LocalProtocolError" && error._tag !== "UnsupportedProtocol"

const mayRetry = (request: Request): boolean =>
  isIdempotent(request.method) && !(request.body._tag === "Stream" && !request.body.replayable)

type Sent = Response | StreamingResponse

const release = (response: Sent): Effect.Effect<void> =>
  "close" in response && Effect.isEffect((response as StreamingResponse).close)
    ? (response as StreamingResponse).close
    : Effect.void

const attempts = <A extends Sent, R>(
  policy: RetrySettings,
  once: Effect.Effect<A, HttpError.HttpError, R>
): Effect.Effect<A, HttpError.HttpError, R> =>
  Effect.flatMap(Schedule.driver(policy.schedule), (driver) => {
    const attempt: Effect.Effect<A, HttpError.HttpError, R> = Effect.flatMap(Effect.either(once), (result) => {
      if (Either.isLeft(result)) {
        if (!retryableError(result.left)) return Effect.fail(result.left)
        return Effect.matchEffect(driver.next(result.left), {
          onFailure: () => Effect.fail(result.left),
          onSuccess: () => attempt
        })
      }
      const response = result.right
      if (!policy.statuses.has(response.status)) return Effect.succeed(response)
      // The HTTP-date form is read against Effect's clock, as the wait is slept on it (TestClock moves both).
      return Effect.flatMap(Clock.currentTimeMillis, (before) => {
        const wait = parseRetryAfter(findHeader(flatOf(response), "retry-after"), before)
        // A server asking for a day (or a year) is not waited on: the caller gets its answer now, and decides.
        if (wait !== undefined && wait > policy.maxRetryAfter) return Effect.succeed(response)
        // The server's Retry-After is the wait, not an addition to the backoff: sleep whatever of it the schedule's
        // own delay has not covered.
        return Effect.matchEffect(driver.next(response), {
          onFailure: () => Effect.succeed(response),
          onSuccess: () =>
            Effect.zipRight(
              release(response),
              wait === undefined ? attempt : Effect.flatMap(Clock.currentTimeMillis, (after) => {
                const rest = wait - (after - before)
                return rest > 0 ? Effect.zipRight(Effect.sleep(Duration.millis(rest)), attempt) : attempt
              })
            )
        })
      })
    })
    return attempt
  })

export const retry = (policy: RetrySettings) => (next: Transport.Transport): Transport.Transport => {
  const send = Transport.sendOf(next)
  return Transport.make(
    (request) =>
      mayRetry(request) ? attempts(policy, Effect.suspend(() => next.handle(request))) : next.handle(request),
    {
      send: (request) => mayRetry(request) ? attempts(policy, Effect.suspend(() => send(request))) : send(request)
    }
  )
}
