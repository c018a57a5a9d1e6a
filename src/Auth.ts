/**
 * Authentication for requests: Basic, Bearer, Digest, and custom flows that may look at the response and send the
 * request again (httpx's `auth_flow`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Auth, Client } from "httpfx"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* Client.Client
 *   const response = yield* client.get("https://example.org/private", { auth: Auth.digest("user", "secret") })
 *   console.log(response.status)
 * })
 * ```
 *
 * @since 0.1.0
 */
import type { Auth, Flow } from "./internal/pipeline/auth.js"
import * as internal from "./internal/pipeline/auth.js"

// Declared with the flows (internal/pipeline/auth.ts), which the client below this module uses.
export { TypeId } from "./internal/pipeline/auth.js"
export type { Auth, Flow } from "./internal/pipeline/auth.js"

/**
 * @since 0.1.0
 * @category guards
 */
export const isAuth: (u: unknown) => u is Auth = internal.isAuth

/**
 * An auth from a custom flow, e.g. one that refreshes a token when the server answers 401.
 *
 * @example
 * ```ts
 * import * as Headers from "@effect/platform/Headers"
 * import { Effect } from "effect"
 * import { Auth } from "httpfx"
 *
 * declare const freshToken: Effect.Effect<string>
 *
 * const refreshing = Auth.make((request, send) =>
 *   Effect.gen(function*() {
 *     const response = yield* send(request)
 *     if (response.status !== 401) return response
 *     const token = yield* freshToken
 *     return yield* send({ ...request, headers: Headers.set(request.headers, "authorization", `Bearer ${token}`) })
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (flow: Flow) => Auth = internal.make

/**
 * HTTP Basic authentication (RFC 7617): `Authorization: Basic base64(username:password)`, the pair encoded as
 * UTF-8, sent with every request.
 *
 * @since 0.1.0
 * @category constructors
 */
export const basic: (username: string, password: string) => Auth = internal.basic

/**
 * A bearer token (RFC 6750 §2.1): `Authorization: Bearer <token>`, sent with every request.
 *
 * @since 0.1.0
 * @category constructors
 */
export const bearer: (token: string) => Auth = internal.bearer

/**
 * HTTP Digest authentication (RFC 7616), as httpx's DigestAuth: the first request goes without credentials, a 401
 * with a Digest challenge is answered once (MD5, SHA-256 and SHA-512-256, their `-sess` variants, qop `auth` or
 * `auth-int`, `userhash`), and a second 401 is returned as it is. The last challenge of each origin is remembered,
 * so later requests with the same `Auth` answer it at once (nonce count 2, 3, …) and save a round trip; a `stale`
 * or renewed nonce is answered again.
 *
 * @since 0.1.0
 * @category constructors
 */
export const digest: (username: string, password: string) => Auth = internal.digest
