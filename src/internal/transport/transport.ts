/**
 * Transports: what turns a client Request into a response. The pool is the default; mocks and in-process apps are
 * others. A transport may offer a buffered fast path (`send`), which the client uses when nothing needs the head
 * before the body.
 *
 * The Transport model and `make` are the public module's (Transport.ts declares its TypeId); this module adds what
 * the client needs besides.
 */
import type { Transport } from "../../Transport.js"
import { make } from "../../Transport.js"
import type { PoolImpl } from "../pool/pool.js"
import { fromPoolWith } from "./poolTransport.js"

export type { Middleware, Transport } from "../../Transport.js"
export { make } from "../../Transport.js"
export { poolOf } from "./poolTransport.js"

/** The pool as a transport: requests go out on its connections. */
export const fromPool = (pool: PoolImpl): Transport => fromPoolWith(pool, make)
