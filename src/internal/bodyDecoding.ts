/**
 * Undoing Content-Encoding on a streamed body, chunk by chunk, with zlib running off the main thread.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { DecodingError } from "../HttpError.js"
import type * as HttpError from "../HttpError.js"
import { decoderStreams } from "./decoding.js"

const stage = <E>(
  input: Stream.Stream<Uint8Array, E>,
  transform: NodeJS.ReadWriteStream,
  name: string,
  request: HttpError.RequestInfo
): Stream.Stream<Uint8Array, E | DecodingError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    yield* Effect.addFinalizer(() => Effect.sync(() => (transform as any).destroy()))
    const output: Array<Uint8Array> = []
    let failure: Error | undefined
    transform.on("data", (bytes: Buffer) => output.push(bytes))
    transform.on("error", (error: Error) => failure = error)
    const fail = (error: Error) =>
      new DecodingError({
        message: `The body of ${request.method} ${request.url} is not valid ${name}: ${error.message}`,
        request,
        cause: error
      })
    const take = () => Chunk.unsafeFromArray(output.splice(0, output.length))
    const write = (bytes: Uint8Array) =>
      Effect.async<Chunk.Chunk<Uint8Array>, DecodingError>((resume) => {
        transform.write(bytes, (error) => {
          const problem = error ?? failure
          resume(problem ? Effect.fail(fail(problem)) : Effect.succeed(take()))
        })
      })
    const end = Effect.async<Chunk.Chunk<Uint8Array>, DecodingError>((resume) => {
      if (failure !== undefined) return resume(Effect.fail(fail(failure)))
      transform.once("end", () => resume(Effect.succeed(take())))
      transform.once("error", (error: Error) => resume(Effect.fail(fail(error))))
      transform.end()
    })
    return input.pipe(
      Stream.mapEffect(write),
      Stream.concat(Stream.fromEffect(end)),
      Stream.flattenChunks
    )
  }))

/** The decoded body: each coding undone in reverse order of application, as a chain of stages. */
export const decodeStream = <E>(
  input: Stream.Stream<Uint8Array, E>,
  encodings: ReadonlyArray<string>,
  request: HttpError.RequestInfo
): Stream.Stream<Uint8Array, E | DecodingError> =>
  Stream.suspend(() => {
    const chain = decoderStreams(encodings)
    if (typeof chain === "string") {
      return Stream.fail(
        new DecodingError({ message: `Cannot decode the body of ${request.method} ${request.url}: ${chain}`, request })
      )
    }
    let out: Stream.Stream<Uint8Array, E | DecodingError> = input
    for (let i = 0; i < chain.length; i++) out = stage(out, chain[i]!, encodings[encodings.length - 1 - i]!, request)
    return out
  })
