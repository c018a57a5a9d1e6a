/**
 * `client.sse`: an event stream (WHATWG HTML, "Server-sent events") read through the client's own `stream`, so the
 * pipeline (auth, cookies, default headers, redirects, TLS, proxies, timeouts) applies to every connection, the
 * reconnections included. It reconnects as EventSource does: after the body ends or a transport error, once the
 * reconnection time has passed, with `Last-Event-ID`; a 204 ends it; another status or content type fails it.
 */
import * as Headers from "@effect/platform/Headers"
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { DecodingError, HttpStatusError, LocalProtocolError, ResponseTooLarge } from "../../HttpError.js"
import * as HttpError from "../../HttpError.js"
import type { StreamingResponse } from "../message/response.js"
import type { TimeoutInput } from "../core/timeouts.js"
import { durationProblem, setsRead } from "../core/timeouts.js"
import { DEFAULT_MAX_EVENT_SIZE, EventStreamParser } from "../wire/eventStream.js"
import type { ServerSentEvent } from "../wire/eventStream.js"
import type { ClientImpl } from "./client.js"
import type { RequestOptions } from "./options.js"

/**
 * The options of `client.sse`: a request's, plus the last event ID to resume from and the reconnection time to use
 * until the server sends one.
 *
 * @since 0.3.0
 * @category models
 */
export interface SseOptions extends RequestOptions {
  /** sent as `Last-Event-ID` on the first connection, until the server sets another [none] */
  readonly lastEventId?: string | undefined
  /** the wait before reconnecting until the server's `retry:` field sets one [3 seconds] */
  readonly retry?: Duration.DurationInput | undefined
}

/** The reconnection time of the WHATWG rules before the server or the caller sets one (browsers use 3 s too). */
const DEFAULT_RETRY_MS = 3_000

const baseHeaders: Headers.Headers = Headers.fromInput({ accept: "text/event-stream", "cache-control": "no-store" })

/** The end of the stream the server asked for (204): not an error, so not an HttpError either. */
class Ended {
  readonly _tag = "Ended"
}

const ended = new Ended()

/**
 * Failures after which EventSource reconnects: the network and the exchange (a refused connect, a reset, a read or
 * connect timeout, a malformed response). Not a request that can never be sent (`LocalProtocolError`,
 * `UnsupportedProtocol`), nor anything about the response itself (status, content type, size, decoding).
 */
const reconnects = (error: HttpError.HttpError): boolean =>
  HttpError.isTransportError(error) && error._tag !== "LocalProtocolError" && error._tag !== "UnsupportedProtocol"

/**
 * The call's `timeout`, with no read timeout unless the caller or the client set one: an event stream may be quiet
 * for as long as the server likes, and EventSource keeps it open. One that was set still applies (and its
 * `ReadTimeout` reconnects).
 */
const timeoutFor = (given: TimeoutInput | undefined, clientSetsRead: boolean): TimeoutInput | undefined =>
  setsRead(given) || clientSetsRead ? given : { ...(given as object | undefined), read: null }

/**
 * `Last-Event-ID` as EventSource sends it: the ID's UTF-8 bytes, given as the Latin-1 string a field value is written
 * as. Undefined for an ID a field cannot carry (a control character), which is not sent.
 */
const lastEventIdField = (id: string): string | undefined => {
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(id)) return undefined
  return Buffer.from(id, "utf8").toString("latin1")
}

/** The media type of a Content-Type value, lower-cased, without its parameters. */
const mediaType = (value: string | undefined): string =>
  value === undefined ? "" : value.split(";", 1)[0]!.trim().toLowerCase()

/** Why a response cannot be read as an event stream, `ended` for a 204; undefined when it can. */
const refusal = (response: StreamingResponse): HttpError.HttpError | Ended | undefined => {
  const request = { method: response.request.method, url: response.url }
  if (response.status === 204) return ended
  if (response.status < 200 || response.status > 299) {
    return new HttpStatusError({
      message: `${request.method} ${request.url}: the event stream answered '${response.status} ` +
        `${response.reasonPhrase}'; it needs a 2xx response (or 204 to end the stream)`,
      request,
      response
    })
  }
  const type = response.headers["content-type"]
  if (mediaType(type) === "text/event-stream") return undefined
  return new DecodingError({
    message: `${request.method} ${request.url}: expected an event stream (Content-Type: text/event-stream), got ` +
      (type === undefined ? "no Content-Type" : JSON.stringify(type)) + "; check the URL, or that the server " +
      "streams events there",
    request
  })
}

