/**
 * Transports with no socket: a mock that answers each request with a web Response (httpx's MockTransport), and an
 * in-process web app, fetch-style or an @effect/platform HttpApp (httpx's ASGITransport). Bodies stream both ways.
 *
 * The app's own failures are not HTTP failures: a handler that throws, rejects or fails makes the request die with
 * that original error (httpx's `raise_app_exceptions`), so a test sees the app's exception, not a 500. The exception
 * is an httpfx error (a `ReadTimeout`, a `ConnectError` …): that is a test simulating the network, so the request
 * fails with it, typed, as it would over a socket.
 *
 * Each gives the transport's `handle`; Transport.ts (above this module) makes it a Transport.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerRespondable from "@effect/platform/HttpServerRespondable"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { reasonPhrase } from "../core/builtins.js"
import { printableValue } from "../core/credentials.js"
import * as HttpError from "../../HttpError.js"
import { LocalProtocolError, ReadError } from "../../HttpError.js"
import type { Request } from "../message/request.js"
import { StreamBodyResponse } from "../message/response.js"
import type { StreamingResponse } from "../message/response.js"
import type { Handle } from "./poolTransport.js"

type MockHandler = (
  request: Request
) => Effect.Effect<globalThis.Response, unknown> | globalThis.Response | Promise<globalThis.Response>

type FetchHandler = (request: globalThis.Request) => globalThis.Response | Promise<globalThis.Response>

// ---- web Response → StreamingResponse -----------------------------------------------------------------------------

const infoOf = (request: Request) => ({ method: request.method, url: request.url })

/**
 * An httpfx error the app raised, as the request's failure. One that names no request gets this one, and the method
 * and URL in front of its message as every httpfx message has them; a copy of its own class, so `catchTag` and
 * `instanceof` still see what the test made.
 */
const ownedBy = (error: HttpError.HttpError, request: Request): HttpError.HttpError => {
  if (error.request !== undefined) return error
  const prefix = `${request.method} ${request.url}`
  const message = error.message === "" ? `${prefix}: ${error._tag}` : `${prefix}: ${error.message}`
  const Class = error.constructor as new(props: object) => HttpError.HttpError
  return new Class({
    ...error,
    message,
    request: infoOf(request),
    ...(error.cause === undefined ? {} : { cause: error.cause })
  })
}

/** The head fields as a flat list; `getSetCookie` because a web Headers object would join Set-Cookie lines. */
const flatHeadersOf = (headers: globalThis.Headers): Array<string> => {
  const flat: Array<string> = []
  headers.forEach((value, name) => {
    if (name !== "set-cookie") flat.push(name, value)
  })
  for (const line of headers.getSetCookie()) flat.push("set-cookie", line)
  return flat
}

const asBytes = (chunk: unknown): Uint8Array | undefined =>
  chunk instanceof Uint8Array
    ? chunk
    : ArrayBuffer.isView(chunk)
    ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    : chunk instanceof ArrayBuffer
    ? new Uint8Array(chunk)
    : undefined

/**
 * A web Response as our streaming response. The body is read one chunk per pull, so a slow app's first bytes reach
 * the caller before it finishes; `close` (and the end of the scope) cancels the body, which an app sees as its
 * ReadableStream's `cancel`. `onAbandon` runs when the body is closed before its end.
 */
