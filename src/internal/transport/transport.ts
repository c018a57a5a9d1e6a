/**
 * Transports: what turns a client Request into a response. The pool is the default; mocks and in-process apps are
 * others. A transport may offer a buffered fast path (`send`), which the client uses when nothing needs the head
 * before the body.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as HttpError from "../../HttpError.js"
import type { PoolImpl, PoolOptions } from "../pool/pool.js"
import { makePool } from "../pool/pool.js"
import type { Request } from "../message/request.js"
import type * as Public from "../../Transport.js"
import type { Transport } from "../../Transport.js"
import type { Response, StreamingResponse } from "../message/response.js"

const TypeId: Public.TypeId = Symbol.for("httpfx/Transport") as Public.TypeId

export type { Middleware, Transport } from "../../Transport.js"

export const isTransport = (u: unknown): u is Transport => typeof u === "object" && u !== null && TypeId in u

export const make = (
  handle: Transport["handle"],
  extras?: { readonly send?: Transport["send"]; readonly connections?: Transport["connections"] }
): Transport => ({ [TypeId]: TypeId, handle, send: extras?.send, connections: extras?.connections })

const contentOf = (request: Request) => {
  const body = request.body
  return body._tag === "Empty" ? undefined : body._tag === "Bytes" ? body.bytes : body.stream
}

const PoolKey = Symbol.for("httpfx/Transport/pool")

/** The pool behind a transport made by `fromPool`, which the client may drive directly. */
export const poolOf = (transport: Transport): PoolImpl | undefined =>
  (transport as { readonly [PoolKey]?: PoolImpl })[PoolKey]

/** The pool as a transport: requests go out on its connections. */
export const fromPool = (pool: PoolImpl): Transport => {
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

/** A pool owned by the scope, as a transport. */
export const pool = (
  options?: PoolOptions
): Effect.Effect<Transport, HttpError.InvalidUrl | HttpError.LocalProtocolError, Scope.Scope> =>
  Effect.map(makePool(options), fromPool)
