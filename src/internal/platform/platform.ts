/**
 * @effect/platform's HttpClient on top of an httpfx Client: platform requests become httpfx requests sent in
 * streaming mode, and the StreamingResponse that comes back is wrapped as a platform HttpClientResponse.
 *
 * Lifetimes. Platform has no Scope for a response. A response is let go when its body has been read, when `stream`
 * ends, on `release`, when it is garbage-collected unread, or (with `HttpClient.withScope`) when the caller's scope
 * closes (`make.ts` says when each applies). A request sent through the bare pool gives its response the exchange
 * itself to let go; any other gets a Scope of its own, in which the httpfx streaming response lives. Letting go before
 * the last byte closes the connection; after the last byte the connection is already back in the pool.
 */
import * as Cookies from "@effect/platform/Cookies"
import * as Headers from "@effect/platform/Headers"
import type * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Client } from "../../Client.js"
import * as HttpError from "../../HttpError.js"
import { implOf, withProfile } from "../client/client.js"
import type { ClientOptions, Profile } from "../client/client.js"
import { supportedEncodings } from "../wire/decoding.js"
import * as Multipart from "../client/multipart.js"
import type { Body, Request } from "../message/request.js"
import { copy as copyRequest } from "../message/request.js"
import { printableHeaders } from "../core/credentials.js"
import { withoutUserinfo } from "../core/url.js"
import type { OwnedResponse } from "../exchange/exchange.js"
import type { Opening } from "../transport/transport.js"
import { StreamingBase } from "../message/response.js"
import type { Response, StreamingResponse } from "../message/response.js"
import { onlyGiven } from "../core/timeouts.js"
import { make, readStarted, releaseWhenCollected } from "./make.js"

// ---- options -----------------------------------------------------------------------------------------------------

interface PlatformOptions extends ClientOptions {
  /** undo the response body's Content-Encoding, and ask for it with Accept-Encoding; headers stay as sent [false] */
  readonly decompress?: boolean | undefined
}

/** platform-node's client (node:http) adds no header of its own and returns the body as the server sent it. */
const asSent: Profile = { headers: () => Headers.empty, decompress: false }

/** As fetch and httpx do: the body decoded, and what can be decoded asked for. */
const decompressing: Profile = {
  headers: () => Headers.unsafeFromRecord({ "accept-encoding": supportedEncodings().join(", ") }),
  decompress: true
}

/**
 * The client options behind Platform.layer. platform-node's client has no timeouts, sends only what the caller set,
 * keeps no cookies, ignores HTTP_PROXY and friends, follows no redirects and decodes nothing: so does this one,
 * unless an option asks for httpfx's own behaviour.
 */
export const clientOptions = (options: PlatformOptions = {}): ClientOptions => {
  const { decompress, ...rest } = options
  return withProfile(
    {
      ...rest,
      timeout: onlyGiven(options.timeout),
      cookies: options.cookies ?? false,
      trustEnv: options.trustEnv ?? false,
      // platform's HttpClient sends its own traceparent (and b3): no second copy
      tracePropagation: false
    },
    decompress === true ? decompressing : asSent
  )
}

// ---- requests ----------------------------------------------------------------------------------------------------

const utf8 = new TextEncoder()

interface Encoded {
  readonly body: Body
  /** set when the encoding decides it (multipart boundary), replacing whatever the request said */
  readonly contentType?: string | undefined
}

const bytes = (data: Uint8Array): Encoded => ({ body: { _tag: "Bytes", bytes: data } })

const streamOf = (stream: Stream.Stream<Uint8Array, unknown>, length: number | undefined): Encoded => ({
  // A platform body stream may be a socket or a generator: it is never assumed to give the same bytes twice.
  body: { _tag: "Stream", stream, length, replayable: false }
})

const encodeError = (request: HttpClientRequest.HttpClientRequest, description: string, cause?: unknown) =>
  new HttpClientError.RequestError({ request, reason: "Encode", description, cause })

/** A web FormData as multipart/form-data, sent chunked: its files are read as the body goes out, never whole. */
const encodeFormData = (formData: FormData): Effect.Effect<Encoded> =>
  Effect.succeed(Multipart.encodeFormData(formData))

