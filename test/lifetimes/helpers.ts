/**
 * Helpers for the lifetime tests: proving that an interrupted request leaves nothing behind — no socket (counted on
 * the server), no slot (a waiter gets it), no fiber (a supervisor tracks every fiber the request forks), no timer
 * or handle keeping Node alive (process.getActiveResourcesInfo), and no error escaping to the process.
 */
import { expect } from "@effect/vitest"
import { Effect, Exit, Fiber, Supervisor } from "effect"
import type { Scope } from "effect"
import type { Client, HttpError, Pool, Response } from "httpfx"
import dns from "node:dns"
import type * as net from "node:net"
import * as zlib from "node:zlib"
import { afterAll, beforeAll } from "vitest"
import { httpServer } from "../utils/servers.js"
import type { TestServer } from "../utils/servers.js"

// ---- process faults ------------------------------------------------------------------------------------------------

/**
 * A socket or timer left behind by an interrupted request tends to surface later as an unhandled rejection or an
 * uncaught exception, often in another test. Collect both for the whole file; the file's last test requires none.
 */
export const trackProcessFaults = (): ReadonlyArray<string> => {
  const faults: Array<string> = []
  const onRejection = (reason: unknown) => faults.push(`unhandledRejection: ${String(reason)}`)
  const onException = (error: unknown) => faults.push(`uncaughtException: ${String(error)}`)
  beforeAll(() => {
    process.on("unhandledRejection", onRejection)
    process.on("uncaughtException", onException)
  })
  afterAll(() => {
    process.off("unhandledRejection", onRejection)
    process.off("uncaughtException", onException)
  })
  return faults
}

// ---- Node resources ------------------------------------------------------------------------------------------------

// vitest talks to its worker over pipes; those are not ours to count.
const IGNORED_RESOURCES = new Set(["PipeWrap", "TTYWrap", "ProcessWrap", "FSReqCallback", "FSReqPromise"])

/** The active (ref'd) Node resources by type: what would keep a process alive. */
const resourceCounts = (): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const type of process.getActiveResourcesInfo()) {
    if (!IGNORED_RESOURCES.has(type)) counts.set(type, (counts.get(type) ?? 0) + 1)
  }
  return counts
}

/** The resource types with more instances now than in `before`, as "Type +n". */
const extraResources = (before: Map<string, number>): Array<string> => {
  const extra: Array<string> = []
  for (const [type, count] of resourceCounts()) {
    const was = before.get(type) ?? 0
    if (count > was) extra.push(`${type} +${count - was}`)
  }
  return extra
}

/** Poll (bounded) until `check` returns no complaint; fail with the last complaint otherwise. */
const settles = (
  check: () => Array<string>,
  timeoutMs = 2_000,
  what = "resources"
): Effect.Effect<void, Error> =>
  Effect.async<void, Error>((resume) => {
    const started = Date.now()
    let timer: ReturnType<typeof setTimeout> | undefined
    const tick = () => {
      const complaints = check()
      if (complaints.length === 0) return resume(Effect.void)
      if (Date.now() - started > timeoutMs) {
        return resume(Effect.fail(new Error(`${what} did not settle within ${timeoutMs} ms: ${complaints.join(", ")}`)))
      }
      timer = setTimeout(tick, 10)
    }
    timer = setTimeout(tick, 0)
    return Effect.sync(() => clearTimeout(timer))
  })

/**
 * Run a test body in its own scope (servers, pools and clients close with it), then require that no TCP socket,
 * server or timer of the test is still active: what an interrupted request leaked would keep Node running.
 */
export const leakFree = <A, E>(body: Effect.Effect<A, E, Scope.Scope>): Effect.Effect<A, E | Error> =>
  Effect.gen(function*() {
    const before = resourceCounts()
    const result = yield* Effect.scoped(body)
    yield* settles(() => extraResources(before), 2_000, "the Node handles and timers of the test")
    return result
  })

// ---- fibers --------------------------------------------------------------------------------------------------------

