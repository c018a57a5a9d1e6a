/**
 * The words every part of an exchange shares: what its waiting fiber waits for, the protocol its response came in
 * on, and how that fiber is resumed.
 */
import type * as Effect from "effect/Effect"

/** What the waiting fiber is waiting for. */
export const enum Phase {
  None = 0,
  /** connection checked out and the head written: the caller may now stream the request body */
  Ready = 1,
  /** the socket took the last written bytes (a streamed request body waits on this for backpressure) */
  Drain = 2,
  /** the response head */
  Head = 3,
  /** more body bytes, or the end */
  Chunk = 4,
  /** the whole buffered response */
  Complete = 5,
  /** the rest of a streaming response's body, decoded: what `read` waits for */
  Rest = 6,
  /** body bytes in the reader's own buffer (`runForEach` with `buffer`), or the end */
  Into = 7
}

/** The protocol a response came in on, as `Exchange.version` holds it. */
export const enum Version {
  /** @public the parser's minor version 0: set by number, never by name */
  Http10 = 0,
  Http11 = 1,
  Http2 = 2
}

export const versionNames = ["HTTP/1.0", "HTTP/1.1", "HTTP/2"] as const

/** The `resume` of the one `Effect.async` an exchange's fiber waits in. */
export type Resume = (effect: Effect.Effect<any, any>) => void
