/**
 * The one rule both protocols use to send a request again on another connection after its connection failed under
 * it: HTTP/1.1's stale keep-alive, HTTP/2's session failure on a reused session, REFUSED_STREAM (GOAWAY) and
 * ENHANCE_YOUR_CALM.
 */
import { describe, expect, it } from "@effect/vitest"
import { mayResend, Reason } from "../../src/internal/connection/resend.js"

/** One case: why, the method, the body, what was received, the connection, earlier resends, and the answer. */
type Row = readonly [Reason, string, boolean, boolean, boolean, boolean, boolean]

// The columns' values, named.
const replayable = true
const streamed = false
const nothing = true
const some = false
const reused = true
const fresh = false
const first = false
const again = true
const resend = true
const fail = false

const table: ReadonlyArray<Row> = [
  // A stale keep-alive connection (HTTP/1.1) or session (HTTP/2).
  [Reason.Stale, "GET", replayable, nothing, reused, first, resend],
  [Reason.Stale, "PUT", replayable, nothing, reused, first, resend],
  [Reason.Stale, "POST", replayable, nothing, reused, first, fail],
  [Reason.Stale, "GET", streamed, nothing, reused, first, fail],
  [Reason.Stale, "GET", replayable, some, reused, first, fail],
  [Reason.Stale, "GET", replayable, nothing, reused, again, fail],
  // A new connection that breaks is no stale one.
  [Reason.Stale, "GET", replayable, nothing, fresh, first, fail],
  // REFUSED_STREAM: the server promised it did not process the request, whatever the method.
  [Reason.Refused, "POST", replayable, nothing, fresh, first, resend],
  [Reason.Refused, "GET", replayable, some, reused, first, resend],
  [Reason.Refused, "POST", streamed, nothing, fresh, first, fail],
  [Reason.Refused, "GET", replayable, nothing, fresh, again, fail],
  // ENHANCE_YOUR_CALM: an idempotent request with nothing received goes again, on a new connection too.
  [Reason.Calm, "GET", replayable, nothing, fresh, first, resend],
  [Reason.Calm, "DELETE", replayable, nothing, reused, first, resend],
  [Reason.Calm, "PATCH", replayable, nothing, fresh, first, fail],
  [Reason.Calm, "GET", replayable, some, fresh, first, fail],
  [Reason.Calm, "GET", streamed, nothing, fresh, first, fail],
  [Reason.Calm, "GET", replayable, nothing, fresh, again, fail]
]

const reasonName = (reason: Reason): string => ["Refused", "Stale", "Calm"][reason]!

describe("mayResend", () => {
  for (const [reason, method, bodyReplayable, nothingReceived, connectionReused, resentOnce, expected] of table) {
    const name = `${reasonName(reason)} ${method}: ${bodyReplayable ? "replayable" : "streamed"} body, ` +
      `${nothingReceived ? "nothing" : "something"} received, ${connectionReused ? "reused" : "new"} connection, ` +
      `${resentOnce ? "resent once already" : "first attempt"} → ${expected ? "resend" : "fail"}`
    it(name, () => {
      const request = { method, streamBody: !bodyReplayable, retried: resentOnce }
      expect(mayResend(request, reason, !nothingReceived, connectionReused)).toBe(expected)
    })
  }
})