const chunkBytes = (chunk: unknown): Uint8Array =>
  typeof chunk === "string"
    ? utf8.encode(chunk)
    : chunk instanceof Uint8Array
    ? chunk
    : new Uint8Array(chunk as ArrayBuffer)

/** A Raw body is whatever the caller put there (fetch's BodyInit, a Node Readable …): read every kind we can. */
const encodeRaw = (
  request: HttpClientRequest.HttpClientRequest,
  body: HttpBody.Raw
): Effect.Effect<Encoded, HttpClientError.RequestError> => {
  const value = body.body
  const length = body.contentLength
  if (value === undefined || value === null) return Effect.succeed({ body: { _tag: "Empty" } })
  if (typeof value === "string") return Effect.succeed(bytes(utf8.encode(value)))
  if (value instanceof Uint8Array) return Effect.succeed(bytes(value))
  if (value instanceof ArrayBuffer) return Effect.succeed(bytes(new Uint8Array(value)))
  if (ArrayBuffer.isView(value)) {
    return Effect.succeed(bytes(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)))
  }
  if (value instanceof URLSearchParams) return Effect.succeed(bytes(utf8.encode(value.toString())))
  if (value instanceof FormData) return encodeFormData(value)
  if (value instanceof Blob) {
    return Effect.succeed(streamOf(Stream.fromReadableStream(() => value.stream(), (cause) => cause), value.size))
  }
  if (value instanceof ReadableStream) {
    return Effect.succeed(
      streamOf(
        Stream.map(Stream.fromReadableStream(() => value as ReadableStream<unknown>, (cause) => cause), chunkBytes),
        length
      )
    )
  }
  if (typeof value === "object" && Symbol.asyncIterator in value) {
    return Effect.succeed(
      streamOf(
        Stream.map(Stream.fromAsyncIterable(value as AsyncIterable<unknown>, (cause) => cause), chunkBytes),
        length
      )
    )
  }
  return Effect.fail(
    encodeError(
      request,
      `cannot send a Raw body of type ${value?.constructor?.name ?? typeof value}: give a string, bytes, a Blob, ` +
        `a FormData, a ReadableStream or an async iterable of bytes`
    )
  )
}

const encodeBody = (
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<Encoded, HttpClientError.RequestError> => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
      return Effect.succeed({ body: { _tag: "Empty" } })
    case "Uint8Array":
      return Effect.succeed(bytes(body.body))
    case "Raw":
      return encodeRaw(request, body)
    case "FormData":
      return encodeFormData(body.formData)
    case "Stream":
      return Effect.succeed(streamOf(body.stream, body.contentLength))
  }
}

/** The httpfx request for a platform request: the client's defaults, with the platform request's fields on top. */
const toRequest = (
  client: Client,
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  encoded: Encoded
): Request => {
  let headers = request.headers
  if (encoded.contentType !== undefined) headers = Headers.set(headers, "content-type", encoded.contentType)
  const body = encoded.body
  if (body._tag === "Stream" && body.length !== undefined && headers["content-length"] === undefined) {
    headers = Headers.set(headers, "content-length", String(body.length))
  }
  const built = client.buildRequest(request.method, hrefOf(url), { headers })
  return body._tag === "Empty" ? built : copyRequest(built, { body })
}

/** The URL as it goes on the wire: the fragment is the client's own business (RFC 9110 §4.2.4). */
const hrefOf = (url: URL): string => {
  if (url.hash === "") return url.href
  const target = new URL(url)
  target.hash = ""
  return target.href
}

// ---- errors ------------------------------------------------------------------------------------------------------

/** An httpfx failure of the exchange, in platform's terms; `cause` keeps the httpfx error for catchTag on it. */
export const toRequestError = (
  request: HttpClientRequest.HttpClientRequest,
  error: unknown
): HttpClientError.RequestError => {
  if (!HttpError.isHttpError(error)) {
    // Not ours, so it came from the request body's own stream.
    return encodeError(request, `the request body stream failed: ${describe(error)}`, error)
  }
  const reason = error._tag === "InvalidUrl" || error._tag === "UnsupportedProtocol"
    ? "InvalidUrl"
    : error._tag === "LocalProtocolError"
    ? "Encode"
    // Everything else failed on the network or in the exchange, and is what retryTransient should retry: connect,
    // read and write errors and timeouts, a peer that broke HTTP, a proxy, too many redirects.
    : "Transport"
  return new HttpClientError.RequestError({ request, reason, cause: error, description: withoutRequest(error) })
}

