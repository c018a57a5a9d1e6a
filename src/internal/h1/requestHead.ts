/**
 * Serialising a request head (RFC 9112 §3), refusing anything that would let a caller's data change the framing.
 */

// RFC 9110 §5.6.2 token
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// RFC 9110 §5.5: field values are VCHAR, SP, HTAB and obs-text; CR, LF and NUL are what enable injection.
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/
const INVALID_TARGET = /[^\x21-\x7e\x80-\xff]/

const knownMethods = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"])

export type HeaderInput =
  | Readonly<Record<string, string | number | ReadonlyArray<string> | undefined>>
  | Iterable<readonly [string, string]>

/** Framing the writer adds: no body, a known length, or chunked transfer coding for a stream. */
export const NO_BODY = -1
export const CHUNKED = -2

/** Methods whose requests carry a body by definition: they get `Content-Length: 0` when empty, as httpx does. */
const expectsBody = (method: string) => method === "POST" || method === "PUT" || method === "PATCH"

/**
 * Builds the head, or returns a message explaining why the request is not valid HTTP. Validation happens here,
 * before a connection is even checked out, so an invalid request never sends a byte.
 */
export const encodeHead = (
  method: string,
  path: string,
  host: string,
  headers: HeaderInput | undefined,
  bodyLength: number
): string | { readonly error: string } => {
  if (!knownMethods.has(method) && !TOKEN.test(method)) {
    return { error: `The method ${JSON.stringify(method)} is not a valid HTTP token` }
  }
  if (INVALID_TARGET.test(path)) {
    return { error: `The request target ${JSON.stringify(path)} contains a space or control character` }
  }
  let head = method + " " + path + " HTTP/1.1\r\n"
  let hasHost = false
  let framing = 0
  if (headers !== undefined) {
    if (isIterable(headers)) {
      for (const [name, value] of headers) {
        const line = fieldLine(name, value)
        if (typeof line !== "string") return line
        head += line
        const kind = special(name)
        if (kind === 1) hasHost = true
        else if (kind !== 0) framing |= kind
      }
    } else {
      for (const name in headers) {
        const value = headers[name]
        if (value === undefined) continue
        if (typeof value === "object") {
          for (const item of value) {
            const line = fieldLine(name, item)
            if (typeof line !== "string") return line
            head += line
          }
        } else {
          const line = fieldLine(name, typeof value === "number" ? String(value) : value)
          if (typeof line !== "string") return line
          head += line
        }
        const kind = special(name)
        if (kind === 1) hasHost = true
        else if (kind !== 0) framing |= kind
      }
    }
  }
  if (!hasHost) head = head + "Host: " + host + "\r\n"
  if (framing === 0) {
    if (bodyLength >= 0) {
      if (bodyLength > 0 || expectsBody(method)) head += "Content-Length: " + bodyLength + "\r\n"
    } else if (bodyLength === CHUNKED) {
      head += "Transfer-Encoding: chunked\r\n"
    } else if (expectsBody(method)) {
      head += "Content-Length: 0\r\n"
    }
  } else if (bodyLength === CHUNKED && (framing & 4) === 0) {
    return { error: "A Content-Length header was given for a streamed body of unknown length; leave framing to httpfx" }
  }
  return head + "\r\n"
}

const isIterable = (u: HeaderInput): u is Iterable<readonly [string, string]> =>
  typeof (u as any)[Symbol.iterator] === "function"

const fieldLine = (name: string, value: string): string | { readonly error: string } => {
  if (!TOKEN.test(name)) {
    return { error: `The header name ${JSON.stringify(name)} is not a valid HTTP token` }
  }
  if (INVALID_VALUE.test(value)) {
    return {
      error: `The value of header "${name}" contains a control character (CR, LF or NUL) or a character outside ` +
        `Latin-1: ${JSON.stringify(value.length > 60 ? value.slice(0, 60) + "…" : value)}`
    }
  }
  return name + ": " + value + "\r\n"
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
