/**
 * The response models: a buffered `Response` and a `StreamingResponse` whose body belongs to a scope.
 */
import * as Headers from "@effect/platform/Headers"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { DecodingError, HttpStatusError, LocalProtocolError, StreamConsumed } from "../../HttpError.js"
import type * as HttpError from "../../HttpError.js"
import { decodeStream, maxBufferSize, responseTooLarge } from "../wire/bodyDecoding.js"
import { printableHeaders } from "../core/credentials.js"
import { bodyCodings } from "../wire/decoding.js"
import type {
  HttpVersion,
  Request,
  Response,
  ResponseHead,
  RunForEachOptions,
  StreamingResponse,
  Timings
} from "../core/model.js"
import type * as ResponseModule from "../core/model.js"
import { printJSON } from "./request.js"
import { NO_CODINGS } from "../wire/responseParser.js"

export type { Response, ResponseHead, StreamingResponse } from "../core/model.js"

/** One wait for the next chunks of a body: fails with `None` at its end, `Some` when it broke. */
export type BodyPull = Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<HttpError.HttpError>>

/**
 * A body read straight into the reader's `buffer`. Each run of `wait` ends once bytes are there (or the body ended, or
 * failed when it broke); `taken` then says how many, -1 at the end. The same `wait` serves every read, and it ends
 * with no value to allocate: a read costs the wait and nothing else.
 */
export interface BodyReadInto {
  readonly buffer: Buffer
  readonly wait: Effect.Effect<void, HttpError.HttpError>
  readonly taken: number
}

/**
 * Run `f` on every chunk `pull` gives, in order, until the body ends: one `Effect.async` per batch of chunks and one
 * `flatMap` per chunk, where a Stream run would build a channel pipeline that lives as long as the body.
 */
const forEachPulled = <E, R>(
  pull: BodyPull,
  f: (chunk: Uint8Array) => Effect.Effect<void, E, R>
): Effect.Effect<void, HttpError.HttpError | E, R> => {
  const each = (chunks: Chunk.Chunk<Uint8Array>, i: number): Effect.Effect<void, HttpError.HttpError | E, R> =>
    i < chunks.length ? Effect.flatMap(f(Chunk.unsafeGet(chunks, i)), () => each(chunks, i + 1)) : next
  const next: Effect.Effect<void, HttpError.HttpError | E, R> = Effect.matchEffect(pull, {
    onFailure: (end) => Option.isNone(end) ? Effect.void : Effect.fail(end.value),
    onSuccess: (chunks) => each(chunks, 0)
  })
  return next
}

/** `f` on every read `read` makes into its buffer: one wait and two `flatMap`s per read, built once. */
const forEachRead = <E, R>(
  read: BodyReadInto,
  f: (chunk: Uint8Array) => Effect.Effect<void, E, R>
): Effect.Effect<void, HttpError.HttpError | E, R> => {
  const step = (): Effect.Effect<void, HttpError.HttpError | E, R> => {
    const n = read.taken
    return n < 0 ? Effect.void : Effect.flatMap(f(read.buffer.subarray(0, n)), again)
  }
  const next: Effect.Effect<void, HttpError.HttpError | E, R> = Effect.flatMap(read.wait, step)
  const again = () => next
  return next
}

/** For a body that arrives in chunks of its own: each chunk copied into `buffer`, a bufferful at a time, for `f`. */
const copiedInto = <E, R>(buffer: Buffer, f: (chunk: Uint8Array) => Effect.Effect<void, E, R>) =>
(chunk: Uint8Array): Effect.Effect<void, E, R> => {
  const from = (offset: number): Effect.Effect<void, E, R> => {
    const end = Math.min(chunk.length, offset + buffer.length)
    buffer.set(chunk.subarray(offset, end))
    return Effect.flatMap(f(buffer.subarray(0, end - offset)), () => end < chunk.length ? from(end) : Effect.void)
  }
  return chunk.length === 0 ? Effect.void : from(0)
}

const headersPrototype: object = Object.getPrototypeOf(Headers.empty)

