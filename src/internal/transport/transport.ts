/**
 * Transports: what turns a client Request into a response. The pool is the default; mocks and in-process apps are
 * others. A transport may offer a buffered fast path (`send`), which the client uses when nothing needs the head
 * before the body.
 *
 * The Transport model and `make` are the public module's (Transport.ts declares its TypeId); this module adds what
 * the client needs besides.
 */
import * as Effect from "effect/Effect"
import type * as HttpError from "../../HttpError.js"
import type { Transport } from "../../Transport.js"
import { make } from "../../Transport.js"
import type { Request } from "../message/request.js"
import type { Response, StreamingResponse } from "../message/response.js"
import type { PoolImpl } from "../pool/pool.js"
import { fromPoolWith } from "./poolTransport.js"

export type { Middleware, Transport } from "../../Transport.js"
export { make } from "../../Transport.js"
export { openerOf, poolOf } from "./poolTransport.js"
/** A request sent with no Scope: the response is the caller's, who lets it go with `abandon` when `head` failed. */
export type { Opening } from "../pool/pool.js"

/**
 * The pool as a transport: requests go out on its connections, and each response reports the request it answers.
 * `armsTotal: false` for a client's own pool, whose total timeout the client's pipeline arms (pipeline/timeout.ts):
 * a request's `timeout.total` is then not armed a second time by the exchange.
 */
export const fromPool = (pool: PoolImpl, armsTotal = true): Transport => fromPoolWith(pool, make, armsTotal)

/** A request sent with `handle`, its body read whole: what `send` does for a transport that has none of its own. */
export const readAll = (transport: Transport, request: Request): Effect.Effect<Response, HttpError.HttpError> =>
  Effect.scoped(Effect.flatMap(transport.handle(request), readWhole))

const readWhole = (response: StreamingResponse): Effect.Effect<Response, HttpError.HttpError> => response.read

/** A transport's buffered send: its own, or `handle` then `read`. */
export const sendOf = (transport: Transport): (request: Request) => Effect.Effect<Response, HttpError.HttpError> =>
  transport.send !== undefined
    ? (request) => transport.send!(request)
    : (request) => readAll(transport, request)
