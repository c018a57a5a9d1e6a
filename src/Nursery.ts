/**
 * Structured concurrency (trio's nursery, anyio's task group): a body starts children, and `open` returns only when
 * the body and every child have finished. The first failure stops everything else and is what `open` fails with.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Nursery } from "httpfx"
 *
 * // Effect<void, HttpError, Client>: the children's errors are inferred
 * const program = Effect.gen(function*() {
 *   const client = yield* Client.Client
 *   yield* Nursery.open((nursery) =>
 *     Effect.gen(function*() {
 *       for (const page of [1, 2, 3]) {
 *         yield* nursery.startSoon(client.get("https://example.org/items", { params: { page } }))
 *       }
 *     })
 *   )
 * })
 * ```
 *
 * @since 0.1.0
 */

import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("httpfx/Nursery")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * @since 0.1.0
 * @category type ids
 */
export const ChildTypeId: unique symbol = Symbol.for("httpfx/Nursery/Child")

/**
 * @since 0.1.0
 * @category type ids
 */
export type ChildTypeId = typeof ChildTypeId

/**
 * A marker in the requirements of an effect that starts a child whose error type is `E`. It is never provided:
 * `open` removes it from the requirements and adds `E` to its errors, so the children's errors are inferred.
 *
 * A function defined outside `open` that starts children says so in its type:
 *
 * ```ts
 * const fetchAll = (nursery: Nursery.Nursery, urls: ReadonlyArray<string>):
 *   Effect.Effect<void, never, Client.Client | Nursery.Child<HttpError.HttpError>> => …
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Child<E> {
  readonly [ChildTypeId]: { readonly _E: (_: never) => E }
}

/**
 * The error types of the children started by an effect with requirements `R`.
 *
 * @since 0.1.0
 * @category models
 */
export type ChildErrors<R> = R extends Child<infer E> ? E : never

/**
 * A handle to start children; valid while its `open` runs (the body, the children and their children may use it).
 *
 * @since 0.1.0
 * @category models
 */
export interface Nursery {
  readonly [TypeId]: TypeId
  /**
   * Start a child and return at once. The child runs with the context of the fiber that starts it; a failure or
   * defect in it fails the whole nursery with the child's own error.
   */
  startSoon<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, R | Child<E>>
  /** Like `startSoon`, and return the child's fiber, to join, await or interrupt. */
  start<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Fiber.RuntimeFiber<A, E>, never, R | Child<E>>
}

/**
 * @since 0.1.0
 * @category guards
 */
export const isNursery = (u: unknown): u is Nursery => typeof u === "object" && u !== null && TypeId in u

/**
 * @since 0.2.0
 * @category models
 */
export interface Options {
  /**
   * How many children may run at once (anyio's CapacityLimiter) [default "unbounded"]. A child started beyond it
   * waits, in the order started, for a running one to end; `startSoon` and `start` still return at once (the fiber
   * `start` returns is waiting). A waiting child belongs to the nursery as a running one does: the first failure
   * interrupts it, and interrupting it (or a running child) frees its place. The body does not count. A bound that is
   * not a whole number of at least 1 is a defect (`IllegalArgumentException`).
   *
   * A child that waits for a child it started (or for a later sibling) while every place is taken waits forever, as
   * it would under anyio's limiter: such a child should not hold a place, or the bound should leave room.
   */
  readonly concurrency?: number | "unbounded" | undefined
}

// ---- implementation -------------------------------------------------------------------------------------------------

// The nursery: a body and the children it starts share one lifetime. Every fiber (the body included) is forked into
// a Scope the nursery owns; a counter of running fibers and two Deferreds tell `open` when to stop waiting (all
// done, or the first failure) and when the last fiber, including any started during the shutdown, has ended.
// With a `concurrency` bound, each child is forked at once and waits for a permit of a semaphore before it runs
// (anyio's CapacityLimiter), so `startSoon` and `start` never block and the waiting children belong to the nursery
// like the running ones: a failure interrupts them too, and an interrupted child gives its permit back.

/** The permits children take before they run, or undefined when the children are not bounded. */
const makeLimit = (options: Options | undefined): Effect.Effect<Effect.Semaphore | undefined> => {
  const bound = options?.concurrency
  if (bound === undefined || bound === "unbounded") return Effect.succeed(undefined)
  if (!Number.isSafeInteger(bound) || bound < 1) {
    return Effect.die(
      new Cause.IllegalArgumentException(
        `httpfx/Nursery: open was given concurrency ${String(bound)}; it must be a whole number of children of at ` +
          `least 1, or "unbounded"`
      )
    )
  }
  return Effect.makeSemaphore(bound)
}

const closedMessage = (method: string) =>
  `httpfx/Nursery: ${method} was called on a nursery whose open has already returned; ` +
  "start children from the body or from another child, while open is still running"

