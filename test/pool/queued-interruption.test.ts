/**
 * Interrupting a buffered request while it waits in the pool's queue, or after the queue gave it a connection.
 *
 * A queued `request` does not hand Effect a canceller (the interruption handler Effect builds around one is most of
 * what a queued request costs in memory); the pool watches the waiting fiber instead. These tests pin down what
 * that must still guarantee: an interrupted waiter's request is never sent, even while its fiber runs a long
 * finalizer; a connection it was given is closed when its fiber ends; a wait that cannot be interrupted is served
 * as usual; and nothing is left attached to a fiber that keeps running.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import { Pool } from "httpfx"
import type * as http from "node:http"
import { eventually, httpServer } from "../utils/servers.js"

/** A server that holds the responses to `/hold…` paths until told, answers the rest at once, and logs every path. */
const holdingServer = () =>
  Effect.gen(function*() {
    const held: Array<http.ServerResponse> = []
    const paths: Array<string> = []
    const server = yield* httpServer((req, res) => {
      paths.push(req.url ?? "")
      req.resume()
      if (req.url?.startsWith("/hold") === true) held.push(res)
      else res.end(`served ${req.url}`)
    })
    return { server, held, paths }
  })

/**
 * A one-connection pool whose connection a request to `occupantPath` holds: the server keeps it waiting until
 * `held[0].end(…)`.
 */
const occupiedPool = (occupantPath = "/hold", options?: Pool.Options) =>
  Effect.gen(function*() {
    const { held, paths, server } = yield* holdingServer()
    const pool = yield* Pool.make({ maxConnections: 1, timeout: null, ...options })
    const occupant = yield* Effect.fork(pool.request("GET", `${server.url}${occupantPath}`))
    yield* eventually(() => held.length === 1, 2_000, "the occupant to reach the server")
    return { held, occupant, paths, pool, server }
  })

/** Observers added to and removed from a fiber, as `observed` counts them. */
interface ObserverCounts {
  added: number
  removed: number
}

/** Runs `effect` in its fiber with every observer added to or removed from that fiber counted in `counts`. */
const observed = <A, E>(counts: ObserverCounts, effect: Effect.Effect<A, E>) =>
  Effect.withFiberRuntime<A, E>((fiber) => {
    const add = fiber.addObserver.bind(fiber)
    const remove = fiber.removeObserver.bind(fiber)
    fiber.addObserver = (observer) => {
      counts.added++
      add(observer)
    }
    fiber.removeObserver = (observer) => {
      counts.removed++
      remove(observer)
    }
    return effect
  })

const busy = (pool: Pool.Pool) =>
  Effect.map(
    pool.connections,
    (connections) => connections.filter((c) => c.state === "ACTIVE" || c.state === "CONNECTING").map(String)
  )

