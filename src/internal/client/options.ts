/**
 * The options a pool or a client is made with, checked when it is made: a value that cannot work fails `Pool.make` /
 * `Client.make` with a typed error that names the option, rather than a defect there or a failure of every request
 * later.
 */
import * as Headers from "@effect/platform/Headers"
import * as net from "node:net"
import { InvalidUrl, LocalProtocolError } from "../../HttpError.js"
import { fieldsProblem } from "../wire/requestHead.js"
import { limitsProblem } from "../core/limits.js"
import type { ClientOptions } from "./client.js"
import type { PoolOptions } from "../pool/pool.js"
import { durationProblem, timeoutProblem } from "../core/timeouts.js"
import { authorityProblem, CONTROL_CHARACTER, lacksScheme, parsedProblem, printableUrl } from "../core/url.js"

type OptionError = InvalidUrl | LocalProtocolError

/** Why `baseUrl` is not an absolute http(s) URL, if it is not, with what to write instead. */
const baseUrlProblem = (input: string | URL): InvalidUrl | undefined => {
  const raw = String(input)
  const shown = printableUrl(raw)
  const invalid = (why: string) => new InvalidUrl({ message: `baseUrl ${shown} ${why}` })
  if (CONTROL_CHARACTER.test(raw)) return invalid("contains a control character (CR, LF, TAB or NUL); remove it")
  if (lacksScheme(raw)) return invalid(`has no scheme: add one, as in ${printableUrl("http://" + raw)}`)
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    const why = authorityProblem(raw)
    if (why !== undefined) return invalid(`is not valid: ${why}`)
    const example = printableUrl("http://127.0.0.1:8080" + (raw.startsWith("/") ? raw : "/"))
    return invalid(`is not an absolute URL: give the scheme and host, as in ${example}`)
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return invalid(`uses the scheme "${url.protocol.slice(0, -1)}"; httpfx speaks http and https: ` +
      `start it with http:// or https://`)
  }
  if (url.hostname === "") return invalid("has no host")
  const unusable = parsedProblem(raw, url)
  return unusable === undefined ? undefined : invalid(`is not valid: ${unusable}`)
}

const isWhole = (value: unknown, min: number): boolean =>
  typeof value === "number" && value >= min && (Number.isInteger(value) || value === Infinity)

const countProblem = (name: string, value: unknown, min: number): string | undefined =>
  value === undefined || isWhole(value, min)
    ? undefined
    : `${name} must be a whole number of at least ${min}${min > 0 ? " (or Infinity)" : ""}, got ` +
      (typeof value === "string" ? JSON.stringify(value) : String(value))

/** What in the pool's options cannot work, the proxy aside (see `routesFrom`). */
export const poolOptionsProblem = (options: PoolOptions): LocalProtocolError | undefined => {
  const message = countProblem("maxConnections", options.maxConnections, 1) ??
    countProblem("maxConnectionsPerHost", options.maxConnectionsPerHost, 1) ??
    countProblem("maxKeepaliveConnections", options.maxKeepaliveConnections, 0) ??
    countProblem("retries", options.retries, 0) ??
    durationProblem("keepaliveExpiry", options.keepaliveExpiry) ??
    timeoutProblem(options.timeout) ??
    limitsProblem(options.limits) ??
    (options.http1 === false && options.http2 !== true
      ? "http1: false leaves no protocol to speak: set http2: true as well"
      : undefined) ??
    // Node's connect throws on it, and only when the first connection opens.
    (options.localAddress !== undefined && net.isIP(options.localAddress) === 0
      ? `localAddress must be an IP address of this machine, got ${JSON.stringify(options.localAddress)}`
      : undefined)
  return message === undefined ? undefined : new LocalProtocolError({ message })
}

const retryProblem = (retry: ClientOptions["retry"]): string | undefined => {
  if (typeof retry === "number") return countProblem("retry", retry, 0)
  if (typeof retry === "object" && retry !== null && "times" in retry) {
    return countProblem("retry.times", retry.times, 0) ?? durationProblem("retry.backoff", retry.backoff)
  }
  return undefined
}

/** What in the client's own options cannot work (a pool made for it checks its options itself). */
export const clientOptionsProblem = (options: ClientOptions): OptionError | undefined => {
  const base = options.baseUrl === undefined ? undefined : baseUrlProblem(options.baseUrl)
  if (base !== undefined) return base
  const message = (options.headers === undefined ? undefined : headersProblem(options.headers)) ??
    countProblem("maxRedirects", options.maxRedirects, 0) ??
    retryProblem(options.retry) ??
    timeoutProblem(options.timeout) ??
    limitsProblem(options.limits)
  return message === undefined ? undefined : new LocalProtocolError({ message })
}

const headersProblem = (headers: Headers.Input): string | undefined => {
  const problem = fieldsProblem(Headers.fromInput(headers))
  return problem === undefined ? undefined : `headers: ${problem}`
}
