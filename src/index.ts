/**
 * httpfx: an HTTP client for Effect.
 *
 * @since 0.1.0
 */

/**
 * Authentication: basic, bearer, digest and custom flows.
 *
 * @since 0.1.0
 */
export * as Auth from "./Auth.js"

/**
 * The high-level client (httpx's AsyncClient) as an Effect service.
 *
 * @since 0.1.0
 */
export * as Client from "./Client.js"

/**
 * Fetching with a group of fibers: results as they complete, hedged requests.
 *
 * @since 0.1.0
 */
export * as Concurrent from "./Concurrent.js"

/**
 * Typed failures: one tagged class per way a request can fail.
 *
 * @since 0.1.0
 */
export * as HttpError from "./HttpError.js"

/**
 * Structured concurrency: a body and the children it starts share one lifetime (trio's nursery).
 *
 * @since 0.1.0
 */
export * as Nursery from "./Nursery.js"

/**
 * `@effect/platform`'s HttpClient on httpfx: existing platform code runs on the httpfx engine unchanged.
 *
 * @since 0.1.0
 */
export * as Platform from "./Platform.js"

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

/**
 * Transports: the pool, mocks, in-process apps.
 *
 * @since 0.1.0
 */
export * as Transport from "./Transport.js"
