/**
 * The total timeout: one deadline for everything a call does (auth round trips, every redirect hop, retries and
 * their waits, reading a buffered body; for `stream`, until the head is in). Armed here only: the client's own pool
 * is made without one (`withoutTotal`), so no exchange arms it a second time.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { RequestTimeout } from "../../HttpError.js"
import type * as HttpError from "../../HttpError.js"
import type { Request } from "../message/request.js"
import * as Timeouts from "../core/timeouts.js"
import * as Transport from "../transport/transport.js"

/** Milliseconds, 0 for none: a request's `timeout: null` lifts every limit, the client's total included. */
const totalOf = (request: Request, client: Timeouts.Timeouts): number =>
  request.timeout === undefined
    ? client.total
    : request.timeout === null
    ? 0
    : Timeouts.resolve(request.timeout, client).total

const within = <A, R>(
  request: Request,
  client: Timeouts.Timeouts,
  effect: Effect.Effect<A, HttpError.HttpError, R>
): Effect.Effect<A, HttpError.HttpError, R> => {
  const total = totalOf(request, client)
  if (total <= 0) return effect
  return Effect.timeoutFail(effect, {
    duration: Duration.millis(total),
    onTimeout: () =>
      new RequestTimeout({
        message: `${request.method} ${request.url} did not complete within the total timeout of ${total} ms`,
        request: { method: request.method, url: request.url }
      })
  })
}

/** The step: `client` are the client's timeouts, which a request's own `timeout` is resolved against. */
export const timeout = (client: Timeouts.Timeouts) => (next: Transport.Transport): Transport.Transport => {
  const send = Transport.sendOf(next)
  return Transport.make((request) => within(request, client, next.handle(request)), {
    send: (request) => within(request, client, send(request))
  })
}
