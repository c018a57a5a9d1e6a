// An exchange's deadlines (the total timeout and the wait for a pooled connection) are armed in one place and
// cleared on every way the exchange ends: no timer outlives it. Driven directly, without a socket or a pool, so that
// the timers counted are the exchange's own.
import { describe, expect, it, vi } from "@effect/vitest"
import { Effect, Either, Fiber } from "effect"
import { ReadError } from "../../src/HttpError.js"
import type { HttpError } from "../../src/index.js"
import { defaultLimits } from "../../src/internal/core/limits.js"
import { defaultTimeouts } from "../../src/internal/core/timeouts.js"
import type { Timeouts } from "../../src/internal/core/timeouts.js"
import { parseTarget } from "../../src/internal/core/url.js"
import type { Target } from "../../src/internal/core/url.js"
import { armPoolWait, armTotal, PhaseTimer } from "../../src/internal/exchange/deadlines.js"
import { Exchange, Phase, Version } from "../../src/internal/exchange/exchange.js"
import type { ExchangeConnection } from "../../src/internal/exchange/exchange.js"

const target = parseTarget("http://127.0.0.1:1/deadlines") as Target

const exchangeWith = (timeouts: Partial<Timeouts>, streaming = false): Exchange =>
  new Exchange({
    method: "GET",
    target,
    headBytes: "",
    body: undefined,
    streamBody: false,
    streamLength: -1,
    timeouts: { ...defaultTimeouts, ...timeouts },
    limits: defaultLimits,
    streaming,
    asSent: false
  })

/** Phases as a connection numbers them (any non-zero kinds will do: the timer only tells them apart). */
const PHASE_WRITE = 2
const PHASE_READ = 3
const PHASE_IDLE = 4

/** The Node timers alive now (ref'd ones: what would keep the process running). */
const timers = (): number => process.getActiveResourcesInfo().filter((type) => type === "Timeout").length

/** A connection that records what the exchange asks of it. */
const recordingConnection = (): ExchangeConnection & { readonly aborted: Array<Exchange> } => {
  const aborted: Array<Exchange> = []
  return {
    aborted,
    abort: (exchange) => void aborted.push(exchange),
    pauseReading: () => {},
    resumeReading: () => {},
    writeBody: () => true,
    endBody: () => {}
  }
}

/** Start waiting for the whole response: the wait that arms the total deadline, as the pool's checkout does. */
const waitForResponse = (exchange: Exchange, checkout: (exchange: Exchange) => void = () => {}) =>
  Effect.fork(Effect.either(exchange.await<unknown, HttpError.HttpError>(Phase.Complete, checkout)))

describe("deadlines: the total timeout", () => {
  it.live("is armed once: arming it again while it runs keeps the one timer", () =>
    Effect.gen(function*() {
      const exchange = exchangeWith({ total: 60_000 })
      const before = timers()
      armTotal(exchange)
      const first = exchange.totalTimer
      armTotal(exchange)
      expect(exchange.totalTimer).toBe(first)
      expect(timers()).toBe(before + 1)
      exchange.abandon()
      expect(timers()).toBe(before)
    }))

  it.live("is not armed when there is none (0)", () =>
    Effect.gen(function*() {
      const exchange = exchangeWith({ total: 0 })
      const waiting = yield* waitForResponse(exchange)
      yield* Effect.yieldNow()
      expect(exchange.totalTimer).toBeUndefined()
      exchange.abandon()
      yield* Fiber.join(waiting)
    }))

  it.live("is cleared when the response completes", () =>
    Effect.gen(function*() {
      const before = timers()
      const exchange = exchangeWith({ total: 60_000 })
      const waiting = yield* waitForResponse(exchange)
      yield* Effect.yieldNow()
      expect(timers()).toBe(before + 1)
      exchange.onHead(200, "OK", Version.Http11, [])
      exchange.onBody(Buffer.from("done"))
      exchange.complete()
      expect(Either.isRight(yield* Fiber.join(waiting))).toBe(true)
      expect(exchange.totalTimer).toBeUndefined()
      expect(timers()).toBe(before)
    }))

  it.live("is cleared when a streaming response's head arrives: its body is its holder's to time", () =>
    Effect.gen(function*() {
      const before = timers()
      const exchange = exchangeWith({ total: 60_000 }, true)
      const waiting = yield* Effect.fork(exchange.await(Phase.Head, () => {}))
      yield* Effect.yieldNow()
      expect(timers()).toBe(before + 1)
      exchange.onHead(200, "OK", Version.Http11, [])
      yield* Fiber.join(waiting)
      expect(timers()).toBe(before)
      exchange.abandon()
    }))

  it.live("is cleared when the exchange fails", () =>
    Effect.gen(function*() {
      const before = timers()
      const exchange = exchangeWith({ total: 60_000 })
      const waiting = yield* waitForResponse(exchange)
      yield* Effect.yieldNow()
      exchange.fail(new ReadError({ message: "reset", request: exchange.requestInfo }))
      expect(Either.isLeft(yield* Fiber.join(waiting))).toBe(true)
      expect(timers()).toBe(before)
    }))

  it.live("is cleared when the waiting fiber is interrupted", () =>
    Effect.gen(function*() {
      const before = timers()
      const exchange = exchangeWith({ total: 60_000 })
      const waiting = yield* waitForResponse(exchange)
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(waiting)
      expect(exchange.done).toBe(true)
      expect(timers()).toBe(before)
    }))

  it.live("when it passes, the wait fails with RequestTimeout, the queue and the connection are let go", () =>
    Effect.gen(function*() {
      const dequeued: Array<Exchange> = []
      const connection = recordingConnection()
      const exchange = exchangeWith({ total: 30 })
      const waiting = yield* waitForResponse(exchange, (self) => {
        self.owner = { dequeue: (queued) => void dequeued.push(queued) }
        self.queued = true
        self.conn = connection
      })
      const result = yield* Fiber.join(waiting)
      expect(Either.isLeft(result) && result.left._tag).toBe("RequestTimeout")
      expect(Either.isLeft(result) && result.left.message).toContain("within the total timeout of 30 ms")
      expect(dequeued).toEqual([exchange])
      expect(connection.aborted).toEqual([exchange])
      expect(exchange.totalTimer).toBeUndefined()
    }))
})

