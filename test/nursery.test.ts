/**
 * The nursery (trio's nursery, anyio's task group): lifetimes, the first failure, interruption, grandchildren,
 * scoped resources of children, misuse after `open`, and the typing that makes the children's errors inferred.
 * Time is the TestClock's: children sleep, the test moves the clock, and `Fiber.poll` says whether `open` returned.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Data, Deferred, Effect, Exit, Fiber, Option, Ref, TestClock } from "effect"
import type * as Duration from "effect/Duration"
import { Client, HttpError, Nursery, Transport } from "httpfx"
import { expectTypeOf } from "vitest"

// ---- helpers -------------------------------------------------------------------------------------------------------

class Boom extends Data.TaggedError("Boom")<{ readonly which: string }> {}
class Other extends Data.TaggedError("Other")<{}> {}

class Greeting extends Context.Tag("test/Greeting")<Greeting, string>() {}

/** A log of events in the order they happened. */
const makeLog = Ref.make<ReadonlyArray<string>>([])
const note = (log: Ref.Ref<ReadonlyArray<string>>, event: string) => Ref.update(log, (events) => [...events, event])

/** Whether the fiber has finished, without waiting. */
const isDone = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) => Effect.map(Fiber.poll(fiber), Option.isSome)

/** Let forked fibers run up to their next sleep. */
const settle = TestClock.adjust(0)

// ---- lifetime ------------------------------------------------------------------------------------------------------

describe("Nursery.open: lifetime", () => {
  it.effect("returns the body's value only after every child has finished", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const fiber = yield* Effect.fork(Nursery.open((nursery) =>
        Effect.gen(function*() {
          yield* nursery.startSoon(Effect.sleep("1 second").pipe(Effect.zipRight(note(log, "child 1s"))))
          yield* nursery.startSoon(Effect.sleep("2 seconds").pipe(Effect.zipRight(note(log, "child 2s"))))
          yield* note(log, "body")
          return "value"
        })
      ))
      yield* TestClock.adjust("1 second")
      expect(yield* isDone(fiber)).toBe(false)
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe("value")
      expect(yield* Ref.get(log)).toEqual(["body", "child 1s", "child 2s"])
    }))

  it.effect("children run concurrently", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(Nursery.open((nursery) =>
        Effect.gen(function*() {
          for (let i = 0; i < 5; i++) yield* nursery.startSoon(Effect.sleep("1 second"))
        })
      ))
      yield* TestClock.adjust("1 second")
      expect(yield* isDone(fiber)).toBe(true)
    }))

  it.effect("a child may start further children in the same nursery, and open waits for them", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const fiber = yield* Effect.fork(Nursery.open((nursery) =>
        nursery.startSoon(Effect.gen(function*() {
          yield* Effect.sleep("1 second")
          yield* nursery.startSoon(Effect.sleep("3 seconds").pipe(Effect.zipRight(note(log, "grandchild"))))
          yield* note(log, "child")
        }))
      ))
      yield* TestClock.adjust("2 seconds")
      expect(yield* isDone(fiber)).toBe(false)
      expect(yield* Ref.get(log)).toEqual(["child"])
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(fiber)
      expect(yield* Ref.get(log)).toEqual(["child", "grandchild"])
    }))

  it.effect("start returns the child's fiber, which the body may join", () =>
    Effect.gen(function*() {
      const result = yield* Nursery.open((nursery) =>
        Effect.gen(function*() {
          const a = yield* nursery.start(Effect.succeed(20))
          const b = yield* nursery.start(Effect.succeed(22))
          return (yield* Fiber.join(a)) + (yield* Fiber.join(b))
        })
      )
      expect(result).toBe(42)
    }))

  it.effect("a child interrupted through its fiber simply ends: that is not a failure", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const result = yield* Nursery.open((nursery) =>
        Effect.gen(function*() {
          const child = yield* nursery.start(Effect.never.pipe(Effect.onInterrupt(() => note(log, "interrupted"))))
          yield* settle
          yield* Fiber.interrupt(child)
          return "fine"
        })
      )
      expect(result).toBe("fine")
      expect(yield* Ref.get(log)).toEqual(["interrupted"])
    }))

  it.effect("children run with the context of the fiber that starts them", () =>
    Effect.gen(function*() {
      const seen = yield* Nursery.open((nursery) =>
        Effect.gen(function*() {
          const child = yield* nursery.start(Greeting)
          return yield* Fiber.join(child)
        })
      ).pipe(Effect.provideService(Greeting, "hello"))
      expect(seen).toBe("hello")
    }))
})

// ---- failures ------------------------------------------------------------------------------------------------------

