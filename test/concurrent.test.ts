/**
 * Fetching with a group of fibers: `asCompleted` (completion order, the concurrency bound, the first failure, a
 * consumer stopping early) and `hedge` (when copies start, who wins, what happens to the losers, how failures
 * combine). TestClock where no socket is involved; a real loopback server, counting its sockets, proves that the
 * requests a hedge or an early stop interrupts close their connections instead of pinning them.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Data, Deferred, Effect, Exit, Fiber, Option, Ref, Stream, TestClock } from "effect"
import { Client, Concurrent } from "httpfx"
import type * as http from "node:http"
import { eventually, httpServer } from "./utils/servers.js"

// ---- helpers -------------------------------------------------------------------------------------------------------

class Boom extends Data.TaggedError("Boom")<{ readonly which: string }> {}

const makeLog = Ref.make<ReadonlyArray<string>>([])
const note = (log: Ref.Ref<ReadonlyArray<string>>, event: string) => Ref.update(log, (events) => [...events, event])

const isDone = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) => Effect.map(Fiber.poll(fiber), Option.isSome)

/** An effect that answers `value` after `millis` of (test) time, logging when it starts and how it ends. */
const task = (log: Ref.Ref<ReadonlyArray<string>>, value: string, millis: number) =>
  note(log, `start ${value}`).pipe(
    Effect.zipRight(Effect.sleep(millis)),
    Effect.as(value),
    Effect.onExit((exit) => note(log, Exit.isInterrupted(exit) ? `interrupted ${value}` : `end ${value}`))
  )

/**
 * A server whose first request is answered only after 10 s (or never, if the client goes away first) and every
 * later one at once: the slow first copy of a hedge.
 */
const slowFirstServer = Effect.gen(function*() {
  let requests = 0
  const server = yield* httpServer((request: http.IncomingMessage, response: http.ServerResponse) => {
    const index = requests++
    request.resume()
    const answer = () => response.end(index === 0 ? "slow" : "fast")
    if (index > 0) return answer()
    const timer = setTimeout(answer, 10_000)
    response.on("close", () => clearTimeout(timer))
  })
  return { ...server, requests: () => requests }
})

// ---- asCompleted ---------------------------------------------------------------------------------------------------

describe("Concurrent.asCompleted", () => {
  it.effect("emits results in the order they complete", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const fiber = yield* Effect.fork(Stream.runCollect(
        Concurrent.asCompleted([task(log, "a", 3000), task(log, "b", 1000), task(log, "c", 2000)], {
          concurrency: "unbounded"
        })
      ))
      yield* TestClock.adjust("3 seconds")
      expect(Chunk.toArray(yield* Fiber.join(fiber))).toEqual(["b", "c", "a"])
    }))

  it.effect("runs at most `concurrency` effects at once", () =>
    Effect.gen(function*() {
      const running = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      const tracked = (i: number) =>
        Ref.updateAndGet(running, (n) => n + 1).pipe(
          Effect.flatMap((now) => Ref.update(peak, (p) => Math.max(p, now))),
          Effect.zipRight(Effect.sleep("1 second")),
          Effect.ensuring(Ref.update(running, (n) => n - 1)),
          Effect.as(i)
        )
      const fiber = yield* Effect.fork(Stream.runCollect(
        Concurrent.asCompleted(Array.from({ length: 6 }, (_, i) => tracked(i)), { concurrency: 2 })
      ))
      yield* TestClock.adjust("2 seconds")
      expect(yield* isDone(fiber)).toBe(false)
      yield* TestClock.adjust("1 second")
      expect(Chunk.size(yield* Fiber.join(fiber))).toBe(6)
      expect(yield* Ref.get(peak)).toBe(2)
    }))

  it.effect("the first failure fails the stream with that error and interrupts the effects still running", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const boom = new Boom({ which: "second" })
      const effects = [
        task(log, "a", 500),
        Effect.sleep("1 second").pipe(Effect.zipRight(Effect.fail(boom))),
        task(log, "c", 5000),
        task(log, "d", 5000)
      ]
      const stream = Concurrent.asCompleted(effects, { concurrency: 4 })
      const fiber = yield* Effect.fork(Effect.exit(Stream.runCollect(stream)))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(fiber)
      expect(exit).toEqual(Exit.fail(boom))
      expect([...(yield* Ref.get(log))].filter((event) => !event.startsWith("start")).sort()).toEqual([
        "end a",
        "interrupted c",
        "interrupted d"
      ])
    }))

  it.effect("a consumer that stops early interrupts the effects still running; the rest never start", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const effects = Array.from({ length: 10 }, (_, i) => task(log, String(i), 1000 * (i + 1)))
      const fiber = yield* Effect.fork(
        Stream.runCollect(Stream.take(Concurrent.asCompleted(effects, { concurrency: 3 }), 1))
      )
      yield* TestClock.adjust("1 second")
      expect(Chunk.toArray(yield* Fiber.join(fiber))).toEqual(["0"])
      const events = yield* Ref.get(log)
      const started = events.filter((event) => event.startsWith("start")).length
      const ended = events.filter((event) => !event.startsWith("start")).length
      // Everything that started has ended (completed or interrupted); only the first window of three ever started (a
      // slot freed by the first result may start one more before the stop reaches the stream).
      expect(ended).toBe(started)
      expect(started).toBeGreaterThanOrEqual(3)
      expect(started).toBeLessThanOrEqual(4)
      expect(events).toContain("interrupted 1")
    }))

  it.scopedLive("requests cut off by an early stop close their connections", () =>
    Effect.gen(function*() {
      const server = yield* slowFirstServer
      const client = yield* Client.make()
      // The first request is slow; the second answers; take(1) stops the stream while the first is in flight.
      const gate = yield* Deferred.make<void>()
      const first = client.get(`${server.url}/first`).pipe(Effect.ensuring(Deferred.succeed(gate, undefined)))
      const second = Effect.zipRight(Effect.sleep("50 millis"), client.get(`${server.url}/second`))
      const [response] = yield* Stream.runCollect(
        Stream.take(Concurrent.asCompleted([first, second], { concurrency: 2 }), 1)
      ).pipe(Effect.map(Chunk.toArray))
      expect(response!.text).toBe("fast")
      // The interrupted request's finalizers have run by the time the stream ends.
      expect(yield* Deferred.isDone(gate)).toBe(true)
      const busy = (yield* client.pool).filter((c) => c.state === "ACTIVE" || c.state === "CONNECTING")
      expect(busy.map(String)).toEqual([])
      yield* eventually(() => server.openSockets() === 1, 5_000, "the slow request's socket to close")
      expect(server.acceptedSockets()).toBe(2)
    }))
})