describe("deadlines: the wait for a pooled connection", () => {
  it.live("passing, it calls the owner's expiry once and forgets its timer", () =>
    Effect.gen(function*() {
      const exchange = exchangeWith({ pool: 20 })
      let expired = 0
      armPoolWait(exchange, () => expired++)
      expect(exchange.poolTimer).toBeDefined()
      yield* Effect.sleep("60 millis")
      expect(expired).toBe(1)
      expect(exchange.poolTimer).toBeUndefined()
    }))

  it.live("is not armed when there is none (0)", () =>
    Effect.sync(() => {
      const exchange = exchangeWith({ pool: 0 })
      armPoolWait(exchange, () => {})
      expect(exchange.poolTimer).toBeUndefined()
    }))

  for (
    const [way, end] of [
      ["fails", (exchange: Exchange) => exchange.fail(new ReadError({ message: "x", request: exchange.requestInfo }))],
      ["is abandoned", (exchange: Exchange) => exchange.abandon()],
      ["leaves the queue for a connection", (exchange: Exchange) => exchange.clearPoolTimer()]
    ] as const
  ) {
    it.live(`is cleared, with the total timeout, when the exchange ${way}`, () =>
      Effect.gen(function*() {
        const before = timers()
        const exchange = exchangeWith({ pool: 20, total: 60_000 })
        let expired = 0
        armTotal(exchange)
        armPoolWait(exchange, () => expired++)
        expect(timers()).toBe(before + 2)
        end(exchange)
        expect(exchange.poolTimer).toBeUndefined()
        if (way === "leaves the queue for a connection") {
          // Still running, with its total timeout: only the wait for a connection is over.
          expect(timers()).toBe(before + 1)
          exchange.abandon()
        }
        expect(exchange.totalTimer).toBeUndefined()
        expect(timers()).toBe(before)
        yield* Effect.sleep("60 millis")
        expect(expired).toBe(0)
      }))
  }
})

describe("deadlines: a connection's phase timer", () => {
  it.live("a phase without a limit keeps the timer: a connection with no timeouts makes one, not one per request", () =>
    Effect.gen(function*() {
      const fired: Array<number> = []
      const timer = new PhaseTimer((kind) => void fired.push(kind))
      const made = vi.spyOn(globalThis, "setTimeout")
      try {
        // What each request does on a connection with no write or read timeout: the phases of the exchange, then the
        // keep-alive expiry once the response is in.
        for (let request = 0; request < 3; request++) {
          timer.arm(PHASE_WRITE, 0)
          timer.arm(PHASE_READ, 0)
          timer.arm(PHASE_IDLE, 30)
        }
        expect(made).toHaveBeenCalledTimes(1)
      } finally {
        made.mockRestore()
      }
      // The next request's phase without a limit: the expiry armed before it never fires for it.
      timer.arm(PHASE_READ, 0)
      yield* Effect.sleep("60 millis")
      expect(fired).toEqual([])
      timer.disarm()
    }))
})