/** Lower-case names, repeated fields joined with ", " (RFC 9110 §5.3), as @effect/platform's Headers are. */
const headersFromFlat = (flat: ReadonlyArray<string>): Headers.Headers => {
  // Made on platform's Headers prototype rather than given it afterwards (Headers.unsafeFromRecord): changing an
  // object's prototype costs V8 several times what filling it does. That prototype has no string keys and no
  // Object.prototype behind it, so any field name, "__proto__" included, is an own property here.
  const record: Record<string, string> = Object.create(headersPrototype)
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase()
    const previous = record[name]
    record[name] = previous === undefined ? flat[i + 1]! : previous + ", " + flat[i + 1]!
  }
  return record as Headers.Headers
}

const pairsFromFlat = (flat: ReadonlyArray<string>): ReadonlyArray<readonly [string, string]> => {
  const pairs: Array<readonly [string, string]> = []
  for (let i = 0; i < flat.length; i += 2) pairs.push([flat[i]!, flat[i + 1]!])
  return pairs
}

/** The first value of a field, by lower-case name, straight from the flat list (no Headers object built). */
export const findHeader = (flat: ReadonlyArray<string>, lowerName: string): string | undefined => {
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return flat[i + 1]
  }
  return undefined
}

/** The charset parameter of a Content-Type, per RFC 9110 §8.3.1; utf-8 when there is none. */
const charsetOf = (contentType: string | undefined): string => {
  if (contentType === undefined) return "utf-8"
  const match = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType)
  return match === null ? "utf-8" : match[1]!.toLowerCase()
}

const decoders = new Map<string, TextDecoder>()
const textDecoderFor = (charset: string): TextDecoder => {
  let decoder = decoders.get(charset)
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(charset)
    } catch {
      // An unknown label: decode as UTF-8 rather than fail, as browsers and httpx do.
      decoder = decoders.get("utf-8") ?? new TextDecoder("utf-8")
    }
    decoders.set(charset, decoder)
  }
  return decoder
}


/** The timings of a response nobody measured: every phase zero. */
const NO_TIMINGS: Timings = {
  poolWait: Duration.zero,
  dns: Duration.zero,
  connect: Duration.zero,
  tls: Duration.zero,
  send: Duration.zero,
  firstByte: Duration.zero,
  download: Duration.zero
}

/**
 * Where a response's `request` comes from: built only when someone asks. A source that measured the exchange (the
 * pool's) gives its timings too, likewise only when asked; other sources' responses have every phase zero.
 */
interface RequestSource {
  makeRequest(): Request
  measuredTimings?(): Timings
}

/** Everything a head needs. Getters keep the per-response work lazy. */
export abstract class HeadBase implements ResponseHead {
  toString(): string {
    return `<Response [${this.status} ${this.reasonPhrase}]>`
  }
  /** What printing shows (`JSON.stringify`, `util.inspect`): no cookie, no credential, none of the internals. */
  toJSON(): unknown {
    return {
      _id: "httpfx/Response",
      status: this.status,
      reasonPhrase: this.reasonPhrase,
      httpVersion: this.httpVersion,
      url: this.url,
      headers: printableHeaders(this.headers),
      request: printJSON(this.request),
      history: this.history.map((response) => response.url)
    }
  }
  [NodeInspectSymbol](): unknown {
    return this.toJSON()
  }
  constructor(
    readonly status: number,
    readonly reasonPhrase: string,
    readonly httpVersion: HttpVersion,
    readonly flatHeaders: ReadonlyArray<string>,
    readonly url: string,
    private requestSource: RequestSource,
    public history: ReadonlyArray<Response>
  ) {}
  private _headers: Headers.Headers | undefined
  private _request: Request | undefined
  get headers(): Headers.Headers {
    return this._headers ??= headersFromFlat(this.flatHeaders)
  }
  get rawHeaders(): ReadonlyArray<readonly [string, string]> {
    return pairsFromFlat(this.flatHeaders)
  }
  get request(): Request {
    return this._request ??= this.requestSource.makeRequest()
  }
  /** The client replaces the transport's view of the request with its own, and adds the redirect history. */
  setContext(request: Request, history: ReadonlyArray<Response>): void {
    this._request = request
    this.history = history
  }
  get isSuccess() {
    return this.status >= 200 && this.status < 300
  }
  get isRedirect() {
    return this.status >= 300 && this.status < 400 && this.status !== 304 &&
      findHeader(this.flatHeaders, "location") !== undefined
  }
  get isClientError() {
    return this.status >= 400 && this.status < 500
  }
  get isServerError() {
    return this.status >= 500 && this.status < 600
  }
  get isError() {
    return this.status >= 400 && this.status < 600
  }
  /** Made when read, from what the source measured: a streamed body's `download` is set once it is done. */
  get timings(): Timings {
    const source = this.requestSource
    return source.measuredTimings === undefined ? NO_TIMINGS : source.measuredTimings()
  }
  protected statusError(): HttpStatusError {
    const kind = this.isClientError ? "Client error" : "Server error"
    return new HttpStatusError({
      message: `${kind} '${this.status} ${this.reasonPhrase}' for url '${this.url}'`,
      request: { method: this.request.method, url: this.request.url },
      response: this as any
    })
  }
}

