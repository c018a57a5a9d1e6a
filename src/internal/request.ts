/**
 * The request model of the client: what `buildRequest` returns and `send` executes, what hooks, auth flows and
 * transports see. Immutable; the helpers below return new requests.
 */
import * as Headers from "@effect/platform/Headers"
import type * as Stream from "effect/Stream"
import type { TimeoutInput } from "./timeouts.js"

/** A request body, already encoded. */
export type Body =
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | {
    readonly _tag: "Stream"
    readonly stream: Stream.Stream<Uint8Array, unknown>
    /** total bytes when known (then sent with Content-Length), undefined when not (sent chunked) */
    readonly length: number | undefined
    /**
     * whether running `stream` again yields the same bytes (a Stream built from bytes or a file can be re-run; a
     * stream of a socket cannot): a 307/308 redirect or an auth retry needs to send the body twice
     */
    readonly replayable: boolean
  }

export const emptyBody: Body = { _tag: "Empty" }

/** A request, as the client sees it. */
export interface Request {
  readonly method: string
  /** the absolute URL, with params already merged into its query */
  readonly url: string
  /** @effect/platform Headers: lower-case names */
  readonly headers: Headers.Headers
  readonly body: Body
  /** per-request timeout override (undefined: the client's) */
  readonly timeout?: TimeoutInput | undefined
  /** per-request redirect policy (undefined: the client's) */
  readonly followRedirects?: boolean | undefined
  /** per-request auth (undefined: the client's; null: none even if the client has one) */
  readonly auth?: unknown
}

export const make = (fields: {
  readonly method: string
  readonly url: string
  readonly headers?: Headers.Headers | undefined
  readonly body?: Body | undefined
  readonly timeout?: TimeoutInput | undefined
  readonly followRedirects?: boolean | undefined
  readonly auth?: unknown
}): Request => ({
  method: fields.method,
  url: fields.url,
  headers: fields.headers ?? Headers.empty,
  body: fields.body ?? emptyBody,
  timeout: fields.timeout,
  followRedirects: fields.followRedirects,
  auth: fields.auth
})

/** The same request with one header set (name is lower-cased). */
export const setHeader = (request: Request, name: string, value: string): Request => ({
  ...request,
  headers: Headers.set(request.headers, name, value)
})

export const removeHeader = (request: Request, name: string): Request => ({
  ...request,
  headers: Headers.remove(request.headers, name)
})

/** The body's length when it is known without running it. */
export const bodyLength = (body: Body): number | undefined =>
  body._tag === "Empty" ? 0 : body._tag === "Bytes" ? body.bytes.length : body.length
