/**
 * Fetching with a group of fibers: results in completion order, and hedged requests (a duplicate sent when the first
 * is slow, the first success kept and the rest interrupted).
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import { dual, identity } from "effect/Function"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"

interface AsCompletedOptions {
  readonly concurrency: number | "unbounded"
}

export const asCompleted = <A, E, R>(
  effects: Iterable<Effect.Effect<A, E, R>>,
  options: AsCompletedOptions
): Stream.Stream<A, E, R> =>
  // Unordered mapEffect runs each effect in a fiber of the stream's own scope: a failure or the consumer stopping
  // ends that scope, which interrupts (and awaits) whatever is still running.
  Stream.mapEffect(Stream.fromIterable(effects), identity, { concurrency: options.concurrency, unordered: true })

interface HedgeOptions {
  readonly after: Duration.DurationInput
  readonly max?: number | undefined
}

/** What the hedge waits for: a copy ended, or a copy's delay passed without an answer. */
type Event<A, E> =
  | { readonly _tag: "Ended"; readonly exit: Exit.Exit<A, E> }
  | { readonly _tag: "Due"; readonly copy: number }

export const hedge = dual<
  (options: HedgeOptions) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>,
  <A, E, R>(self: Effect.Effect<A, E, R>, options: HedgeOptions) => Effect.Effect<A, E, R>
>(2, <A, E, R>(self: Effect.Effect<A, E, R>, options: HedgeOptions): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const copies = options.max ?? 2
    if (!Number.isInteger(copies) || copies < 1) {
      return Effect.dieMessage(`httpfx/Concurrent.hedge: max must be a whole number of copies >= 1, got ${copies}`)
    }
    const after = Duration.decode(options.after)
    return Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        // Copies and timers live in this scope, interruptible even when the caller is not. Closing it interrupts the
        // losers and waits for their finalizers, so a losing request has closed its connection when the hedge returns.
        const scope = yield* Scope.make(ExecutionStrategy.parallel)
        // One queue for both kinds of event, read by one loop: a take raced against a timer could drop an exit.
        const events = yield* Queue.unbounded<Event<A, E>>()
        let started = 0
        let failed = 0
        let failure: Cause.Cause<E> = Cause.empty

        const launch = Effect.suspend(() => {
          const copy = ++started
          const ended = (exit: Exit.Exit<A, E>) => Queue.offer(events, { _tag: "Ended", exit })
          const run = Effect.forkIn(Effect.interruptible(Effect.flatMap(Effect.exit(self), ended)), scope)
          const due = Effect.delay(Queue.offer(events, { _tag: "Due", copy }), after)
          const timer = copy < copies ? Effect.forkIn(Effect.interruptible(due), scope) : Effect.void
          return Effect.zipRight(run, timer)
        })

        // Each turn consumes one event, and there are at most two per copy (its end and its delay), so this ends.
        const race: Effect.Effect<A, E, R> = Effect.gen(function*() {
          yield* launch
          while (true) {
            const event = yield* Queue.take(events)
            if (event._tag === "Due") {
              // Only the newest copy's delay counts: a copy started early (after a failure) restarted the wait.
              if (event.copy === started && started < copies) yield* launch
              continue
            }
            if (Exit.isSuccess(event.exit)) return event.exit.value
            failed++
            failure = Cause.isEmpty(failure) ? event.exit.cause : Cause.sequential(failure, event.exit.cause)
            // A failed copy does not wait for its successor's delay: the next one starts now (as gRPC hedging does).
            if (started < copies) yield* launch
            else if (failed === started) return yield* Effect.failCause(failure)
          }
        })

        const outcome = yield* Effect.exit(restore(race))
        yield* Scope.close(scope, Exit.void)
        return yield* outcome
      })
    )
  }))