/** Platform's message ends with the method and URL already: drop our own leading copy. */
const withoutRequest = (error: HttpError.HttpError): string => {
  const prefix = error.request === undefined ? undefined : `${error.request.method} ${error.request.url}: `
  return prefix !== undefined && error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message
}

const describe = (u: unknown): string =>
  u instanceof Error ? u.message : typeof u === "object" && u !== null && "message" in u ? String(u.message) : String(u)

// ---- responses ---------------------------------------------------------------------------------------------------

type BufferedExit = Exit.Exit<Response, HttpClientError.ResponseError>

type BodyState =
  | { readonly _tag: "Unread" }
  | { readonly _tag: "Streamed" }
  /** a buffered read is under way; others who want the body wait for its outcome */
  | { readonly _tag: "Reading"; readonly waiters: Array<(exit: BufferedExit) => void> }
  | ReadState

/**
 * A read that has finished. A class rather than a literal: it lives as long as its response and holds the body, and
 * V8 may decide to allocate a literal site's objects straight in the old generation, where each would keep its body
 * alive until a full collection.
 */
class ReadState {
  readonly _tag = "Read"
  constructor(readonly exit: BufferedExit) {}
}

/** Every response starts here: one state for all of them, not an object per response. */
const unread: BodyState = { _tag: "Unread" }

/** A fresh ArrayBuffer of exactly the body: `content` may be a view into a larger (pooled) buffer. */
const arrayBufferOf = ({ content }: Response): ArrayBuffer => {
  const copy = new Uint8Array(content.byteLength)
  copy.set(content)
  return copy.buffer
}

/** Decoded per the Content-Type charset, utf-8 by default. */
const textOf = (response: Response): string => response.text

/**
 * A platform HttpClientResponse over an httpfx StreamingResponse. The buffered accessors (text, json, arrayBuffer,
 * formData, urlParamsBody) share one read of the body, so any of them can be used any number of times. `stream`
 * reads the body as it comes; after a buffered read it replays the buffer, but a streamed body is gone once read.
 */
class PlatformResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  private state: BodyState = unread
  /** whether the response is to be let go when collected unread (`watchCollection`) */
  private watched = false
  private cachedCookies: Cookies.Cookies | undefined
  /** the body, once a buffered read has finished */
  private cached: Response | undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    /** the httpfx response: its body lives until `releaser` runs */
    readonly source: StreamingResponse,
    /** lets the body go; undefined when the response alone owns its exchange, and lets go with its `abandon` */
    private readonly releaser: Effect.Effect<void> | undefined
  ) {
    super()
  }

  /** Run `release` if this response is garbage-collected before a read of its body begins. */
  watchCollection(release: () => void): void {
    this.watched = true
    releaseWhenCollected(this, release)
  }

  private unwatch(): void {
    if (!this.watched) return
    this.watched = false
    readStarted(this)
  }

  get status(): number {
    return this.source.status
  }

  get statusText(): string {
    return this.source.reasonPhrase
  }

  get headers(): Headers.Headers {
    return this.source.headers
  }

  get cookies(): Cookies.Cookies {
    // From the field lines one by one: a joined Set-Cookie header cannot be split again (Expires has a comma).
    return this.cachedCookies ??= Cookies.fromSetCookie(
      this.source.rawHeaders.filter(([name]) => name.toLowerCase() === "set-cookie").map(([, value]) => value)
    )
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  /** Release the connection now: closed if the body is unread, a no-op once its last byte is in. */
  get release(): Effect.Effect<void> {
    return this.releaser ?? Effect.sync(() => (this.source as OwnedResponse).abandon())
  }

  private decodeError(description: string, cause?: unknown): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({
      request: this.request,
      response: this,
      reason: "Decode",
      description,
      cause
    })
  }

  private bodyError(error: HttpError.HttpError): HttpClientError.ResponseError {
    return this.decodeError(withoutRequest(error), error)
  }

  private consumed(): HttpClientError.ResponseError {
    return this.decodeError(
      "the body was already read by `stream`, which keeps nothing; read it with text, json or arrayBuffer " +
        "first to use it more than once"
    )
  }

  /** The whole body, read once and shared: the first caller reads, later and concurrent callers wait for it. */
  get buffered(): Effect.Effect<Response, HttpClientError.ResponseError> {
    return Effect.suspend(() => {
      const state = this.state
      switch (state._tag) {
        case "Streamed":
          return Effect.fail(this.consumed())
        case "Read":
          return state.exit
        case "Reading":
          return Effect.async<Response, HttpClientError.ResponseError>((resume) => {
            state.waiters.push(resume)
          })
        case "Unread": {
          this.unwatch()
          const whole = this.source instanceof StreamingBase ? this.source.readNow() : undefined
          if (whole !== undefined) return this.readAtOnce(whole)
          const waiters: Array<(exit: BufferedExit) => void> = []
          this.state = { _tag: "Reading", waiters }
          return Effect.onExit(Effect.mapError(this.source.read, (error) => this.bodyError(error)), (exit) => {
            // Waiters must not hang, nor be interrupted by someone else's interruption: they get a failure instead.
            const shared = Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
              ? Exit.fail(this.decodeError("the body was being read by a fiber that was interrupted; it is lost"))
              : exit
            if (Exit.isSuccess(exit)) this.cached = exit.value
            this.state = new ReadState(shared)
            for (const waiter of waiters) waiter(shared)
            return this.release
          })
        }
      }
    })
  }

  /**
   * The body was all in when first asked for: kept as a read that has finished. An exchange the response owns alone
   * has nothing left to let go; a scope of its own is closed, as after any read.
   */
  private readAtOnce(whole: Response): Effect.Effect<Response> {
    const exit = Exit.succeed(whole)
    this.cached = whole
    this.state = new ReadState(exit)
    return this.releaser === undefined ? exit : Effect.as(this.releaser, whole)
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.map(this.buffered, arrayBufferOf)
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.map(this.buffered, textOf)
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        // As platform's own clients: an empty body is null, not a parse error (204, or a 200 with nothing).
        try: () => (text === "" ? null : JSON.parse(text)),
        catch: (cause) =>
          this.decodeError(
            `the body is not valid JSON: ${describe(cause)} (it starts ${JSON.stringify(text.slice(0, 40))})`,
            cause
          )
      }))
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.map(this.text, (text) => UrlParams.fromInput(new URLSearchParams(text)))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.flatMap(this.buffered, (response) =>
      Effect.tryPromise({
        // The runtime's multipart and urlencoded parser, over the buffered bytes.
        try: () =>
          new globalThis.Response(response.content as BodyInit, {
            headers: { "content-type": this.headers["content-type"] ?? "" }
          }).formData(),
        catch: (cause) => this.decodeError(`the body is not form data: ${describe(cause)}`, cause)
      }))
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.suspend(() => {
      const state = this.state
      if (state._tag === "Streamed") return Stream.fail(this.consumed())
      if (state._tag === "Reading" || state._tag === "Read") {
        return Stream.filter(
          Stream.map(Stream.fromEffect(this.buffered), (response) => response.content),
          (chunk) => chunk.length > 0
        )
      }
      this.unwatch()
      this.state = { _tag: "Streamed" }
      // However the stream ends (last byte, failure, interruption) the scope goes: early, that closes the connection.
      return Stream.ensuring(Stream.mapError(this.source.stream, (error) => this.bodyError(error)), this.release)
    })
  }

  toJSON(): unknown {
    // Unlike HttpIncomingMessage.inspect, never start a read: printing a response must not consume its body.
    // Platform redacts headers only inside a fiber that asks it to; printed anywhere, no secret is shown.
    const request = this.request.toJSON() as Record<string, unknown>
    const out: Record<string, unknown> = {
      _id: "@effect/platform/HttpClientResponse",
      request: { ...request, url: withoutUserinfo(this.request.url), headers: printableHeaders(this.request.headers) },
      status: this.status,
      headers: printableHeaders(this.headers),
      remoteAddress: this.remoteAddress.toJSON()
    }
    const cached = this.cached
    if (cached !== undefined) {
      const contentType = this.headers["content-type"] ?? ""
      if (contentType.includes("json")) {
        try {
          out.body = cached.text === "" ? null : JSON.parse(cached.text)
        } catch {
          out.body = cached.text
        }
      } else if (contentType.includes("text/") || contentType.includes("urlencoded")) {
        out.body = cached.text
      }
    }
    return out
  }
}

