/**
 * Serialising a request head (RFC 9112 §3), refusing anything that would let a caller's data change the framing.
 */
import * as Headers from "@effect/platform/Headers"
import { printableValue } from "../core/credentials.js"
import { hostLineOf, requestTailOf, targetProblem } from "../core/url.js"

// RFC 9110 §5.6.2 token
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// RFC 9110 §5.5: field values are VCHAR, SP, HTAB and obs-text; CR, LF and NUL are what enable injection.
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/

const knownMethods = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"])

export type HeaderInput =
  | Readonly<Record<string, string | number | ReadonlyArray<string> | undefined>>
  | Iterable<readonly [string, string]>

/** Framing the writer adds: no body, a known length, or chunked transfer coding for a stream. */
export const NO_BODY = -1
export const CHUNKED = -2

/** Methods whose requests carry a body by definition: they get `Content-Length: 0` when empty, as httpx does. */
export const expectsBody = (method: string) => method === "POST" || method === "PUT" || method === "PATCH"

/**
 * Builds the head, or returns a message explaining why the request is not valid HTTP. Validation happens here,
 * before a connection is even checked out, so an invalid request never sends a byte.
 */
export const encodeHead = (
  method: string,
  path: string,
  host: string,
  headers: HeaderInput | undefined,
  bodyLength: number,
  /** field lines httpfx adds itself (Proxy-Authorization), already valid and CRLF-terminated */
  extra = ""
): string | { readonly error: string } => {
  const problem = targetProblem(path)
  if (problem !== undefined) return { error: problem }
  const hostLine = hostLineOf(host)
  return encodeHeadWith(method, requestTailOf(path), hostLine, hostLine + "\r\n", headers, bodyLength, extra)
}

/** Why these fields cannot go in any request head, if they cannot: a client checks its default headers once. */
export const fieldsProblem = (headers: HeaderInput): string | undefined => {
  const fields = fieldsOf(headers)
  if ("error" in fields) return fields.error
  // They describe one request's body: as defaults they would contradict every other request's.
  if (fields.framing !== 0) {
    return `${fields.userLength !== undefined ? "Content-Length" : "Transfer-Encoding"} cannot be a default header: ` +
      `it describes one request's body; httpfx sets it for each request`
  }
  return undefined
}

/** The method as a message shows it: quoted, with CR and LF escaped, when it is not a token. */
export const printableMethod = (method: string): string => TOKEN.test(method) ? method : JSON.stringify(method)

/**
 * `encodeHead` with the parts that depend only on the URL made beforehand (a parsed URL keeps them, see `Target`):
 * the request line's tail (a valid target), the Host line, and the Host line with the head's final CRLF. A head of
 * few pieces is also a head of few strings while its request waits in the queue.
 */
export const encodeHeadWith = (
  method: string,
  requestTail: string,
  hostLine: string,
  hostEnd: string,
  headers: HeaderInput | undefined,
  bodyLength: number,
  extra: string
): string | { readonly error: string } => {
  if (!knownMethods.has(method) && !TOKEN.test(method)) {
    return { error: `The method ${JSON.stringify(method)} is not a valid HTTP token` }
  }
  const fields = headers === undefined ? NO_FIELDS : fieldsOf(headers)
  if ("error" in fields) return fields
  const { framing, hasHost, userCoding, userLength } = fields
  // What follows the caller's fields and the Host line: httpfx's own fields, then framing.
  let rest = extra
  if (framing === 0) {
    if (bodyLength >= 0) {
      if (bodyLength > 0 || expectsBody(method)) rest += "Content-Length: " + bodyLength + "\r\n"
    } else if (bodyLength === CHUNKED) {
      rest += "Transfer-Encoding: chunked\r\n"
    } else if (expectsBody(method)) {
      rest += "Content-Length: 0\r\n"
    }
  } else {
    // Framing headers from the caller are accepted only when they tell the truth about the body: a length that
    // disagrees with the bytes sent would desynchronise the connection (request smuggling, RFC 9112 §6.3).
    const problem = checkFraming(userLength, userCoding, bodyLength)
    if (problem !== undefined) return { error: problem }
  }
  const head = method + requestTail + fields.lines
  if (hasHost) return head + rest + "\r\n"
  return rest === "" ? head + hostEnd : head + hostLine + rest + "\r\n"
}

