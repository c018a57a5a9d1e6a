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
import type * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as internal from "./internal/concurrency/nursery.js"

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
export const isNursery: (u: unknown) => u is Nursery = internal.isNursery

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
export const open: <A, E, R>(
  body: (nursery: Nursery) => Effect.Effect<A, E, R>,
  options?: Options
) => Effect.Effect<A, E | ChildErrors<R>, Exclude<R, Child<any>>> = internal.open
