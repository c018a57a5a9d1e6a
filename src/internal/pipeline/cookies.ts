/**
 * Cookies (RFC 6265 §5.4, §5.3): the jar's Cookie field goes on each request on the wire that has none of its own,
 * and the Set-Cookie lines of each response are stored before any step above sees it (so response hooks see the
 * jar as the next request will). An empty jar adds nothing and the request passes as it is.
 */
import * as Headers from "@effect/platform/Headers"
import * as Effect from "effect/Effect"
import type { Request } from "../message/request.js"
import { copy as copyRequest } from "../message/request.js"
import type { HeadBase, ResponseHead } from "../message/response.js"
import * as Transport from "../transport/transport.js"
import type { CookieJar } from "./cookieJar.js"

/** The response's field lines, flat: [name, value, name, value …]. */
export const flatOf = (response: ResponseHead): ReadonlyArray<string> => {
  const flat = (response as Partial<HeadBase>).flatHeaders
  return flat ?? response.rawHeaders.flatMap(([name, value]) => [name, value])
}

const withCookie = (jar: CookieJar, request: Request): Request => {
  if (jar.isEmpty || request.headers.cookie !== undefined) return request
  const cookie = jar.header(request.url)
  if (cookie === undefined) return request
  return copyRequest(request, { headers: Headers.set(request.headers, "cookie", cookie) })
}

const store = (jar: CookieJar, response: ResponseHead): void => {
  const flat = flatOf(response)
  let lines: Array<string> | undefined
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!
    if (name.length === 10 && name.toLowerCase() === "set-cookie") (lines ??= []).push(flat[i + 1]!)
  }
  if (lines !== undefined) jar.store(response.url, lines)
}

export const cookies = (jar: CookieJar) => (next: Transport.Transport): Transport.Transport => {
  const send = Transport.sendOf(next)
  // Made once per client: storing needs only the response, whose URL is the one it answers.
  const kept = <A extends ResponseHead>(response: A): A => {
    store(jar, response)
    return response
  }
  return Transport.make((request) => Effect.map(next.handle(withCookie(jar, request)), kept), {
    send: (request) => Effect.map(send(withCookie(jar, request)), kept)
  })
}