const checkFraming = (length: string | undefined, coding: string | undefined, bodyLength: number) => {
  if (length !== undefined && coding !== undefined) {
    return "Both Content-Length and Transfer-Encoding were given; leave framing to httpfx"
  }
  if (length !== undefined) {
    if (bodyLength === CHUNKED) {
      // A stream of declared size is sent as is; the connection checks that it delivers exactly that many bytes.
      return /^\s*\d{1,15}\s*$/.test(length) ? undefined : `The Content-Length header ${JSON.stringify(length)} is not a number`
    }
    const actual = bodyLength < 0 ? 0 : bodyLength
    if (length.trim() !== String(actual)) {
      return `The Content-Length header says ${JSON.stringify(length)} but the body has ${actual} bytes`
    }
    return undefined
  }
  if (bodyLength !== CHUNKED || coding!.trim().toLowerCase() !== "chunked") {
    return `Transfer-Encoding ${JSON.stringify(coding)} does not describe this body; httpfx sends streams chunked itself`
  }
  return undefined
}

/** The Content-Length a caller declared, for a streamed body sent without chunked framing; -1 when none. */
export const declaredLength = (headers: HeaderInput | undefined): number => {
  if (headers === undefined) return -1
  const entries = isIterable(headers) ? headers : Object.entries(headers)
  for (const [name, value] of entries) {
    if (special(name) === 2 && value !== undefined) return Number(String(value).trim())
  }
  return -1
}

/** Whether the fields have one of this name (lower-case); for the rare request that needs to know. */
export const hasField = (headers: HeaderInput | undefined, lowerName: string): boolean => {
  if (headers === undefined) return false
  const entries = isIterable(headers) ? headers : Object.entries(headers)
  for (const [name, value] of entries) {
    if (value !== undefined && name.length === lowerName.length && name.toLowerCase() === lowerName) return true
  }
  return false
}

/** The caller's fields, validated and serialised, with what the writer needs to know about them. */
interface Fields {
  readonly lines: string
  readonly hasHost: boolean
  /** 2: Content-Length given, 4: Transfer-Encoding given */
  readonly framing: number
  readonly userLength: string | undefined
  readonly userCoding: string | undefined
}

const NO_FIELDS: Fields = { lines: "", hasHost: false, framing: 0, userLength: undefined, userCoding: undefined }

// @effect/platform's Headers are immutable, and a client passes the same defaults object with every request that adds
// none of its own: that object is serialised once, when the client is made (`serialiseOnce`). Other objects are
// serialised each time they are sent: remembering each one (a request's own headers merged over the defaults is a new
// object every time) would cost more in weak-map upkeep than serialising a few fields does.
const HeadersTypeId = Symbol.for("@effect/platform/Headers")
const serialised = new WeakMap<object, Fields | { readonly error: string }>()

/** Serialise `headers` once for all the requests that will carry this very object (a client's defaults). */
export const serialiseOnce = (headers: HeaderInput): void => {
  if (HeadersTypeId in headers && !serialised.has(headers)) serialised.set(headers, serialise(headers))
}

const fieldsOf = (headers: HeaderInput): Fields | { readonly error: string } =>
  (HeadersTypeId in headers
    ? (headers as { readonly [WithField]?: Fields })[WithField] ?? serialised.get(headers)
    : undefined) ?? serialise(headers)

/** Where `withField` keeps a Headers object's serialised block: not enumerable, so no copy of the object takes it. */
const WithField = Symbol.for("httpfx/Headers/serialised")

/**
 * `headers` (Headers) with one more field that httpfx made and knows to be valid, named in lower case and absent from
 * `headers` (a `traceparent`). When `headers` were serialised once (a client's defaults), the new object's block is
 * theirs and one line more: the request that adds a field to the defaults does not serialise them again.
 */
