/**
 * The requests and responses every layer passes around, and the error that carries a response. One module, because
 * a response's `raiseForStatus` fails with an `HttpStatusError` that holds the response. Response.ts and HttpError.ts
 * re-export them.
 */
import type * as Headers from "@effect/platform/Headers"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { BodyError, DecodingError, ErrorProps } from "./errors.js"
import type { LimitsInput } from "./limits.js"
import type { TimeoutInput } from "./timeouts.js"

/**
 * @since 0.2.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("httpfx/Response")

/**
 * @since 0.2.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * @since 0.2.0
 * @category type ids
 */
export const StreamingTypeId: unique symbol = Symbol.for("httpfx/StreamingResponse")

/**
 * @since 0.2.0
 * @category type ids
 */
export type StreamingTypeId = typeof StreamingTypeId

/**
 * @since 0.1.0
 * @category models
 */
export type HttpVersion = "HTTP/1.0" | "HTTP/1.1" | "HTTP/2"

/**
 * A request body, already encoded: none, bytes, or a stream (sent with a Content-Length when `length` is known,
 * chunked when not).
 *
 * @since 0.2.0
 * @category models
 */
export type RequestBody =
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | {
    readonly _tag: "Stream"
    readonly stream: Stream.Stream<Uint8Array, unknown>
    /** total bytes when known (then sent with Content-Length), undefined when not (sent chunked) */
    readonly length: number | undefined
    /**
     * whether running `stream` again yields the same bytes (a Stream built from bytes or a file can be re-run; a
     * stream of a socket cannot): a 307/308 redirect or an auth retry needs to send the body twice
     */
    readonly replayable: boolean
  }

/**
 * The request as it was sent: what `Client.buildRequest` returns and `send` executes, what hooks, auth flows and
 * transports see.
 *
 * @since 0.1.0
 * @category models
 */
export interface Request {
  readonly method: string
  /** the absolute URL, with params already merged into its query */
  readonly url: string
  /** @effect/platform Headers: lower-case names */
  readonly headers: Headers.Headers
  readonly body: RequestBody
  /** per-request timeout override (undefined: the client's) */
  readonly timeout?: TimeoutInput | undefined
  /** per-request redirect policy (undefined: the client's) */
  readonly followRedirects?: boolean | undefined
  /** per-request size limits over the transport's own (undefined: the transport's) */
  readonly limits?: LimitsInput | undefined
  /** per-request auth (undefined: the client's; null: none even if the client has one) */
  readonly auth?: unknown
}

/**
 * The head of a response: what buffered and streaming responses share.
 *
 * @since 0.2.0
 * @category models
 */
export interface ResponseHead {
  readonly status: number
  readonly reasonPhrase: string
  readonly httpVersion: HttpVersion
  /** @effect/platform Headers: lower-case names, repeated fields joined with ", " */
  readonly headers: Headers.Headers
  /** the fields as they came, names in the peer's case */
  readonly rawHeaders: ReadonlyArray<readonly [name: string, value: string]>
  readonly url: string
  readonly request: Request
  /** the responses of the redirects followed to get here, oldest first */
  readonly history: ReadonlyArray<Response>
  /** 2xx */
  readonly isSuccess: boolean
  /** a 3xx other than 304, with a Location */
  readonly isRedirect: boolean
  /** 4xx */
  readonly isClientError: boolean
  /** 5xx */
  readonly isServerError: boolean
  /** 4xx or 5xx */
  readonly isError: boolean
  /** where this hop's time went, phase by phase (see `Timings`) */
  readonly timings: Timings
}

/**
 * Where one request's time went, as got's `timings` and httpcore's trace do it, measured with a monotonic clock.
 * A phase that did not happen is `Duration.zero`: `dns`, `connect` and `tls` on a reused connection, `tls` on
 * `http://`, `download` while a streamed body is still being read.
 *
 * @since 0.3.0
 * @category models
 */
export interface Timings {
  /** waiting for a connection: from the request reaching the pool to its checkout */
  readonly poolWait: Duration.Duration
  /** resolving the host name, for a connection opened for this request */
  readonly dns: Duration.Duration
  /** the TCP connect (and a proxy's tunnel) */
  readonly connect: Duration.Duration
  /** the TLS handshake */
  readonly tls: Duration.Duration
  /** writing the request, head and body */
  readonly send: Duration.Duration
  /** from the last byte sent to the response's head */
  readonly firstByte: Duration.Duration
  /** reading the body, from the head to its last byte */
  readonly download: Duration.Duration
}

/**
 * A response whose body has been read: it holds no connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Response extends ResponseHead {
  readonly [TypeId]: TypeId
  readonly content: Uint8Array
  /** the body decoded by its charset (UTF-8 unless the Content-Type names another) */
  readonly text: string
  readonly json: Effect.Effect<unknown, DecodingError>
  /** fails with `HttpStatusError` on a 4xx or 5xx, succeeds with the response otherwise */
  readonly raiseForStatus: Effect.Effect<Response, HttpStatusError>
  readonly elapsed: Duration.Duration
}

/**
 * A response whose body is read lazily. The connection goes back to the pool as soon as the last byte is read; if the
 * scope closes first, the connection is closed.
 *
 * @since 0.1.0
 * @category models
 */
export interface StreamingResponse extends ResponseHead {
  readonly [StreamingTypeId]: StreamingTypeId
  /** the body, Content-Encoding decoded; it can be consumed once */
  readonly stream: Stream.Stream<Uint8Array, BodyError>
  /** the body as it came, Content-Encoding not decoded */
  readonly raw: Stream.Stream<Uint8Array, BodyError>
  readonly text: Stream.Stream<string, BodyError>
  readonly lines: Stream.Stream<string, BodyError>
  /** read the whole body into a buffered `Response` */
  readonly read: Effect.Effect<Response, BodyError>
  /**
   * Run `f` on each chunk of the decoded body, in order, until its end: `Stream.runForEach(response.stream, f)`
   * without a Stream pipeline (one wait per chunk), for bodies that are only handed on or counted. The first
   * failure, of the body or of `f`, ends it; the body is consumed as by `stream`.
   *
   * With `buffer`, the body is read through that memory: each chunk is a view of `buffer` holding the next bytes
   * (from one to `buffer.length` of them), and it is valid only until the Effect `f` returned ends, when the next
   * bytes go there. Nothing is allocated per read: on a plain `http://` HTTP/1.1 connection the socket reads straight
   * into `buffer`, and while `f` runs the server's bytes wait in the kernel. Copy what you keep.
   */
  runForEach<E, R>(
    f: (chunk: Uint8Array) => Effect.Effect<void, E, R>,
    options?: RunForEachOptions
  ): Effect.Effect<void, BodyError | E, R>
  /** give the connection up now (closed unless the body was read to its end) */
  readonly close: Effect.Effect<void>
  readonly raiseForStatus: Effect.Effect<StreamingResponse, HttpStatusError>
}

/**
 * Options of `StreamingResponse.runForEach`: `buffer` reads the body through memory of the caller's, with nothing
 * allocated per read.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunForEachOptions {
  /** Memory of the caller's to read the body through; see `runForEach`. */
  readonly buffer?: Uint8Array
}

/**
 * `raiseForStatus` met a 4xx or 5xx response; the response is kept for inspection.
 *
 * @since 0.1.0
 * @category errors
 */
export class HttpStatusError extends Data.TaggedError("HttpStatusError")<ErrorProps & {
  /** the response that failed the check: buffered from `Response.raiseForStatus`, streaming from a streaming one */
  readonly response: Response | StreamingResponse
}> {}
