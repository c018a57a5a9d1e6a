/**
 * A request's fields for HTTP/2 (RFC 9113 §8.3.1), made from the request itself (its method, URL and the header
 * fields the pool prepared), not from the HTTP/1.1 head: pseudo-headers first, names lower-cased, Host as
 * `:authority`, connection-specific fields dropped (§8.2.2), the same framing field HTTP/1.1 would send.
 */
import type * as http2 from "node:http2"
import { LocalProtocolError } from "../../HttpError.js"
import type * as HttpError from "../../HttpError.js"
import type { Target } from "../core/url.js"
import { expectsBody, fieldProblem, printableMethod } from "../wire/requestHead.js"
import type { HeaderInput } from "../wire/requestHead.js"

/** The parts of a request its HTTP/2 fields are made from (an Exchange has them). */
export interface FieldSource {
  readonly method: string
  readonly target: Target
  /** the caller's fields */
  readonly headers: HeaderInput | undefined
  readonly body: Uint8Array | undefined
  readonly streamBody: boolean
  readonly requestInfo: HttpError.RequestInfo
}

/** Fields RFC 9113 §8.2.2 forbids: connection-specific ones. */
const connectionSpecific = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"])

/** What the URL's credentials add, as `Target.authorization` holds them for HTTP/1.1: "Authorization: …\r\n". */
const AUTHORIZATION_PREFIX = "Authorization: ".length

/**
 * The fields for `session.request`, or the LocalProtocolError HTTP/1.1 would fail the request with for a field no
 * request can carry (the pool checks fields before the protocol is known; this keeps HTTP/2 from relying on it).
 */
export const requestFields = (request: FieldSource): http2.OutgoingHttpHeaders | LocalProtocolError => {
  const target = request.target
  // No prototype: a field may be called anything a token allows, "__proto__" included.
  const fields: http2.OutgoingHttpHeaders = Object.create(null)
  fields[":method"] = request.method
  fields[":scheme"] = target.secure ? "https" : "http"
  fields[":authority"] = target.host
  fields[":path"] = target.path
  const state: Collected = { nominated: undefined, problem: undefined, authorization: false, length: false }
  if (request.headers !== undefined) collect(fields, request.headers, state)
  if (state.problem !== undefined) {
    return new LocalProtocolError({
      message: `${printableMethod(request.method)} ${target.href}: ${state.problem}`,
      request: request.requestInfo
    })
  }
  // Connection also names further hop-by-hop fields (RFC 9110 §7.6.1).
  if (state.nominated !== undefined) {
    for (const name of state.nominated) if (!name.startsWith(":")) delete fields[name]
  }
  // Credentials in the URL are Basic auth, unless the caller sent an Authorization of their own (as for HTTP/1.1).
  if (!state.authorization && target.authorization !== undefined) {
    fields.authorization = target.authorization.slice(AUTHORIZATION_PREFIX, -2)
  }
  // The length HTTP/1.1 would declare; a stream of unknown length has none (HTTP/2 frames it, §8.1).
  if (!state.length && !request.streamBody) {
    const length = request.body?.length ?? 0
    if (length > 0 || expectsBody(request.method)) fields["content-length"] = String(length)
  }
  return fields
}

interface Collected {
  nominated: Array<string> | undefined
  problem: string | undefined
  authorization: boolean
  length: boolean
}

const collect = (fields: http2.OutgoingHttpHeaders, input: HeaderInput, state: Collected): void => {
  if (typeof (input as Iterable<unknown>)[Symbol.iterator] === "function") {
    for (const [name, value] of input as Iterable<readonly [string, string]>) add(fields, name, value, state)
    return
  }
  const record = input as Readonly<Record<string, string | number | ReadonlyArray<string> | undefined>>
  for (const name in record) {
    const value = record[name]
    if (value === undefined) continue
    if (typeof value === "object") for (const item of value) add(fields, name, item, state)
    else add(fields, name, typeof value === "number" ? String(value) : value, state)
  }
}

const add = (fields: http2.OutgoingHttpHeaders, name: string, value: string, state: Collected): void => {
  if (state.problem !== undefined) return
  const problem = fieldProblem(name, value)
  if (problem !== undefined) {
    state.problem = problem
    return
  }
  const lower = name.toLowerCase()
  const trimmed = value.trim()
  if (lower === "host") {
    fields[":authority"] = trimmed
  } else if (connectionSpecific.has(lower)) {
    if (lower === "connection") {
      for (const token of trimmed.split(",")) (state.nominated ??= []).push(token.trim().toLowerCase())
    }
  } else if (lower === "te" && trimmed.toLowerCase() !== "trailers") {
    // The only TE value HTTP/2 allows (RFC 9113 §8.2.2).
  } else {
    if (lower === "authorization") state.authorization = true
    else if (lower === "content-length") state.length = true
    const previous = fields[lower]
    fields[lower] = previous === undefined
      ? trimmed
      : Array.isArray(previous)
      ? [...previous, trimmed]
      : [String(previous), trimmed]
  }
}