// ---- hedge ---------------------------------------------------------------------------------------------------------

/** How a copy ended, for the log. */
const outcome = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit) ? "won" : Exit.isInterrupted(exit) ? "lost" : "failed"

/** Copies of one effect that behave by their number (0 for the first copy), logging as `task` does. */
const copies = (
  log: Ref.Ref<ReadonlyArray<string>>,
  behave: (copy: number) => Effect.Effect<string, Boom>
) =>
  Effect.flatMap(Ref.make(0), (counter) =>
    Effect.succeed(
      Effect.flatMap(Ref.getAndUpdate(counter, (n) => n + 1), (copy) =>
        note(log, `start ${copy}`).pipe(
          Effect.zipRight(behave(copy)),
          Effect.onExit((exit) => note(log, `${outcome(exit)} ${copy}`))
        ))
    ))

const after = (millis: number, value: string) => Effect.as(Effect.sleep(millis), value)
const failAfter = (millis: number, which: string) =>
  Effect.zipRight(Effect.sleep(millis), Effect.fail(new Boom({ which })))

describe("Concurrent.hedge", () => {
  it.effect("a copy that answers within `after` is the only one", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const effect = yield* copies(log, () => after(500, "first"))
      const fiber = yield* Effect.fork(Concurrent.hedge(effect, { after: "1 second" }))
      yield* TestClock.adjust("5 seconds")
      expect(yield* Fiber.join(fiber)).toBe("first")
      expect(yield* Ref.get(log)).toEqual(["start 0", "won 0"])
    }))

  it.effect("a slow copy gets a duplicate after `after`; the first success wins and the other is interrupted", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const effect = yield* copies(log, (copy) => copy === 0 ? after(10_000, "slow") : after(100, "fast"))
      const fiber = yield* Effect.fork(effect.pipe(Concurrent.hedge({ after: "1 second" })))
      yield* TestClock.adjust("999 millis")
      expect(yield* Ref.get(log)).toEqual(["start 0"])
      yield* TestClock.adjust("1 millis")
      expect(yield* Ref.get(log)).toEqual(["start 0", "start 1"])
      yield* TestClock.adjust("100 millis")
      expect(yield* Fiber.join(fiber)).toBe("fast")
      expect(yield* Ref.get(log)).toEqual(["start 0", "start 1", "won 1", "lost 0"])
    }))

  it.effect("starts at most `max` copies, one per `after`, and 2 by default", () =>
    Effect.gen(function*() {
      for (const [max, expected] of [[undefined, 2], [3, 3], [1, 1]] as const) {
        const log = yield* makeLog
        // Copy k starts at k seconds and answers at 10 - k seconds: the last copy started wins.
        const effect = yield* copies(log, (copy) => after(10_000 - 2000 * copy, `copy ${copy}`))
        const fiber = yield* Effect.fork(Concurrent.hedge(effect, { after: "1 second", max }))
        yield* TestClock.adjust("7500 millis")
        const started = (yield* Ref.get(log)).filter((event) => event.startsWith("start"))
        expect(started.length).toBe(expected)
        yield* TestClock.adjust("2500 millis")
        expect(yield* Fiber.join(fiber)).toBe(`copy ${expected - 1}`)
      }
    }))

  it.effect("a failed copy starts the next one at once instead of waiting for its delay", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const effect = yield* copies(log, (copy) => copy === 0 ? failAfter(10, "first") : after(100, "second"))
      const fiber = yield* Effect.fork(Concurrent.hedge(effect, { after: "1 second" }))
      yield* TestClock.adjust("10 millis")
      expect(yield* Ref.get(log)).toEqual(["start 0", "failed 0", "start 1"])
      yield* TestClock.adjust("100 millis")
      expect(yield* Fiber.join(fiber)).toBe("second")
    }))

  it.effect("when every copy fails, the hedge fails with the first failure and keeps the others in order", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const effect = yield* copies(log, (copy) => failAfter(copy === 0 ? 2000 : 100, `copy ${copy}`))
      const fiber = yield* Effect.fork(Effect.exit(Concurrent.hedge(effect, { after: "1 second", max: 3 })))
      yield* TestClock.adjust("5 seconds")
      const exit = yield* Fiber.join(fiber)
      if (Exit.isSuccess(exit)) throw new Error("expected a failure")
      // Copy 1 starts at 1 s and fails at 1.1 s, which starts copy 2 (failing at 1.2 s); copy 0 fails at 2 s.
      expect([...Cause.failures(exit.cause)].map((error) => error.which)).toEqual(["copy 1", "copy 2", "copy 0"])
      expect(Cause.failureOption(exit.cause)).toEqual(Option.some(new Boom({ which: "copy 1" })))
    }))

  it.effect("interrupting the caller interrupts every copy and waits for their finalizers", () =>
    Effect.gen(function*() {
      const log = yield* makeLog
      const effect = yield* copies(
        log,
        (copy) => Effect.never.pipe(Effect.ensuring(Effect.zipRight(Effect.sleep(500), note(log, `cleaned ${copy}`))))
      )
      const fiber = yield* Effect.fork(Concurrent.hedge(effect, { after: "1 second" }))
      yield* TestClock.adjust("1 second")
      const interrupting = yield* Effect.fork(Fiber.interrupt(fiber))
      yield* TestClock.adjust("100 millis")
      expect(yield* isDone(interrupting)).toBe(false)
      yield* TestClock.adjust("400 millis")
      expect(Exit.isInterrupted(yield* Fiber.join(interrupting))).toBe(true)
      expect([...(yield* Ref.get(log))].filter((event) => event.startsWith("cleaned")).sort()).toEqual([
        "cleaned 0",
        "cleaned 1"
      ])
    }))

  it.effect("a max that is not a whole number of at least 1 is a defect", () =>
    Effect.gen(function*() {
      for (const max of [0, 1.5, Number.POSITIVE_INFINITY]) {
        const exit = yield* Effect.exit(Concurrent.hedge(Effect.succeed(1), { after: "1 second", max }))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      }
    }))

  it.scopedLive("a hedged request: the fast duplicate wins, the slow request's connection is closed, not pinned", () =>
    Effect.gen(function*() {
      const server = yield* slowFirstServer
      const client = yield* Client.make()
      const response = yield* client.get(`${server.url}/search`).pipe(Concurrent.hedge({ after: "100 millis" }))
      expect(response.text).toBe("fast")
      expect(server.requests()).toBe(2)
      // Nothing is left in flight in the pool: the fast connection is idle, the slow one is gone.
      const states = (yield* client.pool).map((connection) => connection.state)
      expect(states.filter((state) => state === "ACTIVE" || state === "CONNECTING")).toEqual([])
      expect(states.filter((state) => state === "IDLE")).toEqual(["IDLE"])
      // The server sees the slow request's socket close; the fast one stays open for keep-alive.
      yield* eventually(() => server.openSockets() === 1, 5_000, "the slow request's socket to close")
      expect(server.acceptedSockets()).toBe(2)
      // The pool still works: the next request reuses the idle connection.
      expect((yield* client.get(`${server.url}/again`)).text).toBe("fast")
      expect(server.acceptedSockets()).toBe(2)
    }))
})
