/**
 * Transports: what actually answers a client's requests. The connection pool by default; a mock or an in-process
 * web app for tests (httpx's MockTransport and ASGITransport).
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as Pool from "./Pool.js"
import * as internal from "./internal/transport.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: typeof internal.TypeId = internal.TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Turns a request into a streaming response whose body belongs to the given scope.
 *
 * @since 0.1.0
 * @category models
 */
export type Transport = internal.Transport

/**
 * @since 0.1.0
 * @category guards
 */
export const isTransport: (u: unknown) => u is Transport = internal.isTransport

/**
 * Build a transport from a handler.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  handle: Transport["handle"],
  extras?: { readonly send?: Transport["send"]; readonly connections?: Transport["connections"] }
) => Transport = internal.make

/**
 * A connection pool owned by the scope, as a transport: the default of every client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const pool: (options?: Pool.Options) => Effect.Effect<Transport, never, Scope.Scope> = internal.pool
