/**
 * What a request's span says about it, in OpenTelemetry's stable HTTP client vocabulary (semantic conventions,
 * "HTTP client spans"): the attribute names, `url.full` without secrets, the method as OpenTelemetry names it, and
 * the headers a user chose to capture. Pure functions: the tracing step decides when to call them.
 */
import { withoutUserinfo } from "../core/url.js"

export const HTTP_REQUEST_METHOD = "http.request.method"
const HTTP_REQUEST_METHOD_ORIGINAL = "http.request.method_original"
export const HTTP_REQUEST_RESEND_COUNT = "http.request.resend_count"
export const HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
export const URL_FULL = "url.full"
export const SERVER_ADDRESS = "server.address"
export const SERVER_PORT = "server.port"
export const NETWORK_PROTOCOL_VERSION = "network.protocol.version"
export const ERROR_TYPE = "error.type"

/**
 * The query parameters whose values OpenTelemetry redacts from `url.full` by default: pre-signed URLs carry their
 * signature (and, for AWS, the access key id) in the query, and a span outlives the URL's validity in no useful way.
 */
const SIGNATURE_PARAMETERS: ReadonlySet<string> = new Set(["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"])

const REDACTED = "REDACTED"

/**
 * `url.full` as OpenTelemetry wants it: the URL without its userinfo and with the values of signature parameters
 * replaced by "REDACTED". The rest of the query is kept byte for byte (no re-encoding), since it is what was sent.
 */
export const fullUrl = (url: string): string => {
  const clean = withoutUserinfo(url)
  const query = clean.indexOf("?")
  if (query < 0) return clean
  const hash = clean.indexOf("#", query)
  const end = hash < 0 ? clean.length : hash
  const pairs = clean.slice(query + 1, end).split("&")
  let changed = false
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[i]!
    const equals = pair.indexOf("=")
    const name = equals < 0 ? pair : pair.slice(0, equals)
    if (equals >= 0 && SIGNATURE_PARAMETERS.has(decodeName(name))) {
      pairs[i] = `${name}=${REDACTED}`
      changed = true
    }
  }
  return changed ? clean.slice(0, query + 1) + pairs.join("&") + clean.slice(end) : clean
}

const decodeName = (name: string): string => {
  try {
    return decodeURIComponent(name.replace(/\+/g, " "))
  } catch {
    return name
  }
}

/** The methods OpenTelemetry knows (RFC 9110 and RFC 5789); any other is reported as "_OTHER". */
const KNOWN_METHODS: ReadonlySet<string> = new Set([
  "CONNECT",
  "DELETE",
  "GET",
  "HEAD",
  "OPTIONS",
  "PATCH",
  "POST",
  "PUT",
  "TRACE"
])

/** `http.request.method` (and `http.request.method_original` when the method is not one OpenTelemetry knows). */
export const methodAttributes = (method: string): Record<string, string> =>
  KNOWN_METHODS.has(method)
    ? { [HTTP_REQUEST_METHOD]: method }
    : { [HTTP_REQUEST_METHOD]: "_OTHER", [HTTP_REQUEST_METHOD_ORIGINAL]: method }

/** The span's name: "http.client GET", as @effect/platform's HttpClient names its own. */
export const spanName = (method: string): string => `http.client ${KNOWN_METHODS.has(method) ? method : "HTTP"}`

/**
 * Fields that are never captured, whatever the allowlist says: they carry credentials, and a trace backend is not
 * the place for them. Set-Cookie is refused for the same reason as Cookie.
 */
const NEVER_CAPTURED: ReadonlySet<string> = new Set(["authorization", "cookie", "proxy-authorization", "set-cookie"])

/** An allowlist of header names, lower-cased, without the ones that may never be captured. */
export const captureList = (names: ReadonlyArray<string> | undefined): ReadonlyArray<string> => {
  if (names === undefined || names.length === 0) return []
  const out: Array<string> = []
  for (const name of names) {
    const lower = name.toLowerCase()
    if (!NEVER_CAPTURED.has(lower) && !out.includes(lower)) out.push(lower)
  }
  return out
}

/**
 * `http.request.header.<name>` / `http.response.header.<name>` attributes for the allowed fields present in `flat`
 * (name, value, name, value …, as they came): each is the list of that field's values, as OpenTelemetry specifies.
 */
export const headerAttributes = (
  kind: "request" | "response",
  allowed: ReadonlyArray<string>,
  flat: ReadonlyArray<string>
): Record<string, Array<string>> => {
  const out: Record<string, Array<string>> = {}
  if (allowed.length === 0) return out
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase()
    if (!allowed.includes(name)) continue
    ;(out[`http.${kind}.header.${name}`] ??= []).push(flat[i + 1]!)
  }
  return out
}
