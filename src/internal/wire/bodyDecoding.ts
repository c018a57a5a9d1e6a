/**
 * Bodies under limits: undoing a streamed body's codings one bounded step per pull, and the errors of a body that
 * is larger than it may be.
 */
import { constants as bufferConstants } from "node:buffer"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { DecodingError, ResponseTooLarge } from "../../HttpError.js"
import type * as HttpError from "../../HttpError.js"
import { BodyDecoder, unsupportedCoding } from "./decoding.js"

// ---- limits --------------------------------------------------------------------------------------------------------

let maxBuffer: number = bufferConstants.MAX_LENGTH

/** The largest buffer this platform allocates: a body read whole must fit in one. */
export const maxBufferSize = (): number => maxBuffer

/**
 * Internal, for tests only: pretend the platform's largest buffer is `bytes` (undefined: the real one again), so a
 * test can pass it with a few megabytes.
 */
export const unsafeSetMaxBufferSizeForTests = (bytes: number | undefined): void => {
  maxBuffer = bytes ?? bufferConstants.MAX_LENGTH
}

/**
 * The body of `request` passed `limit` bytes (`declared`: what its Content-Length announced, when that is how we
 * know). `limit` is the smaller of `limits.maxBodySize` (`configured`) and, for a body read whole, the platform's
 * largest buffer.
 */
export const responseTooLarge = (
  request: HttpError.RequestInfo,
  limit: number,
  configured: number,
  declared = -1
): ResponseTooLarge => {
  const what = declared >= 0
    ? `the response declares a body of ${declared} bytes (Content-Length), more than`
    : "the response body is larger than"
  const advice = limit < configured
    ? `${limit} bytes, the largest buffer this platform can allocate; read the body as a stream ` +
      "(response.stream or runForEach) rather than whole"
    : `limits.maxBodySize (${limit} bytes); raise limits.maxBodySize to accept it`
  return new ResponseTooLarge({
    message: `${request.method} ${request.url}: ${what} ${advice}`,
    request,
    limit
  })
}

// ---- decoding a stream -----------------------------------------------------------------------------------------------

/** A decoder's failure, for people. */
export const decodingError = (
  request: HttpError.RequestInfo,
  failure: NonNullable<BodyDecoder["failure"]>
): DecodingError =>
  new DecodingError({
    message: failure.internal
      ? `Decoding the body of ${request.method} ${request.url} failed on an internal error: ${failure.error.message}`
      : `The body of ${request.method} ${request.url} is not valid ${failure.coding}: ${failure.error.message}`,
    request,
    cause: failure.error
  })

export const unsupportedError = (request: HttpError.RequestInfo, reason: string): DecodingError =>
  new DecodingError({ message: `Cannot decode the body of ${request.method} ${request.url}: ${reason}`, request })

type Pull<A, E> = Effect.Effect<Chunk.Chunk<A>, Option.Option<E>>

/**
 * The decoded body: every coding undone (`encodings` in the order they were applied). Each pull gives the decoded
 * bytes that are ready (less than 64 KiB), or works the decoder one step further, pulling raw bytes from `input` only
 * when the decoder has nothing else to do: a consumer that takes its time holds a bounded window, however far the
 * body expands. Past `limit` decoded bytes the stream fails with ResponseTooLarge, after `onTooLarge` (which lets go
 * of the body's connection). Ending the stream, however it ends, destroys the decoder.
 */
export const decodeStream = <E>(
  input: Stream.Stream<Uint8Array, E>,
  encodings: ReadonlyArray<string>,
  request: HttpError.RequestInfo,
  limit = Infinity,
  onTooLarge: Effect.Effect<void> = Effect.void
): Stream.Stream<Uint8Array, E | DecodingError | ResponseTooLarge> =>
  Stream.unwrapScoped(Effect.suspend(() => {
    const unsupported = unsupportedCoding(encodings)
    if (unsupported !== undefined) return Effect.succeed(Stream.fail(unsupportedError(request, unsupported)))
    return Effect.map(Stream.toPull(input), (pullRaw) => {
      let wake: (() => void) | undefined = undefined
      const decoder = new BodyDecoder(encodings, () => {
        const resume = wake
        wake = undefined
        if (resume !== undefined) resume()
      })
      let inputDone = false
      let size = 0
      const changed = Effect.async<void>((resume) => {
        wake = () => resume(Effect.void)
        return Effect.sync(() => {
          wake = undefined
        })
      })
      const feed: Effect.Effect<void, Option.Option<E>> = Effect.matchEffect(pullRaw, {
        onSuccess: (chunks) => {
          for (const bytes of chunks) decoder.write(bytes)
          return Effect.void
        },
        onFailure: (end) => {
          if (Option.isSome(end)) return Effect.fail(end)
          inputDone = true
          decoder.end()
          return Effect.void
        }
      })
      const step: Pull<Uint8Array, E | DecodingError | ResponseTooLarge> = Effect.suspend(() => {
        const out = decoder.take()
        if (out !== undefined) {
          for (let i = 0; i < out.length; i++) size += out[i]!.length
          if (size > limit) {
            decoder.destroy()
            return Effect.zipRight(onTooLarge, Effect.fail(Option.some(responseTooLarge(request, limit, limit))))
          }
          return Effect.succeed(Chunk.unsafeFromArray<Uint8Array>(out))
        }
        if (decoder.failure !== undefined) return Effect.fail(Option.some(decodingError(request, decoder.failure)))
        if (decoder.done) return Effect.fail(Option.none())
        return Effect.flatMap(!inputDone && decoder.wantsInput ? feed : changed, () => step)
      })
      return Stream.ensuring(Stream.repeatEffectChunkOption(step), Effect.sync(() => decoder.destroy()))
    })
  }))