describe("Nursery.open: the first failure", () => {
  it.effect("a child's failure stops the body and the siblings, waits for their finalizers, and is open's error", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const boom = new Boom({ which: "child" })
      const fiber = yield* Effect.fork(Effect.exit(Nursery.open((nursery) =>
        Effect.gen(function*() {
          yield* nursery.startSoon(Effect.sleep("1 second").pipe(Effect.zipRight(Effect.fail(boom))))
          // A sibling whose cleanup takes two seconds: open must wait for it.
          const cleanup = Effect.sleep("2 seconds").pipe(Effect.zipRight(note(log, "sibling cleaned")))
          yield* nursery.startSoon(Effect.never.pipe(Effect.ensuring(cleanup)))
          yield* Effect.never.pipe(Effect.onInterrupt(() => note(log, "body interrupted")))
        })
      )))
      yield* TestClock.adjust("1 second")
      expect(yield* isDone(fiber)).toBe(false)
      expect(yield* Ref.get(log)).toEqual(["body interrupted"])
      yield* TestClock.adjust("2 seconds")
      const exit = yield* Fiber.join(fiber)
      expect(yield* Ref.get(log)).toEqual(["body interrupted", "sibling cleaned"])
      assertFailure(exit, boom)
    }))

  it.effect("open's error is catchable by its tag", () =>
    Effect.gen(function*() {
      const failing = Nursery.open((nursery) => nursery.startSoon(Effect.fail(new Boom({ which: "tagged" }))))
      const caught = yield* failing.pipe(Effect.catchTag("Boom", (error) => Effect.succeed(`caught ${error.which}`)))
      expect(caught).toBe("caught tagged")
    }))

  it.effect("the body's failure interrupts every child and waits for their finalizers", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const boom = new Boom({ which: "body" })
      const fiber = yield* Effect.fork(Effect.exit(Nursery.open((nursery) =>
        Effect.gen(function*() {
          for (const name of ["a", "b"]) {
            yield* nursery.startSoon(
              Effect.never.pipe(Effect.ensuring(Effect.sleep("1 second").pipe(Effect.zipRight(note(log, name)))))
            )
          }
          yield* Effect.sleep("1 second")
          return yield* Effect.fail(boom)
        })
      )))
      yield* TestClock.adjust("1 second")
      expect(yield* isDone(fiber)).toBe(false)
      // The finalizers run side by side: one more second finishes both.
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(fiber)
      expect([...(yield* Ref.get(log))].sort()).toEqual(["a", "b"])
      assertFailure(exit, boom)
    }))

  it.effect("a defect in a child fails the nursery with that defect", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const defect = new Error("bug in child")
      const exit = yield* Effect.exit(Nursery.open((nursery) =>
        Effect.gen(function*() {
          yield* nursery.startSoon(Effect.never.pipe(Effect.onInterrupt(() => note(log, "sibling interrupted"))))
          yield* nursery.startSoon(Effect.die(defect))
        })
      ))
      if (Exit.isSuccess(exit)) throw new Error("expected a failure")
      expect([...Cause.defects(exit.cause)]).toEqual([defect])
      expect(Cause.isInterrupted(exit.cause)).toBe(false)
      expect(yield* Ref.get(log)).toEqual(["sibling interrupted"])
    }))

  it.effect("failures during the shutdown are kept in the Cause after the first; the interruptions are not", () =>
    Effect.gen(function*() {
      const first = new Boom({ which: "first" })
      const cleanup = new Error("cleanup failed")
      const exit = yield* Effect.exit(Nursery.open((nursery) =>
        Effect.gen(function*() {
          yield* nursery.startSoon(Effect.never.pipe(Effect.onInterrupt(() => Effect.die(cleanup))))
          yield* settle
          yield* nursery.startSoon(Effect.fail(first))
        })
      ))
      assertFailure(exit, first)
      if (Exit.isSuccess(exit)) return
      expect([...Cause.defects(exit.cause)]).toEqual([cleanup])
    }))

  it.effect("a child that fails while the body joins it is reported once", () =>
    Effect.gen(function*() {
      const boom = new Boom({ which: "joined" })
      const fiber = yield* Effect.fork(Effect.exit(Nursery.open((nursery) =>
        Effect.gen(function*() {
          const child = yield* nursery.start(Effect.sleep("1 second").pipe(Effect.zipRight(Effect.fail(boom))))
          return yield* Fiber.join(child)
        })
      )))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(fiber)
      assertFailure(exit, boom)
      if (Exit.isSuccess(exit)) return
      expect([...Cause.failures(exit.cause)]).toEqual([boom])
    }))

  it.effect("the body interrupting itself stops the children and interrupts open", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const exit = yield* Effect.exit(Nursery.open((nursery) =>
        Effect.gen(function*() {
          yield* nursery.startSoon(Effect.never.pipe(Effect.onInterrupt(() => note(log, "child interrupted"))))
          yield* settle
          return yield* Effect.interrupt
        })
      ))
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(yield* Ref.get(log)).toEqual(["child interrupted"])
    }))

  it.effect("children are stopped by a failure even when open runs in an uninterruptible region", () =>
    Effect.gen(function*() {
      const boom = new Boom({ which: "child" })
      const exit = yield* Effect.exit(Effect.uninterruptible(Nursery.open((nursery) =>
        Effect.gen(function*() {
          yield* nursery.startSoon(Effect.never)
          yield* nursery.startSoon(Effect.fail(boom))
          yield* Effect.never
        })
      )))
      assertFailure(exit, boom)
    }))
})

