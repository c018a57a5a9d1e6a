/**
 * Transports: what turns a client Request into a response. The pool is the default; mocks and in-process apps are
 * others. A transport may offer a buffered fast path (`send`), which the client uses when nothing needs the head
 * before the body.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type * as HttpError from "../../HttpError.js"
import type { Opening, PoolImpl, PoolOptions } from "../pool/pool.js"
import { makePool } from "../pool/pool.js"
import type { Request } from "../message/request.js"
import type * as Public from "../../Transport.js"
import type { Transport } from "../../Transport.js"
import { withoutTotal } from "../core/timeouts.js"

const TypeId: Public.TypeId = Symbol.for("httpfx/Transport") as Public.TypeId

export type { Middleware, Transport } from "../../Transport.js"

export const isTransport = (u: unknown): u is Transport => typeof u === "object" && u !== null && TypeId in u

export const make = (
  handle: Transport["handle"],
  extras?: { readonly send?: Transport["send"]; readonly connections?: Transport["connections"] }
): Transport => ({ [TypeId]: TypeId, handle, send: extras?.send, connections: extras?.connections })

const PoolKey = Symbol.for("httpfx/Transport/pool")
const OpenKey = Symbol.for("httpfx/Transport/open")

/** A request sent with no Scope: the response is the caller's, who lets it go with `abandon` when `head` failed. */
export type { Opening } from "../pool/pool.js"

/** The pool behind a transport made by `fromPool`. */
export const poolOf = (transport: Transport): PoolImpl | undefined =>
  (transport as { readonly [PoolKey]?: PoolImpl })[PoolKey]

/**
 * How `transport` sends a request with no Scope, when it can (a pool's, for a body in memory): undefined when it
 * cannot, for this request or at all.
 */
export const openerOf = (transport: Transport): ((request: Request) => Opening | undefined) | undefined =>
  (transport as { readonly [OpenKey]?: (request: Request) => Opening | undefined })[OpenKey]

/**
 * The pool as a transport: requests go out on its connections, and each response reports the request it answers.
 * `armsTotal: false` for a client's own pool, whose total timeout the client's pipeline arms (pipeline/timeout.ts):
 * a request's `timeout.total` is then not armed a second time by the exchange.
 */
export const fromPool = (pool: PoolImpl, armsTotal = true): Transport => {
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

/** A pool owned by the scope, as a transport. */
export const pool = (
  options?: PoolOptions
): Effect.Effect<Transport, HttpError.InvalidUrl | HttpError.LocalProtocolError, Scope.Scope> =>
  Effect.map(makePool(options), fromPool)