/** Symbol.for: the same symbol as the public module's, without importing its values. */
const ResponseTypeId: ResponseModule.TypeId = Symbol.for("httpfx/Response") as ResponseModule.TypeId
const StreamingTypeId: ResponseModule.StreamingTypeId = Symbol.for(
  "httpfx/StreamingResponse"
) as ResponseModule.StreamingTypeId

export class BufferedResponse extends HeadBase implements Response {
  // On the prototype: the hot path allocates nothing for it.
  get [ResponseTypeId](): ResponseModule.TypeId {
    return ResponseTypeId
  }
  constructor(
    status: number,
    reasonPhrase: string,
    httpVersion: HttpVersion,
    flatHeaders: ReadonlyArray<string>,
    url: string,
    requestSource: RequestSource,
    history: ReadonlyArray<Response>,
    readonly content: Uint8Array,
    private readonly elapsedMillis: number
  ) {
    super(status, reasonPhrase, httpVersion, flatHeaders, url, requestSource, history)
  }
  private _text: string | undefined
  get text(): string {
    return this._text ??= textDecoderFor(charsetOf(findHeader(this.flatHeaders, "content-type"))).decode(this.content)
  }
  get json(): Effect.Effect<unknown, DecodingError> {
    return Effect.try({
      try: () => JSON.parse(this.text),
      catch: (cause) =>
        new DecodingError({
          message: `The body of ${this.request.method} ${this.url} is not valid JSON: ${(cause as Error).message}` +
            ` (it starts ${JSON.stringify(this.text.slice(0, 40))})`,
          request: { method: this.request.method, url: this.url },
          cause
        })
    })
  }
  get raiseForStatus(): Effect.Effect<Response, HttpStatusError> {
    return this.isError ? Effect.fail(this.statusError()) : Effect.succeed(this)
  }
  get elapsed(): Duration.Duration {
    return Duration.millis(this.elapsedMillis)
  }
  override toString() {
    return `<Response [${this.status} ${this.reasonPhrase}]>`
  }
}

/**
 * A streaming response over any body: the pool's connections, a mock, an in-process app. Subclasses give the raw body
 * once; this class guards single consumption, decodes Content-Encoding and charsets, and buffers on `read`.
 */
export abstract class StreamingBase extends HeadBase implements StreamingResponse {
  get [StreamingTypeId](): ResponseModule.StreamingTypeId {
    return StreamingTypeId
  }
  private consumed = false
  constructor(
    status: number,
    reasonPhrase: string,
    httpVersion: HttpVersion,
    flatHeaders: ReadonlyArray<string>,
    url: string,
    requestSource: RequestSource,
    history: ReadonlyArray<Response>,
    private readonly startedAt: number
  ) {
    super(status, reasonPhrase, httpVersion, flatHeaders, url, requestSource, history)
  }

  /**
   * Deliver the body as it came, undoing no content coding: set by a client that does not decompress (Platform.layer's
   * default) on a response from a transport other than the pool, whose exchanges see to it themselves.
   */
  declare asSent: boolean | undefined

  /** The body bytes as they came, run at most once. */
  protected abstract rawBody(): Stream.Stream<Uint8Array, HttpError.HttpError>
  abstract readonly close: Effect.Effect<void>

  /** Marks the body as taken; a second taker gets `StreamConsumed`. */
  protected claimBody(): StreamConsumed | undefined {
    if (!this.consumed) {
      this.consumed = true
      return undefined
    }
    return new StreamConsumed({
      message: `The body of ${this.request.method} ${this.url} was already consumed; ` +
        `a response body can be read once (use read to keep it)`,
      request: { method: this.request.method, url: this.url }
    })
  }