// ---- interruption and resources ------------------------------------------------------------------------------------

describe("Nursery.open: interruption and resources", () => {
  it.effect("interrupting the caller interrupts every child and waits for their finalizers", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Nursery.open((nursery) =>
        Effect.gen(function*() {
          for (const name of ["a", "b"]) {
            yield* nursery.startSoon(
              Effect.never.pipe(Effect.ensuring(Effect.sleep("1 second").pipe(Effect.zipRight(note(log, name)))))
            )
          }
          // A grandchild, to show the interruption reaches every generation.
          yield* nursery.startSoon(nursery.startSoon(
            Effect.never.pipe(Effect.ensuring(note(log, "grandchild")))
          ))
          yield* Deferred.succeed(started, undefined)
          yield* Effect.never
        })
      ))
      yield* Deferred.await(started)
      yield* settle
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* settle
      expect(yield* isDone(interrupting)).toBe(false)
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(interrupting)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect([...(yield* Ref.get(log))].sort()).toEqual(["a", "b", "grandchild"])
    }))

  it.effect("a resource a child opens in its own scope is released when the child ends", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const resource = Effect.acquireRelease(note(log, "acquired"), () => note(log, "released"))
      const fiber = yield* Effect.fork(Nursery.open((nursery) =>
        Effect.gen(function*() {
          yield* nursery.startSoon(Effect.scoped(Effect.zipRight(resource, Effect.sleep("1 second"))))
          yield* nursery.startSoon(Effect.sleep("5 seconds"))
        })
      ))
      yield* TestClock.adjust("1 second")
      // The nursery is still running (the other child sleeps), yet the finished child's resource is released.
      expect(yield* isDone(fiber)).toBe(false)
      expect(yield* Ref.get(log)).toEqual(["acquired", "released"])
      yield* TestClock.adjust("4 seconds")
      yield* Fiber.join(fiber)
    }))

  it.effect("a resource of a child interrupted by a sibling's failure is released before open returns", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const resource = Effect.acquireRelease(note(log, "acquired"), () => note(log, "released"))
      const exit = yield* Effect.exit(Nursery.open((nursery) =>
        Effect.gen(function*() {
          yield* nursery.startSoon(Effect.scoped(Effect.zipRight(resource, Effect.never)))
          yield* settle
          yield* nursery.startSoon(Effect.fail(new Boom({ which: "sibling" })))
        })
      ))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* Ref.get(log)).toEqual(["acquired", "released"])
    }))
})

// ---- misuse --------------------------------------------------------------------------------------------------------

describe("Nursery: after open returned", () => {
  it.effect("starting a child dies with a message saying the nursery is closed", () =>
    Effect.gen(function*() {
      const escaped = yield* Nursery.open((nursery) => Effect.succeed(nursery))
      // The types forbid this (Child<never> is never provided); the cast stands for code that escapes them.
      for (const start of [escaped.startSoon(Effect.void), escaped.start(Effect.void)]) {
        const exit = yield* Effect.exit(start as Effect.Effect<unknown>)
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isSuccess(exit)) return
        const [defect] = Cause.defects(exit.cause)
        expect(String(defect)).toMatch(/nursery whose open has already returned/)
      }
    }))

  it("isNursery recognises a nursery", async () => {
    const nursery = await Effect.runPromise(Nursery.open((nursery) => Effect.succeed(nursery)))
    expect(Nursery.isNursery(nursery)).toBe(true)
    expect(Nursery.isNursery({})).toBe(false)
  })
})

// ---- with the client -----------------------------------------------------------------------------------------------

