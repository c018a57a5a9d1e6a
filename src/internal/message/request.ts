/**
 * The request model of the client: what `buildRequest` returns and `send` executes, what hooks, auth flows and
 * transports see. Immutable; the helpers below return new requests.
 */
import * as Headers from "@effect/platform/Headers"
import { NodeInspectSymbol } from "effect/Inspectable"
import type { Request, RequestBody as Body } from "../core/model.js"
import { printableHeaders } from "../core/credentials.js"
import type { LimitsInput } from "../core/limits.js"
import type { TimeoutInput } from "../core/timeouts.js"

export type { Request, RequestBody as Body } from "../core/model.js"

export const emptyBody: Body = { _tag: "Empty" }

/** The fields a request is made of. */
interface RequestFields {
  readonly method: string
  readonly url: string
  readonly headers?: Headers.Headers | undefined
  readonly body?: Body | undefined
  readonly timeout?: TimeoutInput | undefined
  readonly followRedirects?: boolean | undefined
  readonly limits?: LimitsInput | undefined
  readonly auth?: unknown
}

/**
 * The requests httpfx makes and hands out. Its fields are plain own properties (a request spread into a new object
 * is still a request); printing it (`String`, `JSON.stringify`, `util.inspect`) shows no credential or cookie.
 */
class RequestImpl implements Request {
  readonly method: string
  readonly url: string
  readonly headers: Headers.Headers
  readonly body: Body
  readonly timeout: TimeoutInput | undefined
  readonly followRedirects: boolean | undefined
  readonly limits: LimitsInput | undefined
  readonly auth: unknown
  constructor(fields: RequestFields) {
    this.method = fields.method
    this.url = fields.url
    this.headers = fields.headers ?? Headers.empty
    this.body = fields.body ?? emptyBody
    this.timeout = fields.timeout
    this.followRedirects = fields.followRedirects
    this.limits = fields.limits
    this.auth = fields.auth
  }
  toString(): string {
    return printString(this)
  }
  toJSON(): unknown {
    return printJSON(this)
  }
  [NodeInspectSymbol](): unknown {
    return printJSON(this)
  }
}

const printString = (request: Request): string => `<Request [${request.method} ${request.url}]>`

/** A request as printing shows it: method, URL, headers with secrets redacted, and the body's kind and length. */
export const printJSON = (request: Request): unknown => {
  const body = request.body
  return {
    _id: "httpfx/Request",
    method: request.method,
    url: request.url,
    headers: printableHeaders(request.headers),
    body: body._tag === "Empty" ? body : { _tag: body._tag, length: bodyLength(body) }
  }
}

export const make = (fields: RequestFields): Request => new RequestImpl(fields)

// The client's mark on a request that could not be built (see client.ts): a copy keeps it.
const Invalid = Symbol.for("httpfx/Request/invalid")

/** The same request with some of method, URL, headers and body replaced, printable as httpfx's requests are. */
export const copy = (
  request: Request,
  fields: { readonly method?: string; readonly url?: string; readonly headers?: Headers.Headers; readonly body?: Body }
): Request => {
  const out = new RequestImpl({
    method: fields.method ?? request.method,
    url: fields.url ?? request.url,
    headers: fields.headers ?? request.headers,
    body: fields.body ?? request.body,
    timeout: request.timeout,
    followRedirects: request.followRedirects,
    limits: request.limits,
    auth: request.auth
  })
  const invalid = (request as { readonly [Invalid]?: unknown })[Invalid]
  if (invalid !== undefined) (out as { [Invalid]?: unknown })[Invalid] = invalid
  return out
}

/** The request as httpfx hands requests out: one built elsewhere (`{ ...request }` in a flow) is copied. */
export const printable = (request: Request): Request => request instanceof RequestImpl ? request : copy(request, {})

/** The same request with one header set (name is lower-cased). */
export const setHeader = (request: Request, name: string, value: string): Request =>
  copy(request, { headers: Headers.set(request.headers, name, value) })

/** The body's length when it is known without running it. */
const bodyLength = (body: Body): number | undefined =>
  body._tag === "Empty" ? 0 : body._tag === "Bytes" ? body.bytes.length : body.length
