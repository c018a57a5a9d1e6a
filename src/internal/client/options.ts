/**
 * The options a client is made with, checked when it is made: a value that cannot work fails `Client.make` with a
 * typed error that names the option, rather than a defect there or a failure of every request later. The pool's own
 * options are checked by the pool (pool/options.ts).
 */
import * as Headers from "@effect/platform/Headers"
import type * as Stream from "effect/Stream"
import { InvalidUrl, LocalProtocolError } from "../../HttpError.js"
import { fieldProblem, fieldsProblem } from "../wire/requestHead.js"
import { limitsProblem } from "../core/limits.js"
import type { LimitsInput } from "../core/limits.js"
import type { Auth } from "../pipeline/auth.js"
import type { CookieJar } from "../pipeline/cookieJar.js"
import { countProblem } from "../pool/options.js"
import type { Options as PoolOptions } from "../pool/options.js"
import { durationProblem, timeoutProblem } from "../core/timeouts.js"
import type { TimeoutInput } from "../core/timeouts.js"
import { authorityProblem, CONTROL_CHARACTER, lacksScheme, parsedProblem, printableUrl } from "../core/url.js"
import type { Middleware, Transport } from "../transport/transport.js"
import type { FilesInput, FormInput } from "./body.js"
import type { RequestHook, ResponseHook } from "../pipeline/hooks.js"
import type { RetryPolicy } from "../pipeline/retry.js"

export type { RequestHook, ResponseHook } from "../pipeline/hooks.js"
export type { RetryPolicy } from "../pipeline/retry.js"

// ---- the options (Client.ts re-exports them) ----------------------------------------------------------------------

/**
 * Header values, as `@effect/platform`'s `Headers.fromInput` takes them: a record, an iterable of pairs, or Headers.
 *
 * @since 0.2.0
 * @category models
 */
export type HeadersInput = Headers.Input

/**
 * @since 0.2.0
 * @category models
 */
export type ParamValue = string | number | boolean

/**
 * Query parameters: a record (an array value repeats the name, `undefined` leaves it out) or a list of pairs.
 *
 * @since 0.2.0
 * @category models
 */
export type ParamsInput =
  | Readonly<Record<string, ParamValue | ReadonlyArray<ParamValue> | undefined>>
  | ReadonlyArray<readonly [string, ParamValue]>

/**
 * An `Auth`, or `[username, password]` for Basic auth.
 *
 * @since 0.2.0
 * @category models
 */
export type AuthInput = Auth | readonly [username: string, password: string]

/**
 * Per-request options. The body is one of `json`, `form` (urlencoded), `files` (multipart, with `form` fields) or
 * `content` (bytes, a string, or a stream whose error `E` becomes the request's).
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestOptions<E = never> {
  /** merged over the client's headers */
  readonly headers?: HeadersInput | undefined
  /** merged over the client's params */
  readonly params?: ParamsInput | undefined
  /** a JSON body (`content-type: application/json`) */
  readonly json?: unknown
  /** form fields: urlencoded, or the text parts of a multipart body when `files` is given */
  readonly form?: FormInput | undefined
  /** multipart file parts */
  readonly files?: FilesInput<E> | undefined
  /** a raw body: bytes, a string (UTF-8), or a stream (sent chunked) */
  readonly content?: Uint8Array | string | Stream.Stream<Uint8Array, E> | undefined
  /** this request's auth over the client's; `null` for none even when the client has one */
  readonly auth?: AuthInput | null | undefined
  /** this request's timeouts over the client's; `null` lifts every limit, `total` included */
  readonly timeout?: TimeoutInput | undefined
  /** this request's redirect policy over the client's */
  readonly followRedirects?: boolean | undefined
  /** this request's own `limits`, over the client's */
  readonly limits?: LimitsInput | undefined
}

/**
 * The fields of `Client.Options`, which src/Client.ts declares with their documentation (its published declarations
 * show them there). Both must stay the same type: test/types/client-options.test.ts checks it.
 */
export interface ClientOptions extends PoolOptions {
  readonly baseUrl?: string | URL | undefined
  readonly headers?: HeadersInput | undefined
  readonly params?: ParamsInput | undefined
  readonly auth?: AuthInput | undefined
  readonly cookies?: boolean | CookieJar | undefined
  readonly followRedirects?: boolean | undefined
  readonly maxRedirects?: number | undefined
  readonly transport?: Transport | undefined
  readonly middleware?: ReadonlyArray<Middleware> | undefined
  readonly eventHooks?: {
    readonly request?: ReadonlyArray<RequestHook> | undefined
    readonly response?: ReadonlyArray<ResponseHook> | undefined
  } | undefined
  readonly retry?: RetryPolicy | undefined
  readonly trustEnv?: boolean | undefined
  readonly tracePropagation?: boolean | undefined
  readonly captureHeaders?: CaptureHeaders | undefined
}

/**
 * The header fields a span records (`Client.Options.captureHeaders`), by name, any case. Authorization, Cookie,
 * Proxy-Authorization and Set-Cookie are never recorded, even when listed.
 *
 * @since 0.3.0
 * @category models
 */
export interface CaptureHeaders {
  /** request fields, recorded as `http.request.header.<name>` */
  readonly request?: ReadonlyArray<string> | undefined
  /** response fields, recorded as `http.response.header.<name>` */
  readonly response?: ReadonlyArray<string> | undefined
}

// ---- checks -------------------------------------------------------------------------------------------------------


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
    limitsProblem(options.limits) ??
    captureProblem(options.captureHeaders)
  return message === undefined ? undefined : new LocalProtocolError({ message })
}

/** A name in `captureHeaders` that no header field can have would silently capture nothing: a typo, said at once. */
const captureProblem = (capture: CaptureHeaders | undefined): string | undefined => {
  for (const kind of ["request", "response"] as const) {
    for (const name of capture?.[kind] ?? []) {
      const problem = typeof name === "string" ? fieldProblem(name, "") : `${JSON.stringify(name)} is not a header name`
      if (problem !== undefined) return `captureHeaders.${kind}: ${problem}`
    }
  }
  return undefined
}

const headersProblem = (headers: Headers.Input): string | undefined => {
  const problem = fieldsProblem(Headers.fromInput(headers))
  return problem === undefined ? undefined : `headers: ${problem}`
}