/** A forked request with a supervisor that sees every fiber it forks, so "no fiber left behind" can be checked. */
export interface Victim<A, E> {
  readonly fiber: Fiber.RuntimeFiber<A, E>
  /** the fibers of the victim (itself included) that are still alive */
  readonly alive: Effect.Effect<Array<Fiber.RuntimeFiber<any, any>>>
}

export const startVictim = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<Victim<A, E>> =>
  Effect.gen(function*() {
    const supervisor = yield* Supervisor.track
    // Forking under the supervisor tracks the victim's own fiber and everything it forks, daemons included.
    const fiber = yield* Effect.supervised(Effect.fork(effect), supervisor)
    return { fiber, alive: supervisor.value }
  })

/** Interrupt and prove the interrupt returns: a hung interrupt fails this test instead of the whole file. */
export const interruptPromptly = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Fiber.interrupt(fiber).pipe(
    Effect.timeoutFail({
      duration: "2 seconds",
      onTimeout: () => new Error("Fiber.interrupt did not return within 2 s: the request ignores interruption")
    })
  )

/**
 * Interrupt the victim and prove it is gone: the exit is an interruption, the fiber is done, `Fiber.await`
 * completes, and none of the fibers it forked is still running.
 */
export const interruptVictim = <A, E>(victim: Victim<A, E>) =>
  Effect.gen(function*() {
    const exit = yield* interruptPromptly(victim.fiber)
    expect(Exit.isInterrupted(exit), `the victim ended with ${String(exit)}`).toBe(true)
    const status = yield* Fiber.status(victim.fiber)
    expect(status._tag).toBe("Done")
    const awaited = yield* Fiber.await(victim.fiber).pipe(Effect.timeout("1 second"))
    expect(Exit.isInterrupted(awaited)).toBe(true)
    const alive = yield* victim.alive
    expect(alive.map((fiber) => fiber.id().toString()), "fibers of the victim still alive").toEqual([])
  })

// ---- pool and client -----------------------------------------------------------------------------------------------

/** What the audit needs of a pool or a client: a GET, and the connections. */
export interface Agent {
  readonly kind: "Pool" | "Client"
  readonly get: (url: string) => Effect.Effect<Response.Response, HttpError.HttpError>
  readonly connections: Effect.Effect<ReadonlyArray<Pool.ConnectionInfo>>
}

export const poolAgent = (pool: Pool.Pool): Agent => ({
  kind: "Pool",
  get: (url) => pool.request("GET", url),
  connections: pool.connections
})

export const clientAgent = (client: Client.Client): Agent => ({
  kind: "Client",
  get: (url) => client.get(url),
  connections: client.pool
})

/** The connections that still hold a request or a connect attempt, printed for a readable failure. */
export const busy = (connections: Effect.Effect<ReadonlyArray<Pool.ConnectionInfo>>) =>
  Effect.map(
    connections,
    (list) => list.filter((c) => c.state === "ACTIVE" || c.state === "CONNECTING").map(String)
  )

// ---- servers -------------------------------------------------------------------------------------------------------

/** A server that answers "ok" at once, for the requests that must still succeed after an interruption. */
const okServer = () =>
  httpServer((req, res) => {
    req.resume()
    res.end("ok")
  })

/**
 * A server socket that does not read never notices the peer's FIN. Resuming it (the data is discarded) lets it read
 * up to the end of the stream, so "the server saw the close" still proves that the client closed the socket.
 */
const drainServerSockets = (server: TestServer) => {
  for (const socket of server.sockets()) socket.resume()
}

/** Calls `onHead` once per request head read from a raw socket. */
export const onRequestHead = (socket: net.Socket, onHead: (head: string) => void) => {
  let seen = ""
  socket.on("data", (data) => {
    seen += data.toString("latin1")
    let end: number
    while ((end = seen.indexOf("\r\n\r\n")) >= 0) {
      const head = seen.slice(0, end)
      seen = seen.slice(end + 4)
      onHead(head)
    }
  })
}

