/**
 * Every way an httpfx request can fail, as tagged errors that `Effect.catchTag` understands.
 *
 * @since 0.1.0
 */

import * as Predicate from "effect/Predicate"
import type { HttpStatusError } from "./internal/core/model.js"
import type {
  DecodingError,
  InvalidUrl,
  ResponseTooLarge,
  StreamConsumed,
  TimeoutError,
  TooManyRedirects,
  TransportError,
  WebSocketError
} from "./internal/core/errors.js"

// Declared below the layers that raise them (internal/core); HttpStatusError with the response it carries.
export {
  ConnectError,
  ConnectTimeout,
  DecodingError,
  InvalidUrl,
  LocalProtocolError,
  PoolTimeout,
  ProxyError,
  ReadError,
  ReadTimeout,
  RemoteProtocolError,
  RequestTimeout,
  ResponseTooLarge,
  StreamConsumed,
  TooManyRedirects,
  UnsupportedProtocol,
  WebSocketError,
  WriteError,
  WriteTimeout
} from "./internal/core/errors.js"
export type {
  BodyError,
  ErrorProps,
  RedirectError,
  RequestError,
  RequestInfo,
  TimeoutError,
  TransportError
} from "./internal/core/errors.js"
export { HttpStatusError } from "./internal/core/model.js"

/**
 * Every httpfx error.
 *
 * @since 0.1.0
 * @category models
 */
export type HttpError =
  | TransportError
  | InvalidUrl
  | TooManyRedirects
  | DecodingError
  | HttpStatusError
  | StreamConsumed
  | ResponseTooLarge
  | WebSocketError

const timeoutTags: ReadonlySet<string> = new Set([
  "ConnectTimeout",
  "ReadTimeout",
  "WriteTimeout",
  "PoolTimeout",
  "RequestTimeout"
])

const transportTags: ReadonlySet<string> = new Set([
  ...timeoutTags,
  "ConnectError",
  "ReadError",
  "WriteError",
  "RemoteProtocolError",
  "LocalProtocolError",
  "ProxyError",
  "UnsupportedProtocol"
])

const allTags: ReadonlySet<string> = new Set([
  ...transportTags,
  "InvalidUrl",
  "TooManyRedirects",
  "DecodingError",
  "HttpStatusError",
  "StreamConsumed",
  "ResponseTooLarge",
  "WebSocketError"
])

const tagIn = (tags: ReadonlySet<string>) => (u: unknown): boolean =>
  Predicate.hasProperty(u, "_tag") && typeof u._tag === "string" && tags.has(u._tag)

/**
 * Whether a value is one of the timeout errors (connect, read, write, pool, total).
 *
 * @since 0.1.0
 * @category guards
 */
export const isTimeout: (u: unknown) => u is TimeoutError = tagIn(timeoutTags) as any

/**
 * Whether a value is an error of the transport: the network or the HTTP exchange failed, as opposed to
 * the URL, the redirect policy, decoding or the status.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTransportError: (u: unknown) => u is TransportError = tagIn(transportTags) as any

/**
 * Whether a value is any httpfx error.
 *
 * @since 0.1.0
 * @category guards
 */
export const isHttpError: (u: unknown) => u is HttpError = tagIn(allTags) as any