const tooLarge = (response: StreamingResponse, parser: EventStreamParser): ResponseTooLarge => {
  const what = parser.tooLarge === "line" ? "a line" : "the data of an event"
  return new ResponseTooLarge({
    message: `${response.request.method} ${response.url}: ${what} of the event stream is longer than ` +
      `${parser.maxEventSize} characters; raise limits.maxBodySize (for sse, the largest line or event) to accept it`,
    request: { method: response.request.method, url: response.url },
    limit: parser.maxEventSize
  })
}

/** Body bytes in, events out, failing typed. */
type EventChannel = Channel.Channel<
  Chunk.Chunk<ServerSentEvent>,
  Chunk.Chunk<Uint8Array>,
  HttpError.HttpError,
  HttpError.HttpError,
  unknown,
  unknown
>

/** Body chunks in, events out; fails as soon as a line or an event passes the parser's limit. */
const parse = (
  parser: EventStreamParser,
  response: StreamingResponse
): EventChannel => {
  const loop: EventChannel = Channel.readWithCause({
    onInput: (chunk: Chunk.Chunk<Uint8Array>) => {
      const events: Array<ServerSentEvent> = []
      for (const bytes of chunk) parser.push(bytes, events)
      // The events before the line that was too long are delivered, then the stream fails.
      const next = parser.tooLarge === undefined ? loop : Channel.fail(tooLarge(response, parser))
      return events.length === 0 ? next : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(events)), next)
    },
    onFailure: Channel.failCause,
    onDone: () => Channel.void
  })
  return loop
}

/** The stream of events of `url` from `client`; see `Client.sse`. */
export const sse = (
  client: ClientImpl,
  url: string | URL,
  options?: SseOptions
): Stream.Stream<ServerSentEvent, HttpError.HttpError> =>
  Stream.suspend(() => {
    const problem = durationProblem("retry", options?.retry)
    if (problem !== undefined) {
      return Stream.fail(
        new LocalProtocolError({
          message: `GET ${String(url)}: sse's ${problem}`,
          request: { method: "GET", url: String(url) }
        })
      )
    }
    const { lastEventId, retry, ...given } = options ?? {}
    const retryMs = retry === undefined ? DEFAULT_RETRY_MS : Duration.toMillis(Duration.decode(retry))
    // For sse, `limits.maxBodySize` bounds a line and an event: the stream itself has no end to bound.
    const maxEventSize = given.limits?.maxBodySize ?? client.maxBodySize ?? DEFAULT_MAX_EVENT_SIZE
    const parser = new EventStreamParser(maxEventSize, lastEventId)
    const headers = given.headers === undefined
      ? baseHeaders
      : Headers.merge(baseHeaders, Headers.fromInput(given.headers))
    const request: RequestOptions = {
      ...given,
      timeout: timeoutFor(given.timeout, client.readTimeoutSet),
      limits: { ...given.limits, maxBodySize: Infinity }
    }

    const connection = Stream.unwrapScoped(Effect.suspend(() => {
      parser.reset()
      const id = parser.lastEventId === "" ? undefined : lastEventIdField(parser.lastEventId)
      const withId = id === undefined ? headers : Headers.set(headers, "last-event-id", id)
      return Effect.map(
        client.stream("GET", url, { ...request, headers: withId }),
        (response): Stream.Stream<ServerSentEvent, HttpError.HttpError | Ended> => {
          const refused = refusal(response)
          if (refused !== undefined) return Stream.fail(refused)
          return Stream.pipeThroughChannel(response.stream, parse(parser, response))
        }
      )
    }))

    // After the body ends or the connection fails: wait the reconnection time, then connect again.
    const wait = Stream.execute(Effect.suspend(() => Effect.sleep(Duration.millis(parser.retry ?? retryMs))))
    const attempt = connection.pipe(
      Stream.catchAll((error) => error instanceof Ended || !reconnects(error) ? Stream.fail(error) : Stream.empty),
      Stream.concat(wait)
    )
    return Stream.forever(attempt).pipe(Stream.catchTag("Ended", () => Stream.empty))
  })
