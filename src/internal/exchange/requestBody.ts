/**
 * Writing a request body given as a Stream: check out a connection and write the head, pump the body into the
 * connection with backpressure (each piece the socket cannot take at once waits for its drain), end it, then wait
 * for the response. Interruption or the body's own failure at any point gives the connection up.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import type * as HttpError from "../../HttpError.js"
import type { Exchange } from "./exchange.js"
import { Phase } from "./phase.js"

/** Send `exchange` with `body`, checked out by `acquire`, and wait for `phase` of its response. */
export const sendStreamed = <A, E>(
  exchange: Exchange,
  body: Stream.Stream<Uint8Array, E>,
  phase: Phase.Head | Phase.Complete,
  acquire: (exchange: Exchange) => void
): Effect.Effect<A, HttpError.HttpError | E> =>
  exchange.await<void, HttpError.HttpError>(Phase.Ready, acquire).pipe(
    Effect.zipRight(Stream.runForEachWhile(body, (bytes) => writePiece(exchange, bytes))),
    Effect.zipRight(Effect.sync(() => endBody(exchange))),
    Effect.zipRight(exchange.await<A, HttpError.HttpError>(phase)),
    Effect.onExit((exit) => Exit.isFailure(exit) ? Effect.sync(() => exchange.abandon()) : Effect.void)
  )

/** One piece of the body: true to go on, false once the exchange has ended (the rest is not written). */
const writePiece = (exchange: Exchange, bytes: Uint8Array): Effect.Effect<boolean> => {
  const connection = exchange.conn
  if (exchange.done || connection === undefined) return Effect.succeed(false)
  if (connection.writeBody(exchange, bytes)) return Effect.succeed(true)
  return Effect.as(Effect.either(exchange.await<void, HttpError.HttpError>(Phase.Drain)), !exchange.done)
}

const endBody = (exchange: Exchange): void => {
  const connection = exchange.conn
  if (connection !== undefined) connection.endBody(exchange)
}
