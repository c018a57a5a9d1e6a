/**
 * Every way an httpfx request can fail, as tagged errors that `Effect.catchTag` understands. HttpError.ts re-exports
 * them; the one that carries a response, `HttpStatusError`, is declared with the response (model.ts).
 */
import * as Data from "effect/Data"

/**
 * The request an error belongs to: enough to say "GET http://…" in a message and a log line.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestInfo {
  readonly method: string
  readonly url: string
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ErrorProps {
  readonly message: string
  readonly request?: RequestInfo | undefined
  readonly cause?: unknown
}

/**
 * TCP, TLS or proxy connect failed: refused, DNS, certificate rejected.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectError extends Data.TaggedError("ConnectError")<ErrorProps> {}

/**
 * Connecting (TCP and TLS together) took longer than the connect timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectTimeout extends Data.TaggedError("ConnectTimeout")<ErrorProps> {}

/**
 * The socket failed while the response was being read (reset, closed early).
 *
 * @since 0.1.0
 * @category errors
 */
export class ReadError extends Data.TaggedError("ReadError")<ErrorProps> {}

/**
 * The socket failed while the request was being written.
 *
 * @since 0.1.0
 * @category errors
 */
export class WriteError extends Data.TaggedError("WriteError")<ErrorProps> {}

/**
 * No byte arrived within the read timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class ReadTimeout extends Data.TaggedError("ReadTimeout")<ErrorProps> {}

/**
 * The peer accepted no byte within the write timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class WriteTimeout extends Data.TaggedError("WriteTimeout")<ErrorProps> {}

/**
 * No connection became free within the pool timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class PoolTimeout extends Data.TaggedError("PoolTimeout")<ErrorProps> {}

/**
 * The `total` deadline of a request passed, whatever phase it was in.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestTimeout extends Data.TaggedError("RequestTimeout")<ErrorProps> {}

/**
 * The peer broke HTTP: a malformed head, a bad chunk, conflicting lengths, a close before the response.
 *
 * @since 0.1.0
 * @category errors
 */
export class RemoteProtocolError extends Data.TaggedError("RemoteProtocolError")<ErrorProps> {}

/**
 * The request itself is not valid HTTP (CR/LF in a header, a bad method token). Nothing was sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class LocalProtocolError extends Data.TaggedError("LocalProtocolError")<ErrorProps> {}

/**
 * The proxy refused or failed the tunnel.
 *
 * @since 0.1.0
 * @category errors
 */
export class ProxyError extends Data.TaggedError("ProxyError")<ErrorProps> {}

/**
 * The URL's scheme is not one httpfx speaks.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnsupportedProtocol extends Data.TaggedError("UnsupportedProtocol")<ErrorProps> {}

/**
 * The URL cannot be parsed or has no host.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidUrl extends Data.TaggedError("InvalidUrl")<ErrorProps> {}

/**
 * More redirects than `maxRedirects` allows.
 *
 * @since 0.1.0
 * @category errors
 */
export class TooManyRedirects extends Data.TaggedError("TooManyRedirects")<ErrorProps> {}

/**
 * Content-Encoding, JSON or charset decoding failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class DecodingError extends Data.TaggedError("DecodingError")<ErrorProps> {}

/**
 * A response body stream was run a second time; a body can be consumed once.
 *
 * @since 0.1.0
 * @category errors
 */
export class StreamConsumed extends Data.TaggedError("StreamConsumed")<ErrorProps> {}

/**
 * A response body passed `limits.maxBodySize` (decoded bytes, buffered or streamed), declared a `Content-Length`
 * above it, or grew past the largest buffer this platform can allocate; or, for `client.sse`, a line or an event of the
 * event stream was longer than that limit. `limit` is the number of bytes (characters for `sse`) allowed.
 *
 * @since 0.2.0
 * @category errors
 */
export class ResponseTooLarge extends Data.TaggedError("ResponseTooLarge")<ErrorProps & {
  readonly limit: number
}> {}

/**
 * A WebSocket failed: its handshake was refused or broke RFC 6455, the server broke the protocol (then `code` is the
 * close code sent to it, 1002, 1007 or 1009), the server closed it with a code other than 1000 or 1001 (`code` is
 * that code), or the connection ended without a closing handshake (`code` 1006).
 *
 * @since 0.2.0
 * @category errors
 */
export class WebSocketError extends Data.TaggedError("WebSocketError")<ErrorProps & {
  /** the close code, when there is one (RFC 6455 §7.4) */
  readonly code?: number | undefined
}> {}

/**
 * @since 0.1.0
 * @category models
 */
export type TimeoutError = ConnectTimeout | ReadTimeout | WriteTimeout | PoolTimeout | RequestTimeout

/**
 * The network or the HTTP exchange failed, as opposed to the URL, the redirect policy, decoding or the status.
 *
 * @since 0.1.0
 * @category models
 */
export type TransportError =
  | TimeoutError
  | ConnectError
  | ReadError
  | WriteError
  | RemoteProtocolError
  | LocalProtocolError
  | ProxyError
  | UnsupportedProtocol

/**
 * What any request can fail with, sent and read: its URL (`InvalidUrl`, `UnsupportedProtocol`), its body
 * (`LocalProtocolError`), the connection and the exchange (the `TransportError`s, timeouts included), the response's
 * Content-Encoding (`DecodingError`) and size (`ResponseTooLarge`). Nothing here depends on the status.
 *
 * @since 0.2.0
 * @category models
 */
export type RequestError = TransportError | InvalidUrl | DecodingError | ResponseTooLarge

/**
 * What following redirects adds: more than `maxRedirects` (`TooManyRedirects`), or a 307/308 that needs a streamed
 * body sent again (`StreamConsumed`).
 *
 * @since 0.2.0
 * @category models
 */
export type RedirectError = TooManyRedirects | StreamConsumed

/**
 * What reading a response body can fail with: the connection and the exchange (the `TransportError`s), its
 * Content-Encoding (`DecodingError`), its size (`ResponseTooLarge`), and a second read of a body that can be consumed
 * once (`StreamConsumed`). Never the status, the URL or redirects.
 *
 * @since 0.2.0
 * @category models
 */
export type BodyError = TransportError | DecodingError | ResponseTooLarge | StreamConsumed
