/**
 * The one rule for sending a request again on another connection after its connection failed under it, for
 * HTTP/1.1 and HTTP/2 alike. (The client's `retries` option is a different thing: it retries failed connects.)
 */
import type { Exchange } from "../exchange/exchange.js"
import { isIdempotent } from "../core/methods.js"
import type { ConnectionOwner } from "./connection.js"

/** Why the request might go again. */
export const enum Reason {
  /**
   * The peer promised it did not process the request: REFUSED_STREAM, which node:http2 also reports for streams
   * above a GOAWAY's last stream id (RFC 9113 §8.7).
   */
  Refused = 0,
  /**
   * A connection reused from the pool broke before any of the response arrived: the server closed it just as we
   * reused it (RFC 9112 §9.3.1). A new connection that breaks is no stale one: that failure is reported.
   */
  Stale = 1,
  /**
   * ENHANCE_YOUR_CALM before any of the response: newer nghttp2 answers a stream opened just after we reset another,
   * while the server still counts the reset one, with it instead of REFUSED_STREAM.
   */
  Calm = 2
}

/** What the rule looks at in a request. */
interface Resendable {
  readonly method: string
  /** its body is a Stream, consumed by the first attempt: it cannot be sent again */
  readonly streamBody: boolean
  /** it has been sent again once already */
  readonly retried: boolean
}

/**
 * Whether a request may go again, once: a replayable body, and either the peer's promise that it was not processed
 * or, for an idempotent method (RFC 9110 §9.2.2), nothing of the response received (`received` false; for `Stale`,
 * the connection was `reused`).
 */
export const mayResend = (
  request: Resendable,
  reason: Reason,
  received: boolean,
  reused: boolean
): boolean => {
  if (request.retried || request.streamBody) return false
  if (reason === Reason.Refused) return true
  if (received || (reason === Reason.Stale && !reused)) return false
  return isIdempotent(request.method)
}

/** Send the exchange again through `owner`, marking that its one resend is used. */
export const resend = (owner: ConnectionOwner, exchange: Exchange): void => {
  exchange.retried = true
  exchange.conn = undefined
  // Its timings are the attempt that answers: the connection opened for the first one is not this one's.
  exchange.opened = undefined
  owner.acquire(exchange)
}