describe("interrupting a queued buffered request", () => {
  it.scopedLive("while its fiber runs a long finalizer, the freed slot passes it over: its request is never sent", () =>
    Effect.gen(function*() {
      const { held, occupant, paths, pool, server } = yield* occupiedPool()

      let finalizerDone = false
      const waiter = yield* Effect.fork(
        pool.request("GET", `${server.url}/waiter`).pipe(
          Effect.ensuring(Effect.sleep("300 millis").pipe(Effect.andThen(() => (finalizerDone = true))))
        )
      )
      yield* Effect.sleep("30 millis")
      // Interrupt without waiting: the fiber stays alive, in its finalizer, for 300 ms.
      const interrupted = yield* Effect.fork(Fiber.interrupt(waiter))
      yield* Effect.sleep("30 millis")
      expect(finalizerDone).toBe(false)

      // The slot frees up while the interrupted fiber still runs: the next request gets it, not the waiter.
      held[0]!.end("released")
      expect((yield* Fiber.join(occupant)).text).toBe("released")
      const later = yield* pool.request("GET", `${server.url}/later`)
      expect(later.text).toBe("served /later")
      expect(finalizerDone).toBe(false)
      expect(paths).toEqual(["/hold", "/later"])

      const exit = yield* Fiber.join(interrupted)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(finalizerDone).toBe(true)
      expect(paths).toEqual(["/hold", "/later"])
      expect(yield* busy(pool)).toEqual([])
    }))

  it.scopedLive("after the queue gave it a connection: the socket closes when its fiber ends, the slot comes back", () =>
    Effect.gen(function*() {
      const { held, occupant, paths, pool, server } = yield* occupiedPool("/hold-1", { maxKeepaliveConnections: 1 })
      // Queued, then given the occupant's connection; its response never comes.
      const victim = yield* Effect.fork(pool.request("GET", `${server.url}/hold-2`))
      yield* Effect.sleep("30 millis")
      held[0]!.end("released")
      yield* Fiber.join(occupant)
      yield* eventually(() => held.length === 2, 2_000, "the queued request to be sent on the freed connection")
      expect(server.openSockets()).toBe(1)

      const exit = yield* Fiber.interrupt(victim).pipe(Effect.timeoutFail({
        duration: "2 seconds",
        onTimeout: () => new Error("Fiber.interrupt did not return within 2 s")
      }))
      expect(Exit.isInterrupted(exit)).toBe(true)
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the victim's socket close")
      expect(yield* busy(pool)).toEqual([])

      const next = yield* pool.request("GET", `${server.url}/next`)
      expect(next.text).toBe("served /next")
      expect(paths).toEqual(["/hold-1", "/hold-2", "/next"])
    }))

  it.scopedLive("a wait that cannot be interrupted is served, however long its fiber has been interrupted", () =>
    Effect.gen(function*() {
      const { held, occupant, paths, pool, server } = yield* occupiedPool()

      let text = ""
      const waiter = yield* Effect.fork(
        Effect.uninterruptible(
          Effect.map(pool.request("GET", `${server.url}/uninterruptible`), (response) => {
            text = response.text
          })
        )
      )
      // A finalizer of an interrupted fiber that makes a request: its fiber is interrupted before it queues.
      const cleanup = yield* Effect.fork(
        Effect.never.pipe(Effect.ensuring(Effect.orDie(pool.request("GET", `${server.url}/from-finalizer`))))
      )
      yield* Effect.sleep("30 millis")
      const interrupted = yield* Effect.fork(Effect.all([Fiber.interrupt(waiter), Fiber.interrupt(cleanup)]))
      yield* Effect.sleep("30 millis")

      held[0]!.end("released")
      yield* Fiber.join(occupant)
      const [waiterExit, cleanupExit] = yield* Fiber.join(interrupted).pipe(Effect.timeoutFail({
        duration: "2 seconds",
        onTimeout: () => new Error("the uninterruptible request was never served: its fiber cannot end")
      }))
      expect(Exit.isInterrupted(waiterExit)).toBe(true)
      expect(Exit.isInterrupted(cleanupExit)).toBe(true)
      expect(text).toBe("served /uninterruptible")
      expect(paths).toEqual(["/hold", "/uninterruptible", "/from-finalizer"])
      expect(yield* busy(pool)).toEqual([])
    }))

  it.scopedLive("a fiber that queues many requests is left with no observer of the pool's", () =>
    Effect.gen(function*() {
      const { server } = yield* holdingServer()
      const pool = yield* Pool.make({ maxConnections: 1, timeout: null })
      // Two fibers take turns on one connection, so most of their requests queue.
      const counts = { added: 0, removed: 0 }
      const loop = (tag: string) => observed(counts, Effect.repeatN(pool.request("GET", `${server.url}/${tag}`), 24))
      yield* Effect.all([loop("a"), loop("b")], { concurrency: 2, discard: true })
      expect(counts.added).toBeGreaterThan(10)
      expect(counts.removed).toBe(counts.added)
      expect(yield* busy(pool)).toEqual([])
    }))

  it.scopedLive("a waiter that the pool timeout or the pool's closing ends is failed, and leaves no observer", () =>
    Effect.gen(function*() {
      const { held, server } = yield* holdingServer()
      const counts = { added: 0, removed: 0 }
      const counted = <A, E>(effect: Effect.Effect<A, E>) => observed(counts, effect)

      const scope = yield* Scope.make()
      const pool = yield* Pool.make({ maxConnections: 1, timeout: null }).pipe(Scope.extend(scope))
      yield* Effect.fork(pool.request("GET", `${server.url}/hold`))
      yield* eventually(() => held.length === 1, 2_000, "the occupant to reach the server")

      const timedOut = yield* Effect.flip(counted(pool.request("GET", `${server.url}/late`, { timeout: { pool: 50 } })))
      expect(timedOut._tag).toBe("PoolTimeout")
      expect(counts).toEqual({ added: 1, removed: 1 })

      const waiting = yield* Effect.fork(counted(pool.request("GET", `${server.url}/never`)))
      yield* Effect.sleep("30 millis")
      expect(counts).toEqual({ added: 2, removed: 1 })
      yield* Scope.close(scope, Exit.void)
      // Counted before the join below, which observes the fiber too.
      expect(counts).toEqual({ added: 2, removed: 2 })
      const closed = yield* Effect.flip(Fiber.join(waiting))
      expect(closed._tag).toBe("ConnectError")
      expect(closed.message).toContain("/never")
    }))
})