  /**
   * The transfer codings of a body read until close (RFC 9112 §6.1), in the order applied: framing of the message
   * rather than of the content, undone in `raw` as chunked framing is.
   */
  protected transferCodings(): ReadonlyArray<string> {
    return NO_CODINGS
  }

  /** The most decoded bytes the body may deliver (`limits.maxBodySize`). */
  protected maxBodySize(): number {
    return Infinity
  }

  /** Every coding of the body, content codings first; undefined when the bytes are the content as they are. */
  protected codings(): ReadonlyArray<string> | undefined {
    if (this.asSent === true) return undefined
    return bodyCodings(findHeader(this.flatHeaders, "content-encoding"), this.transferCodings())
  }

  private get requestInfo(): HttpError.RequestInfo {
    return { method: this.request.method, url: this.url }
  }

  /** The body, claimed, with `codings` undone. */
  private decoded(codings: ReadonlyArray<string> | undefined): Stream.Stream<Uint8Array, HttpError.HttpError> {
    return Stream.suspend(() => {
      const consumed = this.claimBody()
      if (consumed !== undefined) return Stream.fail(consumed)
      if (codings === undefined || codings.length === 0) return this.rawBody()
      return decodeStream(this.rawBody(), codings, this.requestInfo, this.maxBodySize(), this.close)
    })
  }

  // A body fails only as a BodyError: its sources (the exchange, a mock's or an app's body, the decoders) raise
  // transport errors, DecodingError and ResponseTooLarge, and this class StreamConsumed; the subclasses' wider
  // `HttpError` type is narrowed here, once.
  get raw(): Stream.Stream<Uint8Array, HttpError.BodyError> {
    return this.decoded(this.transferCodings()) as Stream.Stream<Uint8Array, HttpError.BodyError>
  }

  get stream(): Stream.Stream<Uint8Array, HttpError.BodyError> {
    return this.decoded(this.codings()) as Stream.Stream<Uint8Array, HttpError.BodyError>
  }

  /**
   * A subclass whose raw body can be pulled directly gives the pull here, and `runForEach` then reads the body
   * without a Stream. Taking it does not claim the body.
   */
  protected rawPull(): BodyPull | undefined {
    return undefined
  }

  /** Likewise, a subclass that can write its raw body straight into the reader's buffer gives that read here. */
  protected rawReadInto(_buffer: Buffer): BodyReadInto | undefined {
    return undefined
  }

  /**
   * What runs when a `runForEach` loop over `rawPull` or `rawReadInto` is interrupted: a subclass whose waits there
   * have no canceller of their own ends them here.
   */
  protected readerInterrupted(): Effect.Effect<void> | undefined {
    return undefined
  }

  private guarded<E, R>(loop: Effect.Effect<void, E, R>): Effect.Effect<void, E, R> {
    const stop = this.readerInterrupted()
    return stop === undefined ? loop : Effect.onInterrupt(loop, () => stop)
  }

  runForEach<E, R>(
    f: (chunk: Uint8Array) => Effect.Effect<void, E, R>,
    options?: RunForEachOptions
  ): Effect.Effect<void, HttpError.BodyError | E, R> {
    return Effect.suspend((): Effect.Effect<void, HttpError.BodyError | E, R> => {
      const buffer = options?.buffer
      if (buffer !== undefined) return this.runForEachInto(buffer, f)
      const pull = this.codings() === undefined ? this.rawPull() : undefined
      // A body to decode goes through the decoders' streams, and a body given as a Stream is read as one.
      if (pull === undefined) return Stream.runForEach(this.stream, f)
      const consumed = this.claimBody()
      return consumed !== undefined
        ? Effect.fail(consumed)
        : this.guarded(forEachPulled(pull, f) as Effect.Effect<void, HttpError.BodyError | E, R>)
    })
  }

