/**
 * Redirects (RFC 9110 §15.4), as httpx follows them: each hop goes down the rest of the pipeline (retries, cookies,
 * hooks) as a request of its own, and every response carries the hops before it as its `history`.
 */
import * as Headers from "@effect/platform/Headers"
import * as Effect from "effect/Effect"
import { StreamConsumed, TooManyRedirects } from "../../HttpError.js"
import * as HttpError from "../../HttpError.js"
import type { Request } from "../message/request.js"
import { copy as copyRequest } from "../message/request.js"
import { findHeader } from "../message/response.js"
import type { HeadBase, Response, ResponseHead, StreamingBase, StreamingResponse } from "../message/response.js"
import { withoutUserinfo } from "../core/url.js"
import * as Transport from "../transport/transport.js"
import { flatOf } from "./cookies.js"

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])

/** The fields that describe a body, which go with it when a redirect drops it. */
const BODY_FIELDS = ["content-length", "content-type", "transfer-encoding"] as const

const sameOrigin = (a: URL, b: URL) => a.protocol === b.protocol && a.host === b.host

/**
 * The next hop of a redirect, as httpx builds it (RFC 9110 §15.4): 303 turns every method but HEAD into GET,
 * 301/302 turn POST into GET (as browsers do), 307/308 keep method and body. Authorization goes when the origin
 * changes, except on an upgrade of the same host from http (port 80) to https (port 443); Proxy-Authorization goes
 * on every change of origin, the upgrade included, since an https request travels through a tunnel and the field
 * would reach the origin server. Credentials in a Location are dropped, not used: where credentials go is the
 * caller's choice.
 */
const redirectRequest = (
  request: Request,
  response: ResponseHead,
  location: string
): Request | HttpError.HttpError => {
  let next: URL
  try {
    next = new URL(location, response.url)
  } catch {
    return new HttpError.RemoteProtocolError({
      message: `${request.method} ${request.url}: the server redirected to an invalid Location ` +
        JSON.stringify(withoutUserinfo(location)),
      request: { method: request.method, url: request.url }
    })
  }
  if (next.username !== "" || next.password !== "") {
    next.username = ""
    next.password = ""
  }
  const previous = new URL(request.url)
  if (next.hash === "" && previous.hash !== "") next.hash = previous.hash
  const status = response.status
  let method = request.method
  if (status === 303 && method !== "HEAD") method = "GET"
  if ((status === 301 || status === 302) && method === "POST") method = "GET"
  let headers = Headers.remove(request.headers, "cookie")
  // As httpx, only between the default ports: another port of the same host may be another service.
  const upgrade = previous.hostname === next.hostname && previous.protocol === "http:" && previous.port === "" &&
    next.protocol === "https:" && next.port === ""
  if (!sameOrigin(previous, next)) {
    headers = Headers.remove(headers, "proxy-authorization")
    if (!upgrade) headers = Headers.remove(headers, "authorization")
  }
  if (previous.host !== next.host) headers = Headers.remove(headers, "host")
  let body = request.body
  if (method !== request.method || status === 303) {
    body = { _tag: "Empty" }
    for (const name of BODY_FIELDS) headers = Headers.remove(headers, name)
  } else if (body._tag === "Stream" && !body.replayable) {
    return new StreamConsumed({
      message: `${request.method} ${request.url}: the server answered ${status} to ${next.href}, which needs the ` +
        `request body sent again, but the body is a stream that cannot be replayed; buffer it (a Uint8Array) to ` +
        `follow such redirects`,
      request: { method: request.method, url: request.url }
    })
  }
  return copyRequest(request, { method, url: next.href, headers, body })
}

type Sent = Response | StreamingResponse

/** Read a redirect's body to the end so its connection can be reused, or close it: never pin it. */
const drain = (response: StreamingResponse): Effect.Effect<Response> =>
  Effect.catchAll(
    response.read,
    () => Effect.as(response.close, (response as unknown as StreamingBase).toBuffered(new Uint8Array(0)))
  )

const release = (response: Sent): Effect.Effect<void> =>
  "close" in response && Effect.isEffect((response as StreamingResponse).close)
    ? (response as StreamingResponse).close
    : Effect.void

/** Every hop of the chain from `request`, through `hop`; `streaming` when its responses hold their bodies unread. */
const follow = <A extends Sent, R>(
  request: Request,
  hop: (request: Request) => Effect.Effect<A, HttpError.HttpError, R>,
  streaming: boolean,
  maxRedirects: number
): Effect.Effect<A, HttpError.HttpError, R> => {
  const history: Array<Response> = []
  const loop = (current: Request): Effect.Effect<A, HttpError.HttpError, R> =>
    Effect.flatMap(hop(current), (response) => {
      if (history.length > 0) (response as unknown as HeadBase).history = history.slice()
      const location = REDIRECT_STATUSES.has(response.status) ? findHeader(flatOf(response), "location") : undefined
      if (location === undefined) return Effect.succeed(response)
      if (history.length >= maxRedirects) {
        return Effect.zipRight(
          release(response),
          Effect.fail(
            new TooManyRedirects({
              message: `${request.method} ${request.url}: more than ${maxRedirects} redirects ` +
                `(the last to ${withoutUserinfo(location)}); raise maxRedirects if this is expected`,
              request: { method: request.method, url: request.url }
            })
          )
        )
      }
      const next = redirectRequest(current, response, location)
      return Effect.flatMap(
        streaming ? drain(response as StreamingResponse) : Effect.succeed(response as Response),
        (previous) => {
          history.push(previous)
          return HttpError.isHttpError(next) ? Effect.fail(next) : loop(next)
        }
      )
    })
  return loop(request)
}

/** The step: a request's own `followRedirects` decides, the client's when it has none. */
export const redirects = (followByDefault: boolean, maxRedirects: number) =>
(next: Transport.Transport): Transport.Transport => {
  const send = Transport.sendOf(next)
  const handle = (request: Request) => next.handle(request)
  return Transport.make(
    (request) =>
      (request.followRedirects ?? followByDefault)
        ? follow(request, handle, true, maxRedirects)
        : next.handle(request),
    {
      send: (request) =>
        (request.followRedirects ?? followByDefault) ? follow(request, send, false, maxRedirects) : send(request)
    }
  )
}