export const withField = (headers: Headers.Headers, name: string, value: string): Headers.Headers => {
  const out = Headers.set(headers, name, value)
  const base = serialised.get(headers)
  if (base !== undefined && !("error" in base)) {
    Object.defineProperty(out, WithField, { value: { ...base, lines: base.lines + name + ": " + value + "\r\n" } })
  }
  return out
}

const serialise = (headers: HeaderInput): Fields | { readonly error: string } => {
  let lines = ""
  let hasHost = false
  let framing = 0
  let userLength: string | undefined
  let userCoding: string | undefined
  if (isIterable(headers)) {
    for (const [name, value] of headers) {
      const line = fieldLine(name, value)
      if (typeof line !== "string") return line
      lines += line
      const kind = special(name)
      if (kind === 1) hasHost = true
      else if (kind === 2) userLength = userLength === undefined ? value : userLength + "," + value
      else if (kind === 4) userCoding = userCoding === undefined ? value : userCoding + "," + value
      framing |= kind & 6
    }
  } else {
    for (const name in headers) {
      const value = headers[name]
      if (value === undefined) continue
      if (typeof value === "object") {
        for (const item of value) {
          const line = fieldLine(name, item)
          if (typeof line !== "string") return line
          lines += line
        }
      } else {
        const line = fieldLine(name, typeof value === "number" ? String(value) : value)
        if (typeof line !== "string") return line
        lines += line
      }
      const kind = special(name)
      if (kind === 1) hasHost = true
      else if (kind === 2) userLength = String(value)
      else if (kind === 4) userCoding = String(value)
      framing |= kind & 6
    }
  }
  return { lines, hasHost, framing, userLength, userCoding }
}

const isIterable = (u: HeaderInput): u is Iterable<readonly [string, string]> =>
  typeof (u as any)[Symbol.iterator] === "function"

const fieldLine = (name: string, value: string): string | { readonly error: string } => {
  const problem = fieldProblem(name, value)
  return problem === undefined ? name + ": " + value + "\r\n" : { error: problem }
}

/** Why a field cannot go in a request, whatever the protocol (the same words for HTTP/1.1 and HTTP/2), if it cannot. */
export const fieldProblem = (name: string, value: string): string | undefined => {
  if (!TOKEN.test(name)) return `The header name ${JSON.stringify(name)} is not a valid HTTP token`
  return INVALID_VALUE.test(value) ? valueProblem(name, value) : undefined
}

/** Which character of a field value HTTP cannot carry, and what to do instead (JSON quoting escapes CR and LF). */
const valueProblem = (name: string, value: string): string => {
  const index = value.search(INVALID_VALUE)
  const code = value.codePointAt(index)!
  // Quoted to show where it went wrong, unless it is a credential or a cookie.
  const printed = printableValue(name, value)
  const shown = JSON.stringify(printed.length > 60 ? printed.slice(0, 60) + "…" : printed)
  const unicode = "U+" + code.toString(16).toUpperCase().padStart(4, "0")
  if (code > 0xff) {
    // As Node's http and undici: a field value is bytes, and httpfx will not pick an encoding for the server.
    return `The value of header "${name}" contains ${JSON.stringify(String.fromCodePoint(code))} (${unicode}), ` +
      `outside the Latin-1 range HTTP field values can carry: ${shown}; percent-encode it (encodeURIComponent) or ` +
      `use the header's own encoding for non-ASCII text (RFC 8187's UTF-8'' form)`
  }
  const what = code === 0x0d || code === 0x0a
    ? `a line break (${code === 0x0d ? "CR" : "LF"}), which would end the field and start another (header injection)`
    : `the control character ${unicode}, which HTTP field values cannot carry`
  return `The value of header "${name}" contains ${what}: ${shown}; remove it`
}

/** 1 Host, 2 Content-Length, 4 Transfer-Encoding, 0 anything else; lengths first so most names cost one compare. */
const special = (name: string): number => {
  switch (name.length) {
    case 4:
      return name.toLowerCase() === "host" ? 1 : 0
    case 14:
      return name.toLowerCase() === "content-length" ? 2 : 0
    case 17:
      return name.toLowerCase() === "transfer-encoding" ? 4 : 0
    default:
      return 0
  }
}