  private runForEachInto<E, R>(
    buffer: Uint8Array,
    f: (chunk: Uint8Array) => Effect.Effect<void, E, R>
  ): Effect.Effect<void, HttpError.BodyError | E, R> {
    if (!(buffer instanceof Uint8Array) || buffer.length === 0) {
      return Effect.fail(
        new LocalProtocolError({
          message: `Cannot read the body of ${this.request.method} ${this.url}: runForEach's buffer must be a ` +
            `non-empty Uint8Array, got ${buffer instanceof Uint8Array ? "an empty one" : typeof buffer}`,
          request: { method: this.request.method, url: this.url }
        })
      )
    }
    // A Buffer over the caller's memory, for Buffer's copy and for the socket to read into.
    const view = Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    const read = this.codings() === undefined ? this.rawReadInto(view) : undefined
    // Decoded bodies, and bodies given as a Stream, come in chunks of their own: those are copied in.
    if (read === undefined) return this.runForEach(copiedInto(view, f))
    const consumed = this.claimBody()
    return consumed !== undefined
      ? Effect.fail(consumed)
      : this.guarded(forEachRead(read, f) as Effect.Effect<void, HttpError.BodyError | E, R>)
  }

  get text(): Stream.Stream<string, HttpError.BodyError> {
    return Stream.suspend(() => {
      const decoder = new TextDecoder(textDecoderFor(charsetOf(findHeader(this.flatHeaders, "content-type"))).encoding)
      return this.stream.pipe(
        Stream.map((bytes) => decoder.decode(bytes, { stream: true })),
        Stream.concat(Stream.sync(() => decoder.decode())),
        Stream.filter((text) => text.length > 0)
      )
    })
  }

  get lines(): Stream.Stream<string, HttpError.BodyError> {
    return Stream.splitLines(this.text)
  }

  get read(): Effect.Effect<Response, HttpError.BodyError> {
    return Effect.suspend(() => {
      const configured = this.maxBodySize()
      const limit = Math.min(configured, maxBufferSize())
      const parts: Array<Uint8Array> = []
      let size = 0
      const keep = (chunk: Chunk.Chunk<Uint8Array>): Effect.Effect<void, HttpError.BodyError> => {
        for (const part of chunk) {
          size += part.length
          // Joined, the parts must fit one buffer: past the limit is a typed error, never Buffer.concat's throw.
          if (size > limit) return Effect.fail(responseTooLarge(this.requestInfo, limit, configured))
          parts.push(part)
        }
        return Effect.void
      }
      return Effect.map(
        Stream.runForEachChunk(this.stream, keep),
        () => this.toBuffered(parts.length === 1 ? parts[0]! : Buffer.concat(parts, size))
      )
    })
  }

  /**
   * `read` at once, without a wait, when the whole body is in already and has nothing to undo; undefined (nothing
   * claimed) when `read` would have to wait. A subclass that can tell says so.
   */
  readNow(): Response | undefined {
    return undefined
  }

  /** This head with a buffered body: what `read` returns. */
  toBuffered(content: Uint8Array): Response {
    const response = new BufferedResponse(
      this.status,
      this.reasonPhrase,
      this.httpVersion,
      this.flatHeaders,
      this.url,
      this,
      this.history,
      content,
      performance.now() - this.startedAt
    )
    return response
  }

  makeRequest(): Request {
    return this.request
  }

  /** What the response `read` makes reports: this one's timings. */
  measuredTimings(): Timings {
    return this.timings
  }

  get raiseForStatus(): Effect.Effect<StreamingResponse, HttpError.HttpStatusError> {
    return this.isError ? Effect.fail(this.statusError()) : Effect.succeed(this)
  }

  override toString() {
    return `<StreamingResponse [${this.status} ${this.reasonPhrase}]>`
  }
}

/** A streaming response whose body is a given Stream: what mock and in-process transports return. */
export class StreamBodyResponse extends StreamingBase {
  constructor(
    head: {
      readonly status: number
      readonly reasonPhrase: string
      readonly httpVersion: HttpVersion
      readonly flatHeaders: ReadonlyArray<string>
      readonly url: string
      readonly request: Request
    },
    private readonly body: Stream.Stream<Uint8Array, HttpError.HttpError>,
    readonly close: Effect.Effect<void>,
    startedAt: number
  ) {
    super(
      head.status,
      head.reasonPhrase,
      head.httpVersion,
      head.flatHeaders,
      head.url,
      { makeRequest: () => head.request },
      [],
      startedAt
    )
  }
  protected rawBody() {
    return this.body
  }
}
