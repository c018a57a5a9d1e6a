/**
 * The pool as a transport: requests go out on its connections, each response reports the request it answers, and
 * the client can find how to send a request with no Scope (the platform adapter's path). Built with the `make` it is
 * given: Transport.make, declared above this module.
 */
import type * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as HttpError from "../../HttpError.js"
import { withoutTotal } from "../core/timeouts.js"
import type { Request } from "../message/request.js"
import type { Response, StreamingResponse } from "../message/response.js"
import type { ConnectionInfo, Opening, PoolImpl } from "../pool/pool.js"

/** What a transport does with a request: `Transport["handle"]`. */
export type Handle = (request: Request) => Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope>

interface Extras {
  readonly send: (request: Request) => Effect.Effect<Response, HttpError.HttpError>
  readonly connections: Effect.Effect<ReadonlyArray<ConnectionInfo>>
}

const PoolKey = Symbol.for("httpfx/Transport/pool")
const OpenKey = Symbol.for("httpfx/Transport/open")

/** The pool behind a transport made by `fromPoolWith`. */
export const poolOf = (transport: object): PoolImpl | undefined =>
  (transport as { readonly [PoolKey]?: PoolImpl })[PoolKey]

/**
 * How `transport` sends a request with no Scope, when it can (a pool's, for a body in memory): undefined when it
 * cannot, for this request or at all.
 */
export const openerOf = (transport: object): ((request: Request) => Opening | undefined) | undefined =>
  (transport as { readonly [OpenKey]?: (request: Request) => Opening | undefined })[OpenKey]

/**
 * The pool as a transport, made by `make`. `armsTotal: false` for a client's own pool, whose total timeout the
 * client's pipeline arms: a request's `timeout.total` is then not armed a second time by the exchange.
 */
export const fromPoolWith = <T extends object>(
  pool: PoolImpl,
  make: (handle: Handle, extras: Extras) => T,
  armsTotal = true
): T => {
  const timeoutOf = armsTotal
    ? (request: Request) => request.timeout
    : (request: Request) => withoutTotal(request.timeout)
  const transport = make(
    (request) => pool.streamRequest(request, timeoutOf(request)),
    { send: (request) => pool.send(request, timeoutOf(request)), connections: pool.connections }
  )
  Object.defineProperty(transport, PoolKey, { value: pool })
  // A streamed request body is written by a fiber that needs a Scope.
  const open = (request: Request) => request.body._tag === "Stream" ? undefined : pool.open(request, timeoutOf(request))
  Object.defineProperty(transport, OpenKey, { value: open })
  return transport
}
