/**
 * The pool as a transport: requests go out on its connections, and the client can find the pool behind the
 * transport to drive it directly. Built with the `make` it is given: Transport.make, declared above this module.
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as HttpError from "../../HttpError.js"
import type { Request } from "../message/request.js"
import type { Response, StreamingResponse } from "../message/response.js"
import type { ConnectionInfo, PoolImpl } from "../pool/pool.js"

/** What a transport does with a request: `Transport["handle"]`. */
export type Handle = (request: Request) => Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope>

interface Extras {
  readonly send: (request: Request) => Effect.Effect<Response, HttpError.HttpError>
  readonly connections: Effect.Effect<ReadonlyArray<ConnectionInfo>>
}

const contentOf = (request: Request) => {
  const body = request.body
  return body._tag === "Empty" ? undefined : body._tag === "Bytes" ? body.bytes : body.stream
}

const PoolKey = Symbol.for("httpfx/Transport/pool")

/** The pool behind a transport made by `fromPoolWith`, which the client may drive directly. */
export const poolOf = (transport: object): PoolImpl | undefined =>
  (transport as { readonly [PoolKey]?: PoolImpl })[PoolKey]

/** The pool as a transport, made by `make`. */
export const fromPoolWith = <T extends object>(pool: PoolImpl, make: (handle: Handle, extras: Extras) => T): T => {
  const transport = make(
    (request) =>
      pool.stream(request.method, request.url, {
        headers: request.headers,
        content: contentOf(request),
        timeout: request.timeout,
        limits: request.limits
      }) as Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope>,
    {
      send: (request) =>
        pool.request(request.method, request.url, {
          headers: request.headers,
          content: contentOf(request),
          timeout: request.timeout,
          limits: request.limits
        }) as Effect.Effect<Response, HttpError.HttpError>,
      connections: pool.connections
    }
  )
  Object.defineProperty(transport, PoolKey, { value: pool })
  return transport
}
