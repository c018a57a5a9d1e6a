// What the httpfx pool and client runs share: both answer `request` (buffered) and `stream` (scoped body) with the
// same signatures, so one measurement serves both and only the constructor differs.
import { Effect } from "effect"
import type { Scope } from "effect"
import type { HttpError, Response } from "../../src/index.js"
import { checkResponse, countStream, main, measureEffect, variantName } from "./harness.js"
import type { ClientConfig } from "./harness.js"

interface Sender {
  request(
    method: string,
    url: string,
    options?: { readonly content?: Uint8Array; readonly headers?: Record<string, string> }
  ): Effect.Effect<Response.Response, HttpError.HttpError>
  stream(
    method: string,
    url: string,
    options?: { readonly content?: Uint8Array; readonly headers?: Record<string, string> }
  ): Effect.Effect<Response.StreamingResponse, HttpError.HttpError, Scope.Scope>
}

/** The limits every httpfx run uses: one connection per fiber, all kept alive. */
export const limitsFor = (config: ClientConfig) => ({
  maxConnections: config.concurrency,
  maxKeepaliveConnections: config.concurrency,
  // A burst queues 10,000 requests for 100 connections: waiting longer than the default 5 s pool timeout is the
  // point there, not a failure.
  ...(config.workload.mode === "burst" ? { timeout: { pool: null } } : {})
})

/** The read size of `--variant into`: as large as one read of httpfx's sockets. */
const INTO_BYTES = 256 * 1024

/**
 * The body counted chunk by chunk with `response.runForEach`: what `countStream` does, without a Stream; with
 * `buffer`, read through that one buffer (`runForEach`'s `buffer` option).
 */
const countForEach = (
  config: ClientConfig,
  response: Response.StreamingResponse,
  buffer: Uint8Array | undefined
): Effect.Effect<void, Error> => {
  let bytes = 0
  const count = (chunk: Uint8Array) =>
    Effect.sync(() => {
      bytes += chunk.byteLength
    })
  return Effect.flatMap(
    buffer === undefined ? response.runForEach(count) : response.runForEach(count, { buffer }),
    () => Effect.try({ try: () => checkResponse(config, response.status, bytes), catch: (error) => error as Error })
  )
}

export const runHttpfx = (
  name: string,
  make: (config: ClientConfig) => Effect.Effect<Sender, never, Scope.Scope>,
  /** what the whole run happens under (a tracer) */
  around: <A, E>(program: Effect.Effect<A, E>) => Effect.Effect<A, E> = (program) => program
): void =>
  main(name, (config) => {
    const url = config.url.href
    const { method } = config.workload
    const options = config.workload.requestBytes > 0
      ? { content: config.payload, headers: { "content-type": "application/octet-stream" } }
      : undefined
    // --variant foreach reads the download with the response's own runForEach rather than as a Stream, and --variant
    // into with runForEach through one buffer of its own; --variant bounded issues the queue workload's burst through
    // Effect.forEach with C workers (see measureEffect).
    const measuredAs = variantName(name, config, { foreach: "download", into: "download", bounded: "burst" })
    const foreach = config.variant === "foreach"
    const into = config.variant === "into" ? new Uint8Array(INTO_BYTES) : undefined
    const program = Effect.gen(function*() {
      const sender = yield* make(config)
      const buffered = () =>
        Effect.flatMap(sender.request(method, url, options), (response) =>
          Effect.sync(() => checkResponse(config, response.status, response.content.length)))
      // The body is counted as it streams and never held whole; the scope ends the exchange.
      const streamed = () =>
        Effect.scoped(
          Effect.flatMap(sender.stream(method, url, options), (response) =>
            foreach || into !== undefined
              ? countForEach(config, response, into)
              : countStream(config, response.status, response.stream))
        )
      return yield* measureEffect(measuredAs, config, config.workload.mode === "download" ? streamed : buffered)
    })
    return Effect.runPromise(around(Effect.scoped(program)))
  })