const fromWebResponse = (
  request: Request,
  web: globalThis.Response,
  startedAt: number,
  onAbandon: () => void
): StreamingResponse => {
  const info = infoOf(request)
  const head = {
    status: web.status,
    reasonPhrase: web.statusText !== "" ? web.statusText : reasonPhrase(web.status),
    httpVersion: "HTTP/1.1" as const,
    flatHeaders: flatHeadersOf(web.headers),
    url: request.url,
    request
  }
  const source = web.body
  if (source === null) return new StreamBodyResponse(head, Stream.empty, Effect.void, startedAt)
  if (request.method === "HEAD") {
    // A HEAD response has no body whatever the app wrote, as on the wire (RFC 9110 §9.3.2).
    source.cancel().catch(() => undefined)
    return new StreamBodyResponse(head, Stream.empty, Effect.void, startedAt)
  }

  const reader = source.getReader()
  let finished = false
  const close = Effect.suspend(() => {
    if (finished) return Effect.void
    finished = true
    onAbandon()
    // Cancelling resolves a pending read with `done` and runs the app's `cancel`; a failing cancel is the app's.
    return Effect.promise(() => reader.cancel().catch(() => undefined))
  })
  const pull: Effect.Effect<Uint8Array, Option.Option<HttpError.HttpError>> = Effect.flatMap(
    Effect.tryPromise({
      try: () => reader.read(),
      catch: (cause) =>
        Option.some(
          HttpError.isHttpError(cause) ? ownedBy(cause, request) : new ReadError({
            message: `${request.method} ${request.url}: the in-process response body failed: ${String(cause)}`,
            request: info,
            cause
          })
        )
    }),
    (result): Effect.Effect<Uint8Array, Option.Option<HttpError.HttpError>> => {
      if (result.done) {
        finished = true
        return Effect.fail(Option.none())
      }
      const bytes = asBytes(result.value)
      if (bytes !== undefined) return Effect.succeed(bytes)
      return Effect.fail(Option.some(
        new ReadError({
          message: `${request.method} ${request.url}: the in-process response body gave a ${typeof result
            .value} chunk; a body stream must give Uint8Array chunks`,
          request: info
        })
      ))
    }
  )
  // Ending early (an error, `take`, interruption) releases the body at once rather than when the scope closes.
  const body = Stream.ensuring(Stream.repeatEffectOption(pull), close)
  return new StreamBodyResponse(head, body, close, startedAt)
}

/** The response belongs to the scope: closing the scope cancels its body if nobody finished it. */
const owned = (
  produce: Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope>
): Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.tap(restore(produce), (response) => Effect.addFinalizer(() => response.close))
  )

const notAResponse = (what: string, value: unknown) =>
  new TypeError(`${what} returned ${value === null ? "null" : typeof value}, not a web Response`)

/**
 * The app's error as it threw it: an error raised inside a span (platform's tracer opens one per request) is carried
 * in the Cause as a proxy holding the span, and a test comparing with `toBe` must get the original object.
 */
const appError = (error: unknown): unknown => Cause.originalError(error)

/** The app's exception: an httpfx error fails the request with it, typed; anything else is a defect. */
const raise = (error: unknown, request: Request): Effect.Effect<never, HttpError.HttpError> =>
  HttpError.isHttpError(error) ? Effect.fail(ownedBy(error, request)) : Effect.die(error)

/** The app's failure as the request's (see `raise`), interruption kept as interruption. */
const appFailed = <A, E>(effect: Effect.Effect<A, E>, request: Request): Effect.Effect<A, HttpError.HttpError> =>
  Effect.catchAllCause(effect, (cause) =>
    // Interruption is the caller's, not the app's failure.
    Cause.isInterruptedOnly(cause)
      ? Effect.failCause(cause as Cause.Cause<never>)
      : raise(appError(Cause.squash(cause)), request))

// ---- mock ----------------------------------------------------------------------------------------------------------

const isPromise = (u: unknown): u is PromiseLike<unknown> =>
  typeof (u as { then?: unknown } | null)?.then === "function"

const mockAnswer = (
  handler: MockHandler,
  request: Request
): Effect.Effect<globalThis.Response, HttpError.HttpError> =>
  appFailed(
    Effect.suspend((): Effect.Effect<globalThis.Response, unknown> => {
      const answer = handler(request)
      if (Effect.isEffect(answer)) return answer
      // A rejection is the app's exception, as a throw is; `promise` would make it a defect that `appFailed` squashes.
      if (isPromise(answer)) return Effect.tryPromise({ try: () => answer, catch: (error) => error })
      return Effect.succeed(answer)
    }),
    request
  )

export const mock = (handler: MockHandler): Handle => (request) =>
  owned(Effect.suspend(() => {
    const startedAt = performance.now()
    return Effect.flatMap(mockAnswer(handler, request), (web) =>
      web instanceof globalThis.Response
        ? Effect.succeed(fromWebResponse(request, web, startedAt, () => {}))
        : Effect.die(notAResponse("Transport.mock: the handler", web)))
  }))

