import * as net from "node:net"
import { hostLineOf, requestTailOf, targetProblem } from "./h1/requestHead.js"

/** A request URL taken apart once: everything the pool and the codec need, with no further parsing. */
export interface Target {
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
}

export type ParseFailure =
  | { readonly _tag: "InvalidUrl"; readonly message: string }
  | { readonly _tag: "UnsupportedProtocol"; readonly message: string }
  | { readonly _tag: "LocalProtocolError"; readonly message: string }

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
    return {
      _tag: "LocalProtocolError",
      message: `The URL ${JSON.stringify(key)} contains a control character (CR, LF, TAB or NUL); refusing to send it`
    }
  }
  let url: URL
  try {
    url = typeof input === "string" ? new URL(input) : input
  } catch {
    return {
      _tag: "InvalidUrl",
      message: `${JSON.stringify(key)} is not an absolute URL; expected something like "http://example.com/path"`
    }
  }
  const scheme = url.protocol
  if (scheme !== "http:" && scheme !== "https:") {
    return {
      _tag: "UnsupportedProtocol",
      message: `The URL ${key} uses the scheme "${scheme.slice(0, -1)}"; httpfx speaks http and https`
    }
  }
  if (url.hostname === "") {
    return { _tag: "InvalidUrl", message: `The URL ${key} has no host` }
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
    hostEnd: hostLine + "\r\n"
  }
  if (cache.size >= CACHE_LIMIT) cache.clear()
  cache.set(key, target)
  return target
}

// The userinfo of an absolute or scheme-relative URL, or of a "user:pass@host" without a scheme: up to the last "@"
// before the path.
const USERINFO = /^([a-zA-Z][a-zA-Z0-9+.-]*:\/\/|\/\/)?[^/?#]*@/

/** A URL as a message may show it: quoted, credentials replaced by `***`, control characters escaped. */
export const printableUrl = (value: string): string => JSON.stringify(value.replace(USERINFO, "$1***@"))

/** Control characters, which URL parsing would silently delete (tabs, newlines) from an option's value. */
export const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/

// "localhost:8080", "api.example:443/v1", "[::1]:8080": URL parsing reads "localhost:" as a scheme, or refuses.
const HOST_AND_PORT = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\]):\d+(?:[/?#]|$)/i
const HOST = /^(?:localhost|[a-z0-9-]+(?:\.[a-z0-9-]+)+)$/i

/** Whether a URL option is a host (and port, and path) written without its scheme, as curl would accept it. */
export const lacksScheme = (value: string): boolean => HOST_AND_PORT.test(value) || HOST.test(value)