// ---- the client --------------------------------------------------------------------------------------------------

/** Close `scope` when `withScope`'s signal aborts: when the caller's scope closes. */
const closeOnAbort = (signal: AbortSignal, scope: Scope.CloseableScope): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (signal.aborted) return Scope.close(scope, Exit.void)
    const onAbort = () => {
      Effect.runFork(Scope.close(scope, Exit.void))
    }
    signal.addEventListener("abort", onAbort, { once: true })
    return Scope.addFinalizer(scope, Effect.sync(() => signal.removeEventListener("abort", onAbort)))
  })

/**
 * The request's body, when it is in memory already: the encoding needs no Effect, and the request may take the
 * short way. Undefined for the others.
 */
const inMemory = (request: HttpClientRequest.HttpClientRequest): Encoded | undefined => {
  const body = request.body
  return body._tag === "Empty" ? emptyEncoded : body._tag === "Uint8Array" ? bytes(body.body) : undefined
}

const emptyEncoded: Encoded = { body: { _tag: "Empty" } }

/**
 * The short way, when the client's pipeline is its bare pool (`ClientImpl.open`): one `Effect.async` on the pool,
 * no Scope. The exchange is the response's to release: a read of the body, `stream`'s end or `release` lets it go,
 * and so does `withScope`'s signal, or the response being collected unread. One that is finished at hand-over (a
 * small body comes with its head) has nothing left to let go, and is watched by neither.
 */
const executeOpened = (
  request: HttpClientRequest.HttpClientRequest,
  opening: Opening,
  scoped: AbortSignal | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.matchCauseEffect(restore(opening.head), {
      onFailure: (cause) => {
        // Interrupted as the head came in, the response never reaches platform: let its exchange go.
        opening.abandon()
        return Effect.failCause(Cause.map(cause, (error) => toRequestError(request, error)))
      },
      onSuccess: (source) => {
        const response = new PlatformResponse(request, source, undefined)
        if (source.unfinished) {
          // The release holds the exchange, not the platform response, so an unread response can still be collected.
          const abandon = () => source.abandon()
          if (scoped === undefined) response.watchCollection(abandon)
          else if (scoped.aborted) abandon()
          else scoped.addEventListener("abort", abandon, { once: true })
        }
        return Effect.succeed(response)
      }
    })
  )

/** The way every request can take: the response in a Scope of its own, closed by a read, `withScope` or collection. */
const executeScoped = (
  client: Client,
  request: HttpClientRequest.HttpClientRequest,
  built: Request,
  scoped: AbortSignal | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Scope.make(), (scope) =>
      Effect.matchCauseEffect(
        restore(Scope.extend(client.send(built, { stream: true }), scope)),
        {
          onFailure: (cause) =>
            Effect.zipRight(
              Scope.close(scope, Exit.failCause(cause)),
              Effect.failCause(Cause.map(cause, (error) => toRequestError(request, error)))
            ),
          onSuccess: (source) => {
            const close = Scope.close(scope, Exit.void)
            const response = new PlatformResponse(request, source, close)
            if (scoped !== undefined) return Effect.as(closeOnAbort(scoped, scope), response)
            response.watchCollection(() => Effect.runFork(close))
            return Effect.succeed(response)
          }
        }
      ))
  )

/** Every platform request enters the client's pipeline: with no Scope when the pipeline can (see `executeOpened`). */
const execute = (
  client: Client,
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  scoped: AbortSignal | undefined,
  encoded: Encoded
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
  const built = toRequest(client, request, url, encoded)
  const opening = scoped?.aborted === true ? undefined : implOf(client)?.open(built)
  return opening === undefined ? executeScoped(client, request, built, scoped) : executeOpened(request, opening, scoped)
}

/** A platform HttpClient that sends with the given httpfx client. */
export const fromClient = (client: Client): HttpClient.HttpClient =>
  make((request, url, scoped) => {
    const encoded = inMemory(request)
    return encoded !== undefined
      ? execute(client, request, url, scoped, encoded)
      : Effect.flatMap(encodeBody(request), (encoded) => execute(client, request, url, scoped, encoded))
  })