/** The same cause without its interruptions: siblings interrupted by the shutdown did not fail. */
const withoutInterruptions = <E>(cause: Cause.Cause<E>): Cause.Cause<E> =>
  Cause.match(cause, {
    onEmpty: Cause.empty,
    onFail: (error) => Cause.fail(error),
    onDie: (defect) => Cause.die(defect),
    onInterrupt: () => Cause.empty,
    onSequential: (left, right) =>
      Cause.isEmpty(left) ? right : Cause.isEmpty(right) ? left : Cause.sequential(left, right),
    onParallel: (left, right) => Cause.isEmpty(left) ? right : Cause.isEmpty(right) ? left : Cause.parallel(left, right)
  })

class NurseryImpl implements Nursery {
  readonly [TypeId]: TypeId = TypeId
  /** Fibers (body and children) forked and not yet ended. */
  private running = 0
  /** Set once `open` stops waiting (first failure, all done, or the caller interrupted): later exits are ours. */
  private shuttingDown = false
  /** Set with `done` on the first failure: a child that gets its permit after that must not start. */
  private stopping = false
  /** Set when `open` is about to return: starting a child then is a bug in the caller. */
  private closed = false
  /** Failures in the order they happened, interruptions removed. */
  private readonly failures: Array<Cause.Cause<unknown>> = []
  /** Errors and defects already in `failures`: a body that joins a failed child fails with the same value. */
  private readonly seen = new Set<unknown>()
  /** The body's own interruption (`Effect.interrupt` in the body), which stops the nursery like a failure. */
  private bodyInterrupted: Cause.Cause<unknown> | undefined = undefined
  private bodyExit: Exit.Exit<unknown, unknown> | undefined = undefined

  constructor(
    private readonly scope: Scope.CloseableScope,
    /** Completed when the nursery should stop waiting: every fiber ended, or the first failure. */
    private readonly done: Deferred.Deferred<void>,
    /** Completed when every fiber has ended. */
    private readonly idle: Deferred.Deferred<void>,
    /** A child takes one of its permits before it runs: the `concurrency` bound, if any. */
    private readonly limit: Effect.Semaphore | undefined
  ) {}

  startSoon<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<void, never, R | Child<E>> {
    return Effect.asVoid(this.spawn(effect, "startSoon", false))
  }

  start<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<Fiber.RuntimeFiber<A, E>, never, R | Child<E>> {
    return this.spawn(effect, "start", false)
  }

  spawn<A, E, R>(
    effect: Effect.Effect<A, E, R>,
    method: string,
    isBody: boolean
  ): Effect.Effect<Fiber.RuntimeFiber<A, E>, never, R> {
    // Uninterruptible from the count to the fork, so a counted fiber always exists; the fork inherits that flag, so
    // its `onExit` is installed before it can be interrupted, and only the child's own effect is interruptible.
    return Effect.uninterruptible(Effect.suspend(() => {
      if (this.closed) return Effect.dieMessage(closedMessage(method))
      this.running++
      // The body is not counted against the bound: it is what starts the children, and often waits for them.
      const limit = isBody ? undefined : this.limit
      const own = limit === undefined ? effect : Effect.suspend(() => this.stopping ? Effect.interrupt : effect)
      const child = Effect.onExit(Effect.interruptible(own), (exit) => Effect.suspend(() => this.ended(exit, isBody)))
      return Effect.forkIn(limit === undefined ? child : this.whenPermitted(limit, child), this.scope)
    }))
  }