// ---- request → web Request ----------------------------------------------------------------------------------------

/**
 * Our streamed body as a web ReadableStream that pulls one chunk from the Effect stream per read, so a body reaches
 * the app as it is produced, never buffered. The stream's resources belong to `scope`.
 */
const toReadableStream = (
  stream: Stream.Stream<Uint8Array, unknown>,
  onError: (error: unknown) => void
): Effect.Effect<ReadableStream<Uint8Array>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const runtime = yield* Effect.runtime<never>()
    const pull = yield* Stream.toPull(stream)
    const run = Runtime.runPromise(runtime)
    return new ReadableStream<Uint8Array>({
      pull: (controller) =>
        run(Effect.match(pull, {
          onFailure: (error) => {
            if (Option.isNone(error)) return controller.close()
            onError(error.value)
            controller.error(error.value)
          },
          onSuccess: (chunk) => {
            for (const bytes of Chunk.toReadonlyArray(chunk)) controller.enqueue(bytes)
          }
        })).catch((cause) => controller.error(cause)),
      // The app stopped reading: release the stream now rather than at the end of the response.
      cancel: () => run(Scope.close(scope as Scope.CloseableScope, Exit.void)).catch(() => undefined)
    }, { highWaterMark: 0 })
  })

const toWebRequest = (
  request: Request,
  signal: AbortSignal,
  onBodyError: (error: unknown) => void
): Effect.Effect<globalThis.Request, HttpError.HttpError, Scope.Scope> =>
  Effect.gen(function*() {
    const headers = new globalThis.Headers()
    const init: RequestInit & { duplex?: "half" } = { method: request.method, headers, signal }
    for (const [name, value] of Object.entries(request.headers)) {
      try {
        headers.append(name, value)
      } catch {
        // The runtime's message quotes the value: say the same without it when it is a credential or a cookie.
        return yield* Effect.fail(
          new LocalProtocolError({
            message: `${request.method} ${request.url}: cannot be given to an in-process app: the value of header ` +
              `${JSON.stringify(name)} is not a valid header value: ${JSON.stringify(printableValue(name, value))}`,
            request: infoOf(request)
          })
        )
      }
    }
    const body = request.body
    // The fetch standard forbids a body on GET and HEAD.
    if (request.method !== "GET" && request.method !== "HEAD" && body._tag !== "Empty") {
      if (body._tag === "Bytes") {
        init.body = body.bytes as Uint8Array<ArrayBuffer>
      } else {
        // The body stream gets a scope of its own inside the response's, so an app that cancels it frees it early.
        const parent = yield* Effect.scope
        const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
        init.body = yield* Effect.provideService(toReadableStream(body.stream, onBodyError), Scope.Scope, scope)
        // Node's fetch streams a ReadableStream body only in half-duplex mode.
        init.duplex = "half"
      }
    }
    return new globalThis.Request(request.url, init)
  }).pipe(
    Effect.catchAllDefect((cause) =>
      Effect.fail(
        new LocalProtocolError({
          message: `${request.method} ${request.url}: cannot be given to an in-process app: ${String(cause)}`,
          request: infoOf(request),
          cause
        })
      )
    )
  )

// ---- in-process apps ----------------------------------------------------------------------------------------------

/**
 * One exchange with an in-process app: a web Request built from ours, the app's web Response made ours. The request's
 * abort signal fires when the caller gives up (interruption, or closing the body before its end), as a server's does
 * when its client disconnects. A streamed request body that fails shows to the app only as a rejected read; the
 * request then fails with that stream's own error, as it does over the pool.
 */
const inProcess = (
  request: Request,
  respond: (
    web: globalThis.Request,
    bodyError: () => Option.Option<unknown>
  ) => Effect.Effect<globalThis.Response, HttpError.HttpError>
): Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope> =>
  owned(Effect.suspend(() => {
    const startedAt = performance.now()
    const controller = new AbortController()
    let bodyError: Option.Option<unknown> = Option.none()
    const onBodyError = (error: unknown) => {
      bodyError = Option.some(error)
    }
    return Effect.flatMap(toWebRequest(request, controller.signal, onBodyError), (web) =>
      respond(web, () => bodyError).pipe(
        Effect.onInterrupt(() => Effect.sync(() => controller.abort())),
        Effect.flatMap((answer) => {
          const response = fromWebResponse(request, answer, startedAt, () => controller.abort())
          return Option.isSome(bodyError)
            ? Effect.zipRight(response.close, Effect.fail(bodyError.value as HttpError.HttpError))
            : Effect.succeed(response)
        })
      ))
  }))

