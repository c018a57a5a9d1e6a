/**
 * Fetching with a group of fibers: results as they complete (httpx's old `client.parallel()`), and hedged requests
 * (a duplicate sent when the first is slow; the first answer wins and the rest are interrupted). For "start these and
 * wait for all", see `Nursery` and `Effect.all`.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import * as internal from "./internal/concurrency/concurrent.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface AsCompletedOptions {
  /** How many effects run at once: a number, or `"unbounded"`. */
  readonly concurrency: number | "unbounded"
}

/**
 * Run the effects, at most `concurrency` at a time, and emit their results in the order they complete.
 *
 * - The first failure fails the stream with that error, and the effects still running are interrupted (their
 *   finalizers run before the stream ends).
 * - A consumer that stops early (`Stream.take`, `Stream.runHead`, an interrupted fiber) interrupts the effects still
 *   running; effects not yet started never start.
 * - Results that complete before they are read wait in a small buffer, so a slow consumer does not hold back the
 *   effects themselves.
 *
 * To know which effect a result belongs to, map each effect to a pair: `Effect.map(client.get(url), (r) => [url, r])`.
 *
 * @example
 * ```ts
 * import { Console, Effect, Stream } from "effect"
 * import { Client, Concurrent } from "httpfx"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* Client.Client
 *   const urls = ["https://example.org/a", "https://example.org/b", "https://example.org/c"]
 *   yield* Concurrent.asCompleted(urls.map((url) => client.get(url)), { concurrency: 10 }).pipe(
 *     Stream.runForEach((response) => Console.log(response.url, response.status))
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const asCompleted: <A, E, R>(
  effects: Iterable<Effect.Effect<A, E, R>>,
  options: AsCompletedOptions
) => Stream.Stream<A, E, R> = internal.asCompleted

/**
 * @since 0.1.0
 * @category models
 */
export interface HedgeOptions {
  /** How long a copy runs without an answer before the next copy starts. */
  readonly after: Duration.DurationInput
  /** How many copies may run in all, the first included [2]. */
  readonly max?: number | undefined
}

/**
 * Hedge an effect against a slow answer: run it, and if it has not finished `after` the last copy started, start one
 * more copy, up to `max` copies in all. The first copy to succeed wins; the others are interrupted and their
 * finalizers have run when the hedge returns — for an httpfx request, an interrupted request closes its connection
 * rather than returning it to the pool half-read.
 *
 * A copy that fails drops out, and the next copy (if any remain) starts at once instead of waiting for its delay, as
 * gRPC's hedging policy does. When every copy has failed, the hedge fails with the first failure; the later ones
 * follow it in the Cause (`Cause.sequential`, in the order they happened).
 *
 * Only hedge what is safe to run twice (GET, HEAD, idempotent PUTs): the server may see every copy.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Concurrent } from "httpfx"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* Client.Client
 *   // A second request if the first has not answered within 200 ms; whichever answers first is used.
 *   return yield* client.get("https://example.org/search?q=effect").pipe(Concurrent.hedge({ after: "200 millis" }))
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const hedge: {
  (options: HedgeOptions): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, options: HedgeOptions): Effect.Effect<A, E, R>
} = internal.hedge
