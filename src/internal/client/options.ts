/**
 * The options a client is made with, checked when it is made: a value that cannot work fails `Client.make` with a
 * typed error that names the option, rather than a defect there or a failure of every request later. The pool's own
 * options are checked by the pool (pool/options.ts).
 */
import * as Headers from "@effect/platform/Headers"
import { InvalidUrl, LocalProtocolError } from "../../HttpError.js"
import { fieldsProblem } from "../wire/requestHead.js"
import { limitsProblem } from "../core/limits.js"
import type { ClientOptions } from "./client.js"
import { countProblem } from "../pool/options.js"
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
