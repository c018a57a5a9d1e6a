import * as net from "node:net"
import { basicAuthorization, percentDecode } from "./credentials.js"

/**
 * A request URL taken apart once: everything the pool and the codec need, with no further parsing.
 *
 * Credentials in the URL (`http://user:pass@host/`) are taken out here, once: they become `authorization`, and no
 * other field holds them, so neither the wire (request line, Host, a proxy's absolute-form) nor a message shows them.
 */
export interface Target {
  /** The URL as httpfx shows it (messages, `request.url`, `response.url`): without userinfo, with the fragment. */
  readonly href: string
  readonly secure: boolean
  /** For connecting: IPv6 literals without brackets. */
  readonly hostname: string
  readonly port: number
  /** httpcore's origin string, port always present: `http://127.0.0.1:8080`. Also the pool's index key. */
  readonly origin: string
  /** The Host header: the URL's authority without userinfo, default port omitted. */
  readonly host: string
  /** The request target in origin-form: path and query. */
  readonly path: string
  /** TLS server name: undefined for IP literals, where SNI must not be sent (RFC 6066 §3). */
  readonly servername: string | undefined
  /** ` path HTTP/1.1` and CRLF, made once per URL; undefined when the path cannot be sent as it is */
  readonly requestTail: string | undefined
  /** `Host: host` and CRLF */
  readonly hostLine: string
  /** the Host line and the CRLF that ends a head */
  readonly hostEnd: string
  /**
   * `Authorization: Basic …` and CRLF from the URL's userinfo (percent-decoded, as curl and httpx send it), or
   * undefined when the URL has none
   */
  readonly authorization: string | undefined
}

// The parts of a request head that depend only on the URL: a Target makes them once, the codec (wire/requestHead.ts)
// uses them for URLs that come without one.

const INVALID_TARGET = /[^\x21-\x7e\x80-\xff]/

/** Why `path` cannot be a request target, if it cannot. */
export const targetProblem = (path: string): string | undefined =>
  INVALID_TARGET.test(path) ? `The request target ${JSON.stringify(path)} contains a space or control character` : undefined

/** What follows the method in the request line: ` /path HTTP/1.1` and its CRLF. */
export const requestTailOf = (path: string): string => " " + path + " HTTP/1.1\r\n"

export const hostLineOf = (host: string): string => "Host: " + host + "\r\n"

/** Why a URL cannot be requested; `url` is the input without credentials, for the error's `request`. */
type ParseFailure = {
  readonly _tag: "InvalidUrl" | "UnsupportedProtocol" | "LocalProtocolError"
  readonly message: string
  readonly url: string
}

// WHATWG URL parsing silently deletes tabs and newlines, which would hide a header-injection attempt in the target.
const FORBIDDEN_IN_URL = /[\r\n\0\t]/

// Most programs call a handful of URLs over and over; parsing each once keeps `new URL` off the hot path.
const cache = new Map<string, Target>()
const CACHE_LIMIT = 1024

export const parseTarget = (input: string | URL): Target | ParseFailure => {
  const key = typeof input === "string" ? input : input.href
  const cached = cache.get(key)
  if (cached !== undefined) return cached
  if (FORBIDDEN_IN_URL.test(key)) {
    const shown = withoutUserinfo(key)
    return {
      _tag: "LocalProtocolError",
      message: `The URL ${printableUrl(key)} contains a control character (CR, LF, TAB or NUL); refusing to ` +
        "send it",
      url: shown
    }
  }
  let url: URL
  try {
    url = typeof input === "string" ? new URL(input) : input
  } catch {
    const shown = withoutUserinfo(key)
    const why = authorityProblem(key)
    return {
      _tag: "InvalidUrl",
      message: why !== undefined
        ? `The URL ${JSON.stringify(shown)} is not valid: ${why}`
        : `${JSON.stringify(shown)} is not an absolute URL; expected something like "http://example.com/path"`,
      url: shown
    }
  }
  const scheme = url.protocol
  let authorization: string | undefined
  if (url.username !== "" || url.password !== "") {
    authorization = "Authorization: " + basicAuthorizationOf(url) + "\r\n"
    url = stripped(url)
  }
  if (scheme !== "http:" && scheme !== "https:") {
    const shown = withoutUserinfo(url.href)
    return {
      _tag: "UnsupportedProtocol",
      message: `The URL ${shown} uses the scheme "${scheme.slice(0, -1)}"; httpfx speaks http and https`,
      url: shown
    }
  }
  if (url.hostname === "") {
    return { _tag: "InvalidUrl", message: `The URL ${url.href} has no host`, url: url.href }
  }
  const unusable = parsedProblem(key, url)
  if (unusable !== undefined) {
    const shown = withoutUserinfo(key)
    return { _tag: "InvalidUrl", message: `The URL ${JSON.stringify(shown)} is not valid: ${unusable}`, url: shown }
  }
  const secure = scheme === "https:"
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port)
  const bracketed = url.hostname
  const hostname = bracketed.startsWith("[") ? bracketed.slice(1, -1) : bracketed
  const path = (url.pathname || "/") + url.search
  const hostLine = hostLineOf(url.host)
  const target: Target = {
    href: url.href,
    secure,
    hostname,
    port,
    origin: `${scheme}//${bracketed}:${port}`,
    host: url.host,
    path,
    servername: net.isIP(hostname) === 0 ? hostname : undefined,
    requestTail: targetProblem(path) === undefined ? requestTailOf(path) : undefined,
    hostLine,
    hostEnd: hostLine + "\r\n",
    authorization
  }
  if (cache.size >= CACHE_LIMIT) cache.clear()
  cache.set(key, target)
  return target
}