  /**
   * Wait (interruptibly) for a permit, then run the child and give the permit back only after its end is recorded,
   * so a child woken by a failing sibling's permit sees `stopping` and never starts.
   */
  private whenPermitted<A, E, R>(
    limit: Effect.Semaphore,
    child: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> {
    return Effect.matchCauseEffect(Effect.interruptible(limit.take(1)), {
      onFailure: (cause) => Effect.zipRight(this.ended(Exit.failCause(cause), false), Effect.failCause(cause)),
      onSuccess: () => Effect.ensuring(child, limit.release(1))
    })
  }

  private ended(exit: Exit.Exit<unknown, unknown>, isBody: boolean): Effect.Effect<void> {
    const effects: Array<Effect.Effect<boolean>> = []
    if (isBody) this.bodyExit = exit
    if (Exit.isFailure(exit)) {
      if (!Cause.isInterruptedOnly(exit.cause)) {
        if (this.record(exit.cause)) this.stop(effects)
      } else if (isBody && !this.shuttingDown) {
        // The body interrupted itself (the nursery did not): nothing is left to return, so stop everything.
        this.bodyInterrupted = exit.cause
        this.stop(effects)
      }
      // A child interrupted by whoever holds its fiber, or by the shutdown, has not failed.
    }
    if (--this.running === 0) {
      effects.push(Deferred.succeed(this.done, undefined), Deferred.succeed(this.idle, undefined))
    }
    return Effect.asVoid(Effect.all(effects, { discard: true }))
  }

  private stop(effects: Array<Effect.Effect<boolean>>): void {
    this.stopping = true
    effects.push(Deferred.succeed(this.done, undefined))
  }

  /** Keep a failure; false when it only repeats values already kept (a join of a child that failed). */
  private record(cause: Cause.Cause<unknown>): boolean {
    const failure = withoutInterruptions(cause)
    const values = [...Cause.failures(failure), ...Cause.defects(failure)]
    if (values.length > 0 && values.every((value) => this.seen.has(value))) return false
    for (const value of values) this.seen.add(value)
    this.failures.push(failure)
    return true
  }

  /** Wait (interruptibly, as the caller is) for the end or the first failure, then stop the rest and wait for it. */
  run(restore: <X, Y, Z>(effect: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>): Effect.Effect<unknown, unknown> {
    return Effect.flatMap(Effect.exit(restore(Deferred.await(this.done))), (waited) => {
      this.shuttingDown = true
      return Scope.close(this.scope, Exit.void).pipe(
        // Fibers forked while the scope was closing were interrupted at once but not awaited by it.
        Effect.zipRight(Deferred.await(this.idle)),
        Effect.zipRight(Effect.suspend(() => {
          this.closed = true
          return this.result(waited)
        }))
      )
    })
  }

  private result(waited: Exit.Exit<void>): Effect.Effect<unknown, unknown> {
    const failures = this.failures.length === 0 ? undefined : this.failures.reduce((a, b) => Cause.parallel(a, b))
    if (Exit.isFailure(waited)) {
      // The caller was interrupted: report that, with anything that failed meanwhile.
      return Effect.failCause(failures === undefined ? waited.cause : Cause.parallel(waited.cause, failures))
    }
    if (failures !== undefined) return Effect.failCause(failures)
    if (this.bodyInterrupted !== undefined) return Effect.failCause(this.bodyInterrupted)
    const bodyExit = this.bodyExit!
    return bodyExit
  }
}

/**
 * Run `body` with a new nursery and return its value once the body and every child (grandchildren included) have
 * finished. `options.concurrency` bounds how many children run at once.
 *
 * - The first failure or defect, of the body or of a child, interrupts the body and every other child, waits for
 *   their finalizers, and fails `open` with that error as it is (no wrapper). Failures that happen during that
 *   shutdown are kept in the Cause, in parallel after the first; the interruptions the nursery caused are not.
 * - Interrupting the fiber running `open` interrupts the body and every child and waits for their finalizers.
 * - A child interrupted by whoever holds its fiber (from `start`) simply ends: that is not a failure.
 * - The body interrupting itself (`Effect.interrupt`) stops the nursery like a failure, and `open` is interrupted.
 * - Starting a child after `open` has returned dies with a message saying so.
 *
 * The body and the children are always interruptible by the nursery, even when `open` runs in an uninterruptible
 * region (that region only keeps outside interruption from reaching `open`).
 *
 * @example
 * ```ts
 * import { Effect, Fiber } from "effect"
 * import { Nursery } from "httpfx"
 *
 * const program = Nursery.open((nursery) =>
 *   Effect.gen(function*() {
 *     yield* nursery.startSoon(Effect.log("in the background"))
 *     const answer = yield* nursery.start(Effect.succeed(42))
 *     return yield* Fiber.join(answer)
 *   })
 * )
 *
 * // At most 4 downloads at a time, however many pages there are.
 * const downloads = (urls: ReadonlyArray<string>) =>
 *   Nursery.open((nursery) => Effect.forEach(urls, (url) => nursery.startSoon(Effect.log(url)), { discard: true }), {
 *     concurrency: 4
 *   })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = <A, E, R>(
  body: (nursery: Nursery) => Effect.Effect<A, E, R>,
  options?: Options
): Effect.Effect<A, E | ChildErrors<R>, Exclude<R, Child<any>>> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const limit = yield* makeLimit(options)
      // Parallel: on a failure every remaining fiber is interrupted at once and their finalizers run side by side.
      const scope = yield* Scope.make(ExecutionStrategy.parallel)
      const nursery = new NurseryImpl(scope, yield* Deferred.make<void>(), yield* Deferred.make<void>(), limit)
      yield* nursery.spawn(Effect.suspend(() => body(nursery)), "open", true)
      return yield* nursery.run(restore)
    })
  ) as Effect.Effect<A, E | ChildErrors<R>, Exclude<R, Child<any>>>
