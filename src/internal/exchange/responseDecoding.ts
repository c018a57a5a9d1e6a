/**
 * Undoing the response body's codings as its bytes arrive (zlib, through `BodyDecoder`): which codings a response
 * has, starting and stopping the decoder, and taking its output into the body queue. The body of a response read as
 * a stream is decoded by the reader instead (see `StreamingBase`), unless it is read whole.
 */
import type * as HttpError from "../../HttpError.js"
import { unsupportedError } from "../wire/bodyDecoding.js"
import { BodyDecoder, bodyCodings, unsupportedCoding } from "../wire/decoding.js"
import { findHeader } from "../message/response.js"
import { addChunk, takeQueued } from "./bodyQueue.js"
import type { BodyQueue } from "./bodyQueue.js"

/** The fields of an exchange that decode its body. */
export interface Decoding extends BodyQueue {
  /** every coding of the body to undo, content codings first (see `bodyCodings`); undefined when there are none */
  codings: Array<string> | undefined
  /** the transfer codings of a body read until close, in the order applied (RFC 9112 §6.1) */
  transferCodings: ReadonlyArray<string>
  /** decodes a body read whole as its bytes arrive; `chunks` and `size` then hold decoded bytes */
  decoder: BodyDecoder | undefined
  /** why `codings` cannot be undone: the body is read as it is, and its reader gets a DecodingError */
  codingProblem: string | undefined
  readonly requestInfo: HttpError.RequestInfo
  /** zlib moved on: its output is to be taken (see `takeDecoded`). */
  decoderChanged(): void
}

/** Note the codings of a response with this head; answers whether it has any. */
export const findCodings = (
  exchange: Decoding,
  rawHeaders: ReadonlyArray<string>,
  transferCodings: ReadonlyArray<string>
): boolean => {
  const contentEncoding = findHeader(rawHeaders, "content-encoding")
  if (contentEncoding === undefined && transferCodings.length === 0) return false
  exchange.transferCodings = transferCodings
  return (exchange.codings = bodyCodings(contentEncoding, transferCodings)) !== undefined
}

/**
 * Decode the body as it arrives, from the raw bytes queued so far on. False when its codings cannot be undone
 * here: it is then read as it is, and its reader gets a DecodingError.
 */
export const startDecoding = (exchange: Decoding): boolean => {
  const problem = unsupportedCoding(exchange.codings!)
  if (problem !== undefined) {
    exchange.codingProblem = problem
    return false
  }
  // Made only for a body with codings, so the closure is no cost to the common response.
  const decoder = exchange.decoder = new BodyDecoder(exchange.codings!, () => exchange.decoderChanged())
  const queued = takeQueued(exchange)
  for (let i = 0; i < queued.length; i++) decoder.write(queued[i]!)
  return true
}

/**
 * Move the decoder's output into the body queue, as long as the body stays within `limit`: false when it would
 * pass it.
 */
export const takeDecoded = (exchange: Decoding, decoder: BodyDecoder, limit: number): boolean => {
  const out = decoder.take()
  if (out === undefined) return true
  for (let i = 0; i < out.length; i++) {
    const chunk = out[i]!
    if (exchange.size + chunk.length > limit) return false
    addChunk(exchange, chunk)
  }
  return true
}

/** Free the decoder's zlib streams at once (interrupted, failed, timed out, closed); true if there was one. */
export const stopDecoding = (exchange: Decoding): boolean => {
  const decoder = exchange.decoder
  if (decoder === undefined) return false
  exchange.decoder = undefined
  decoder.destroy()
  return true
}

/** The error a reader of a body whose codings cannot be undone gets; undefined when they can. */
export const undecodable = (exchange: Decoding): HttpError.HttpError | undefined =>
  exchange.codingProblem === undefined ? undefined : unsupportedError(exchange.requestInfo, exchange.codingProblem)