// The userinfo of an absolute or scheme-relative URL, or of a "user:pass@host" without a scheme: up to the last "@"
// before the path.
// WHATWG URL parsing drops leading C0 controls and spaces and every tab, CR and LF, so they may stand anywhere before it.
const SHOWN_USERINFO = /^([\x00-\x20]*(?:[a-zA-Z][a-zA-Z0-9+.\t\n\r-]*:[\t\n\r]*(?:[/\\][\t\n\r]*){2}|\/\/)?)[^/\\?#]*@/

/** A URL as a message may show it: quoted, credentials replaced by `***`, control characters escaped. */
export const printableUrl = (value: string): string => JSON.stringify(value.replace(SHOWN_USERINFO, "$1***@"))

/** Control characters, which URL parsing would silently delete (tabs, newlines) from an option's value. */
export const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/

// "localhost:8080", "api.example:443/v1", "[::1]:8080": URL parsing reads "localhost:" as a scheme, or refuses.
const HOST_AND_PORT = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\]):\d+(?:[/?#]|$)/i
const HOST = /^(?:localhost|[a-z0-9-]+(?:\.[a-z0-9-]+)+)$/i

/** Whether a URL option is a host (and port, and path) written without its scheme, as curl would accept it. */
export const lacksScheme = (value: string): boolean => HOST_AND_PORT.test(value) || HOST.test(value)

// ---- what is wrong with a host or port -----------------------------------------------------------------------------

// The authority of a URL with a scheme: after "scheme://" (slashes either way, as WHATWG reads special schemes), up to
// the path, query or fragment.
const AUTHORITY = /^[\x00-\x20]*[a-z][a-z0-9+.-]*:[/\\]{2}([^/\\?#]*)/i
// "http:///path": WHATWG skips the third slash and takes "path" for the host; curl says the host is missing.
const EMPTY_AUTHORITY = /^[\x00-\x20]*[a-z][a-z0-9+.-]*:[/\\]{3}/i
// What WHATWG refuses in a host (its forbidden domain code points), spaces and controls named on their own.
const FORBIDDEN_IN_HOST = /[#%/:<>?@[\\\]^|]/
const IPV4_LIKE = /^[0-9.]+$/
const PORT_RANGE = "(1–65535)"

const portProblem = (port: string | undefined): string | undefined => {
  if (port === undefined || port === "") return undefined
  if (!/^[0-9]+$/.test(port)) return `the port ${JSON.stringify(port)} is not a number ${PORT_RANGE}`
  const value = Number(port)
  if (value > 65535) return `the port ${value} is out of range ${PORT_RANGE}`
  return value === 0
    ? "port 0 cannot be connected to: give the server's port, or none for the scheme's default"
    : undefined
}

const hostProblem = (host: string): string | undefined => {
  if (host === "") return "the host is empty"
  let decoded = host
  try {
    decoded = decodeURIComponent(host)
  } catch {
    // A "%" that starts no escape is named below as a character a host cannot have.
  }
  if (/\s/.test(decoded)) return `the host ${JSON.stringify(host)} contains a space`
  if (/[\x00-\x1f\x7f]/.test(decoded)) return `the host ${JSON.stringify(host)} contains a control character`
  if (IPV4_LIKE.test(host) && !net.isIPv4(host)) {
    return `the host ${host} is not an IPv4 address (four numbers from 0 to 255, as in 192.0.2.1)`
  }
  const forbidden = FORBIDDEN_IN_HOST.exec(decoded)
  if (forbidden !== null) {
    return `the host ${JSON.stringify(host)} contains ${JSON.stringify(forbidden[0])}, which a host name cannot have`
  }
  return undefined
}

/**
 * What is wrong with the host or port of a URL that does not parse, named precisely (`new URL` only says "Invalid
 * URL"), or undefined when the trouble is elsewhere. Read from the text; the userinfo (up to the last "@") is never
 * looked at, so it cannot reach a message.
 */
export const authorityProblem = (raw: string): string | undefined => {
  const match = AUTHORITY.exec(raw)
  if (match === null) return undefined
  const authority = match[1]!
  const hostPort = authority.slice(authority.lastIndexOf("@") + 1)
  if (hostPort.startsWith("[")) {
    const close = hostPort.indexOf("]")
    if (close < 0) return `the IPv6 address ${JSON.stringify(hostPort)} has no closing "]"`
    const host = hostPort.slice(0, close + 1)
    const rest = hostPort.slice(close + 1)
    if (!net.isIPv6(host.slice(1, -1))) return `the host ${host} is not an IPv6 address`
    if (rest !== "" && !rest.startsWith(":")) {
      return `the IPv6 address ${host} is followed by ${JSON.stringify(rest)}: a port goes after a colon, as in ` +
        `${host}:8080`
    }
    return portProblem(rest === "" ? undefined : rest.slice(1))
  }
  if (net.isIPv6(hostPort)) return `the IPv6 address ${hostPort} must be in brackets, as in [${hostPort}]:8080`
  const colon = hostPort.indexOf(":")
  const host = colon < 0 ? hostPort : hostPort.slice(0, colon)
  return hostProblem(host) ?? portProblem(colon < 0 ? undefined : hostPort.slice(colon + 1))
}

/**
 * What makes a URL that parses unusable all the same: port 0, which no server listens on, and "http:///path", where
 * WHATWG takes the path for the host.
 */
export const parsedProblem = (raw: string, url: URL): string | undefined =>
  url.port === "0" ? portProblem("0") : EMPTY_AUTHORITY.test(raw) ? hostProblem("") : undefined

/** The request target a forward proxy needs (RFC 9112 §3.2.2): absolute-form, without userinfo or fragment. */
export const absoluteForm = (target: Target): string =>
  (target.secure ? "https://" : "http://") + target.host + target.path

/** The Basic credentials of a URL that has userinfo. */
const basicAuthorizationOf = (url: URL): string =>
  basicAuthorization(percentDecode(url.username), percentDecode(url.password))

/** A copy of the URL without userinfo (the caller's URL object is never changed). */
const stripped = (url: URL): URL => {
  const copy = new URL(url.href)
  copy.username = ""
  copy.password = ""
  return copy
}

/**
 * Whether a URL string may carry userinfo: an `@` in its authority, which follows a scheme (`http:`) or starts with
 * `//` when there is none. A scan with no allocation, for paths that run per request; a false positive (an `@` where
 * WHATWG sees no userinfo) only costs a parse.
 */
export const hasUserinfo = (url: string): boolean => {
  const n = url.length
  let i = 0
  // As WHATWG URL parsing: leading C0 controls and spaces go, and tabs and line breaks anywhere are passed over.
  while (i < n && url.charCodeAt(i) <= 32) i++
  const start = i
  while (i < n && (isSchemeChar(url.charCodeAt(i)) || isSkipped(url.charCodeAt(i)))) i++
  const scheme = i > start && i < n && url.charCodeAt(i) === 58
  i = scheme ? i + 1 : start
  let slashes = 0
  for (; i < n; i++) {
    const code = url.charCodeAt(i)
    if (code === 47 || code === 92) slashes++
    else if (!isSkipped(code)) break
  }
  // Without a scheme, only "//" starts an authority: "/a@b" is a path.
  if (!scheme && slashes < 2) return false
  for (; i < n; i++) {
    const code = url.charCodeAt(i)
    if (code === 64) return true
    // "/", "?", "#" and "\\" end the authority
    if (code === 47 || code === 63 || code === 35 || code === 92) return false
  }
  return false
}

/** Tab, LF and CR: WHATWG URL parsing deletes them wherever they stand. */
const isSkipped = (code: number): boolean => code === 9 || code === 10 || code === 13

// RFC 3986 §3.1: ALPHA / DIGIT / "+" / "-" / "."
const isSchemeChar = (code: number): boolean =>
  (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 57) || code === 43 ||
  code === 45 || code === 46

// Everything from the start of the authority to its last "@"; the scheme is optional and tried last, so that
// "user:pass@host" (no scheme) loses "user:" too.
const USERINFO = /^([\x00-\x20]*(?:[A-Za-z][A-Za-z0-9+.\t\n\r-]*:)??[\t\n\r\\/]*)[^\\/?#]*@/

/** The URL without userinfo, for showing: parsed when it parses, cut out textually when it does not. */
export const withoutUserinfo = (url: string): string => {
  if (!hasUserinfo(url)) return url
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return url.replace(USERINFO, "$1")
  }
  // An "@" that WHATWG does not take for userinfo ("user:pass@host", the scheme forgotten) is cut out all the same.
  return parsed.username === "" && parsed.password === "" ? url.replace(USERINFO, "$1") : stripped(parsed).href
}

/**
 * A URL's userinfo as the value of a Basic Authorization field, and the URL without it; undefined when the URL has
 * no userinfo. A URL that does not parse loses its userinfo all the same (and fails later, when it is sent).
 */
export const takeUserinfo = (
  url: string
): { readonly url: string; readonly authorization: string | undefined } | undefined => {
  if (!hasUserinfo(url)) return undefined
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return { url: withoutUserinfo(url), authorization: undefined }
  }
  if (parsed.username === "" && parsed.password === "") return undefined
  return { url: stripped(parsed).href, authorization: basicAuthorizationOf(parsed) }
}