describe("Nursery with the client", () => {
  it.effect("the first failing request fails the nursery with its own HttpError; the others are interrupted", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const slowStarted = yield* Deferred.make<void>()
      const transport = Transport.mock((request) =>
        request.url.endsWith("/missing")
          ? new Response("no", { status: 404 })
          : Effect.zipRight(Deferred.succeed(slowStarted, undefined), Effect.never)
      )
      const program = Effect.gen(function*() {
        const client = yield* Client.Client
        yield* Nursery.open((nursery) =>
          Effect.gen(function*() {
            yield* nursery.startSoon(client.get("http://test/slow").pipe(Effect.onInterrupt(() => note(log, "slow"))))
            const missing = Effect.flatMap(client.get("http://test/missing"), (r) => r.raiseForStatus)
            yield* nursery.startSoon(Effect.zipRight(Deferred.await(slowStarted), missing))
          })
        )
      })
      const error = yield* Effect.flip(program.pipe(Effect.provide(Client.layer({ transport }))))
      expect(error._tag).toBe("HttpStatusError")
      expect(yield* Ref.get(log)).toEqual(["slow"])
    }))
})

// ---- types ---------------------------------------------------------------------------------------------------------

describe("Nursery: types", () => {
  it("open infers the children's errors and removes the Child markers from the requirements", () => {
    const program = Nursery.open((nursery) =>
      Effect.gen(function*() {
        yield* nursery.startSoon(Effect.fail(new Boom({ which: "child" })))
        const child = yield* nursery.start(Effect.map(Greeting, (greeting) => greeting.length))
        yield* Effect.fail(new Other())
        return yield* Fiber.join(child)
      })
    )
    expectTypeOf(program).toEqualTypeOf<Effect.Effect<number, Boom | Other, Greeting>>()
  })

  it("requests started in a nursery make HttpError its error type", () => {
    const program = Effect.gen(function*() {
      const client = yield* Client.Client
      const urls = ["http://a/1", "http://a/2"]
      const fetched = Nursery.open((nursery) =>
        Effect.gen(function*() {
          for (const url of urls) yield* nursery.startSoon(client.get(url))
        })
      )
      expectTypeOf(fetched).toEqualTypeOf<Effect.Effect<void, HttpError.HttpError>>()
      return yield* fetched
    })
    expectTypeOf(program).toEqualTypeOf<Effect.Effect<void, HttpError.HttpError, Client.Client>>()
  })

  it("the errors of grandchildren flow up through the child that starts them", () => {
    const program = Nursery.open((nursery) => nursery.startSoon(nursery.startSoon(Effect.fail(new Other()))))
    expectTypeOf(program).toEqualTypeOf<Effect.Effect<void, Other>>()
  })

  it("a child-starting function defined elsewhere states Child<E> in its requirements", () => {
    const fetchAll = (
      nursery: Nursery.Nursery,
      urls: ReadonlyArray<string>
    ): Effect.Effect<void, never, Client.Client | Nursery.Child<HttpError.HttpError>> =>
      Effect.gen(function*() {
        const client = yield* Client.Client
        for (const url of urls) yield* nursery.startSoon(client.get(url))
      })
    const program = Nursery.open((nursery) => fetchAll(nursery, ["http://a/1"]))
    expectTypeOf(program).toEqualTypeOf<Effect.Effect<void, HttpError.HttpError, Client.Client>>()
  })

  it("the start effects carry the child's error as a requirement, which only open can discharge", () => {
    const misuse = (nursery: Nursery.Nursery) => {
      const start = nursery.startSoon(Effect.fail(new Boom({ which: "x" })))
      expectTypeOf(start).toEqualTypeOf<Effect.Effect<void, never, Nursery.Child<Boom>>>()
      // @ts-expect-error: an effect that needs Child<Boom> cannot be run outside open
      return Effect.runFork(start)
    }
    expectTypeOf(misuse).toBeFunction()
  })
})

// ---- a bound on running children ------------------------------------------------------------------------------------

/** A child that counts itself running for `duration` (or until interrupted), keeping the highest count seen. */
const counted = (
  counts: Ref.Ref<{ readonly now: number; readonly most: number; readonly finished: number }>,
  duration: Duration.DurationInput
) =>
  Effect.acquireUseRelease(
    Ref.update(counts, ({ finished, most, now }) => ({ now: now + 1, most: Math.max(most, now + 1), finished })),
    () => Effect.sleep(duration),
    (_, exit) =>
      Ref.update(counts, ({ finished, most, now }) => ({
        now: now - 1,
        most,
        finished: finished + (Exit.isSuccess(exit) ? 1 : 0)
      }))
  )

