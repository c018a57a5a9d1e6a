/**
 * Responses: a buffered `Response` that holds no connection, and a `StreamingResponse` whose body belongs to a scope.
 *
 * @since 0.1.0
 */
import type * as internal from "./internal/response.js"

/**
 * A response whose body has been read: it holds no connection.
 *
 * @since 0.1.0
 * @category models
 */
export type Response = internal.Response

/**
 * A response whose body is read lazily. The connection goes back to the pool as soon as the last byte is read; if the
 * scope closes first, the connection is closed.
 *
 * @since 0.1.0
 * @category models
 */
export type StreamingResponse = internal.StreamingResponse

/**
 * The request as it was sent.
 *
 * @since 0.1.0
 * @category models
 */
export type Request = internal.Request

/**
 * @since 0.1.0
 * @category models
 */
export type HttpVersion = internal.HttpVersion

/**
 * Options of `StreamingResponse.runForEach`: `buffer` reads the body through memory of the caller's, with nothing
 * allocated per read.
 *
 * @since 0.1.0
 * @category models
 */
export type RunForEachOptions = internal.RunForEachOptions
