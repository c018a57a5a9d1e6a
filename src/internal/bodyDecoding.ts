/**
 * Undoing Content-Encoding on a streamed body, chunk by chunk, with zlib running off the main thread.
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { DecodingError } from "../HttpError.js"
import type * as HttpError from "../HttpError.js"
import type { StreamDecoder } from "./decoding.js"
import { decoderStreams } from "./decoding.js"

const stage = <E>(
  input: Stream.Stream<Uint8Array, E>,
  makeDecoder: StreamDecoder,
  name: string,
  request: HttpError.RequestInfo
): Stream.Stream<Uint8Array, E | DecodingError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    let decoder: NodeJS.ReadWriteStream | undefined
    const output: Array<Uint8Array> = []
    let failure: Error | undefined
    yield* Effect.addFinalizer(() => Effect.sync(() => (decoder as any)?.destroy()))
    const fail = (error: Error) =>
      new DecodingError({
        message: `The body of ${request.method} ${request.url} is not valid ${name}: ${error.message}`,
        request,
        cause: error
      })
    const take = () => Chunk.unsafeFromArray(output.splice(0, output.length))
    const open = (first: Uint8Array) => {
      const created = makeDecoder(first)
      created.on("data", (bytes: Buffer) => output.push(bytes))
      created.on("error", (error: Error) => failure ??= error)
      return created
    }
    // zlib reports bad input with an "error" event and never calls the write callback, so each wait listens for both.
    const settleOn = (
      target: NodeJS.ReadWriteStream,
      event: "end" | "written",
      act: (done: () => void) => void
    ) =>
      Effect.async<Chunk.Chunk<Uint8Array>, DecodingError>((resume) => {
        if (failure !== undefined) return resume(Effect.fail(fail(failure)))
        let settled = false
        const onError = (error: Error) => {
          if (settled) return
          settled = true
          resume(Effect.fail(fail(error)))
        }
        target.once("error", onError)
        act(() => {
          if (settled) return
          settled = true
          target.removeListener("error", onError)
          resume(failure !== undefined ? Effect.fail(fail(failure)) : Effect.succeed(take()))
        })
        if (event === "end") return Effect.sync(() => target.removeListener("error", onError))
      })
    const write = (bytes: Uint8Array) => {
      if (bytes.length === 0) return Effect.succeed(Chunk.empty<Uint8Array>())
      const target = decoder ??= open(bytes)
      return settleOn(target, "written", (done) => target.write(bytes, () => done()))
    }
    const end = Effect.suspend(() => {
      // An empty body decodes to nothing, whatever its Content-Encoding says.
      if (decoder === undefined) return Effect.succeed(Chunk.empty<Uint8Array>())
      const target = decoder
      return settleOn(target, "end", (done) => {
        target.once("end", done)
        target.end()
      })
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