/** The app's failure: the request body's own error when that is what broke it, else the app's exception. */
const appFailure = (
  cause: unknown,
  bodyError: Option.Option<unknown>,
  request: Request
): Effect.Effect<never, HttpError.HttpError> =>
  Option.isSome(bodyError) ? Effect.fail(bodyError.value as HttpError.HttpError) : raise(appError(cause), request)

const fromFetchHandler = (fetchHandler: FetchHandler): Handle => (request) =>
  inProcess(request, (web, bodyError) =>
    Effect.async<globalThis.Response, HttpError.HttpError>((resume) => {
      let answer: globalThis.Response | Promise<globalThis.Response>
      try {
        answer = fetchHandler(web)
      } catch (cause) {
        return resume(appFailure(cause, bodyError(), request))
      }
      Promise.resolve(answer).then(
        (response) =>
          resume(
            response instanceof globalThis.Response
              ? Effect.succeed(response)
              : Effect.die(notAResponse("Transport.handler: the fetch handler", response))
          ),
        (cause) => resume(appFailure(cause, bodyError(), request))
      )
    }))

// ---- @effect/platform HttpApp --------------------------------------------------------------------------------------

/**
 * Whether platform answers this failure with a response of its own (RouteNotFound → 404, a Respondable error, a
 * ParseError → 400, a response used as an error), as a web framework answers its HTTP exceptions: those are
 * answers, not app errors.
 */
const isAnswered = (error: unknown): boolean =>
  HttpServerResponse.isServerResponse(error) || HttpServerRespondable.isRespondable(error) ||
  ParseResult.isParseError(error) || Cause.isNoSuchElementException(error)

/** The first failure or defect platform turned into a bare 500: the app's own error. */
const unansweredError = (cause: Cause.Cause<unknown>): Option.Option<unknown> => {
  for (const error of Cause.failures(cause)) if (!isAnswered(error)) return Option.some(error)
  for (const defect of Cause.defects(cause)) {
    if (!HttpServerResponse.isServerResponse(defect) && !HttpServerRespondable.isRespondable(defect)) {
      return Option.some(defect)
    }
  }
  return Option.none()
}

const fromHttpApp = <E>(app: HttpApp.Default<E, Scope.Scope>): Handle => (request) =>
  inProcess(request, (web, bodyError) =>
    Effect.gen(function*() {
      const runtime = yield* Effect.runtime<never>()
      let answer: HttpServerResponse.HttpServerResponse | undefined
      // toHandled gives the app platform's error handling and request scope; a streamed response keeps that scope
      // open until its body ends or is cancelled, as platform's own web handler does. The app itself is made
      // interruptible (toHandled is not), so a client timeout or interruption stops it.
      const handled = HttpApp.toHandled(Effect.interruptible(app), (_request, response) =>
        Effect.sync(() => {
          answer = HttpApp.unsafeEjectStreamScope(response)
        }))
      const exit = yield* Effect.exit(
        Effect.provideService(handled, HttpServerRequest.HttpServerRequest, HttpServerRequest.fromWeb(web))
      )
      if (Exit.isFailure(exit)) {
        const unanswered = unansweredError(exit.cause)
        if (Option.isSome(unanswered)) return yield* appFailure(unanswered.value, bodyError(), request)
        if (answer === undefined) return yield* raise(appError(Cause.squash(exit.cause)), request)
      }
      return HttpServerResponse.toWeb(answer!, { withoutBody: web.method === "HEAD", runtime })
    }))

export const handler = (appOrHandler: HttpApp.Default<unknown, Scope.Scope> | FetchHandler): Handle =>
  Effect.isEffect(appOrHandler)
    ? fromHttpApp(appOrHandler as HttpApp.Default<unknown, Scope.Scope>)
    : fromFetchHandler(appOrHandler as FetchHandler)