const makeCounts = Ref.make({ now: 0, most: 0, finished: 0 })

describe("Nursery.open: concurrency", () => {
  it.effect("with concurrency 2, never more than 2 of 6 children run at once, and all 6 finish", () =>
    Effect.gen(function*() {
      const counts = yield* makeCounts
      const fiber = yield* Effect.fork(Nursery.open((nursery) =>
        Effect.gen(function*() {
          for (let i = 0; i < 6; i++) yield* nursery.startSoon(counted(counts, "1 second"))
        }), { concurrency: 2 }))
      yield* settle
      expect(yield* Ref.get(counts)).toEqual({ now: 2, most: 2, finished: 0 })
      yield* TestClock.adjust("2 seconds")
      expect(yield* isDone(fiber)).toBe(false)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(yield* Ref.get(counts)).toEqual({ now: 0, most: 2, finished: 6 })
    }))

  it.effect("startSoon and start return at once while children wait for a place; the body takes none", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const gate = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Nursery.open((nursery) =>
        Effect.gen(function*() {
          yield* nursery.startSoon(Effect.zipRight(Deferred.await(gate), note(log, "first")))
          yield* nursery.startSoon(note(log, "second"))
          const third = yield* nursery.start(Effect.as(note(log, "third"), 3))
          yield* settle
          yield* note(log, "body started all three")
          yield* Deferred.succeed(gate, undefined)
          return yield* Fiber.join(third)
        }), { concurrency: 1 }))
      expect(yield* Fiber.join(fiber)).toBe(3)
      expect(yield* Ref.get(log)).toEqual(["body started all three", "first", "second", "third"])
    }))

  it.effect("a failing child interrupts the children still waiting, which never run", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const boom = new Boom({ which: "first" })
      const fiber = yield* Effect.fork(Effect.exit(Nursery.open((nursery) =>
        Effect.gen(function*() {
          yield* nursery.startSoon(Effect.zipRight(Effect.sleep("1 second"), Effect.fail(boom)))
          for (const name of ["a", "b", "c"]) yield* nursery.startSoon(note(log, name))
        }), { concurrency: 1 })))
      yield* TestClock.adjust("1 second")
      assertFailure(yield* Fiber.join(fiber), boom)
      expect(yield* Ref.get(log)).toEqual([])
    }))

  it.effect("interrupting a running child gives its place to the next one waiting", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const fiber = yield* Effect.fork(Nursery.open((nursery) =>
        Effect.gen(function*() {
          const stuck = yield* nursery.start(Effect.never)
          yield* nursery.startSoon(note(log, "waiting child ran"))
          yield* settle
          yield* note(log, "interrupting")
          yield* Fiber.interrupt(stuck)
        }), { concurrency: 1 }))
      yield* Fiber.join(fiber)
      expect(yield* Ref.get(log)).toEqual(["interrupting", "waiting child ran"])
    }))

  it.effect("interrupting the caller interrupts running and waiting children and releases what they hold", () =>
    Effect.gen(function*() {
      const counts = yield* makeCounts
      const fiber = yield* Effect.fork(Nursery.open((nursery) =>
        Effect.gen(function*() {
          for (let i = 0; i < 4; i++) yield* nursery.startSoon(counted(counts, "1 hour"))
        }), { concurrency: 2 }))
      yield* settle
      yield* Fiber.interrupt(fiber)
      expect(yield* Ref.get(counts)).toEqual({ now: 0, most: 2, finished: 0 })
    }))

  it.effect("a bound that is not a whole number of at least 1 is a defect naming it", () =>
    Effect.gen(function*() {
      for (const bound of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
        const exit = yield* Effect.exit(Nursery.open(() => Effect.void, { concurrency: bound }))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        expect(Cause.isIllegalArgumentException(defect)).toBe(true)
        expect((defect as Error).message).toContain(`concurrency ${bound}`)
      }
      expect(yield* Nursery.open(() => Effect.succeed("ok"), { concurrency: "unbounded" })).toBe("ok")
    }))
})

// ---- assertions ----------------------------------------------------------------------------------------------------

/** `exit` failed with `error` as its first failure, and the nursery's own interruptions are not in its Cause. */
function assertFailure<A>(exit: Exit.Exit<A, unknown>, error: unknown): void {
  expect(Exit.isFailure(exit)).toBe(true)
  if (Exit.isSuccess(exit)) return
  expect(Cause.failureOption(exit.cause)).toEqual(Option.some(error))
  expect(Cause.failures(exit.cause).pipe((chunk) => [...chunk])[0]).toBe(error)
  expect(Cause.isInterrupted(exit.cause)).toBe(false)
}
