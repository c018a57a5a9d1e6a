/**
 * httpfx: an HTTP client for Effect.
 *
 * @since 0.1.0
 */

/**
 * Typed failures: one tagged class per way a request can fail.
 *
 * @since 0.1.0
 */
export * as HttpError from "./HttpError.js"

/**
 * The connection pool (httpcore's AsyncConnectionPool).
 *
 * @since 0.1.0
 */
export * as Pool from "./Pool.js"

/**
 * Buffered and streaming responses.
 *
 * @since 0.1.0
 */
export * as Response from "./Response.js"