/**
 * The ending of every "interrupted in phase X" test: with maxConnections 1, a waiter to another origin is queued
 * behind the victim; interrupting the victim must end every fiber it started, close its socket(s) (seen by the
 * server) and hand the slot to the waiter, and leave no busy connection.
 * `silent`: the servers do not read their sockets (see drainServerSockets).
 */
export const interruptAndHandOver = <A, E>(
  agent: Agent,
  victim: Victim<A, E>,
  victimServers: ReadonlyArray<TestServer>,
  options?: { readonly silent?: boolean }
) =>
  Effect.gen(function*() {
    const good = yield* okServer()
    const waiter = yield* Effect.fork(agent.get(`${good.url}/waiter`))
    // Give the waiter time to reach the queue; it must not have connected, as the only slot is taken.
    yield* Effect.sleep("30 millis")
    expect(good.acceptedSockets(), "the waiter connected although the only slot was taken").toBe(0)

    yield* interruptVictim(victim)
    if (options?.silent === true) for (const server of victimServers) drainServerSockets(server)
    for (const server of victimServers) {
      yield* settles(
        () => server.openSockets() === 0 ? [] : [`${server.url} has ${server.openSockets()} open socket(s)`],
        2_000,
        "the server-side sockets of the victim"
      )
    }

    const response = yield* Fiber.join(waiter)
    expect(response.status).toBe(200)
    expect(response.text).toBe("ok")
    expect(yield* busy(agent.connections)).toEqual([])
    // Whatever the scheme the victim used, no connection to its servers is left.
    const origins = (yield* agent.connections).map((c) => c.origin)
    for (const server of victimServers) {
      expect(origins.filter((origin) => origin.endsWith(`:${server.port}`))).toEqual([])
    }
  })

// ---- DNS -----------------------------------------------------------------------------------------------------------

type LookupCall = { readonly args: Array<any> }

/**
 * Hold every `dns.lookup` of `hostname` until `release` (then answer it for real). Node's net.connect reads
 * `dns.lookup` when it connects, so this delays DNS deterministically on loopback, where a real resolver answers
 * `localhost` from /etc/hosts at once. Restored when the scope closes.
 */
export const holdLookups = (hostname: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const original = dns.lookup
      const held: Array<LookupCall> = []
      let released = false
      const patched = ((host: string, ...args: Array<any>) => {
        if (host === hostname && !released) {
          held.push({ args: [host, ...args] })
          return {}
        }
        return (original as any)(host, ...args)
      }) as typeof dns.lookup
      dns.lookup = patched
      return {
        original,
        held: () => held.length,
        /** answer the held lookups now (a late answer must not revive an abandoned connection) */
        release: () => {
          released = true
          for (const call of held.splice(0)) (original as any)(...call.args)
        }
      }
    }),
    (hold) =>
      Effect.sync(() => {
        hold.release()
        dns.lookup = hold.original
      })
  )

// ---- zlib ----------------------------------------------------------------------------------------------------------

/**
 * Record every Gunzip stream that decodes bytes while the scope is open, so a test can check each was destroyed.
 * (Gunzip.prototype is shared by every createGunzip(), whatever module imported zlib.)
 */
export const trackGunzips = Effect.acquireRelease(
  Effect.sync(() => {
    const proto = zlib.Gunzip.prototype as any
    const hadOwn = Object.prototype.hasOwnProperty.call(proto, "_transform")
    const original = proto._transform
    const seen = new Set<zlib.Gunzip>()
    proto._transform = function(this: zlib.Gunzip, ...args: Array<unknown>) {
      seen.add(this)
      return original.apply(this, args)
    }
    return { seen, restore: () => hadOwn ? (proto._transform = original) : delete proto._transform }
  }),
  (tracked) => Effect.sync(() => tracked.restore())
)

// ---- randomness ----------------------------------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so a randomized test is the same test on every run. */
export const prng = (seed: number) => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    /** an integer in [min, max] */
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    chance: (p: number) => next() < p
  }
}
