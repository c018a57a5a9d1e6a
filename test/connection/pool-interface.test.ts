/**
 * The pool holds connections through the `Connection` interface only: a stand-in connection that speaks no real
 * protocol is checked out, shared and awaited by what the interface says (its capacity, whether it is awaitable),
 * never by which protocol it claims.
 */
import { afterEach, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { vi } from "vitest"
import { Connector } from "../../src/internal/connection/connect.js"
import { Held } from "../../src/internal/connection/connection.js"
import type { Connection, ConnectionOwner, ConnectionState } from "../../src/internal/connection/connection.js"
import type { Target } from "../../src/internal/core/url.js"
import type { Exchange } from "../../src/internal/exchange/exchange.js"
import { makePool } from "../../src/internal/pool/pool.js"

/** Answers each request with "ok" after `delay` ms, `slots` of them at once; it opens after `delay` ms too. */
class FakeConnection extends Held implements Connection {
  readonly httpVersion = "HTTP/1.1" as const
  state: ConnectionState = "CONNECTING"
  requestCount = 0
  mostAtOnce = 0
  private readonly inFlight = new Set<Exchange>()
  private first: Exchange | undefined

  constructor(
    private readonly owner: ConnectionOwner,
    readonly target: Target,
    first: Exchange,
    private readonly slots: number,
    readonly awaitable: boolean,
    private readonly delay: number
  ) {
    super()
    this.first = first
    first.conn = this
    setTimeout(() => {
      if (this.state !== "CONNECTING") return
      this.state = "IDLE"
      const exchange = this.first
      this.first = undefined
      // It takes its own place: the pool swaps it for itself.
      owner.connected(this, this, exchange)
    }, delay)
  }

  get capacity(): number {
    return this.state === "IDLE" || this.state === "ACTIVE" ? this.slots - this.inFlight.size : 0
  }

  assign(exchange: Exchange): void {
    exchange.conn = this
    this.inFlight.add(exchange)
    this.state = "ACTIVE"
    this.requestCount++
    this.mostAtOnce = Math.max(this.mostAtOnce, this.inFlight.size)
    setTimeout(() => this.answer(exchange), this.delay)
  }

  private answer(exchange: Exchange): void {
    if (!this.inFlight.delete(exchange)) return
    exchange.onHead(200, "OK", 1, ["x-fake", "yes"], 2)
    exchange.onBody(Buffer.from("ok"))
    if (this.inFlight.size === 0) this.state = "IDLE"
    this.owner.released(this)
    exchange.complete()
  }

  isReusable(_now: number): boolean {
    return this.capacity > 0
  }

  abort(exchange: Exchange): void {
    this.inFlight.delete(exchange)
  }

  pauseReading(): void {}
  resumeReading(): void {}
  writeBody(): boolean {
    return true
  }
  endBody(): void {}

  close(): void {
    if (this.state === "CLOSED") return
    this.state = "CLOSED"
    this.owner.closed(this)
  }

  shutdown(): void {
    this.close()
  }
}

/** The connect step replaced by one that makes stand-in connections; what it made. */
const fakeConnections = (slots: number, awaitable: boolean): Array<FakeConnection> => {
  const made: Array<FakeConnection> = []
  vi.spyOn(Connector.prototype, "open").mockImplementation((owner: ConnectionOwner, exchange: Exchange) => {
    const connection = new FakeConnection(owner, exchange.target, exchange, slots, awaitable, 20)
    made.push(connection)
    return connection
  })
  return made
}

afterEach(() => {
  vi.restoreAllMocks()
})

const threeAtOnce = (pool: Effect.Effect.Success<ReturnType<typeof makePool>>) =>
  Effect.forEach(
    ["/a", "/b", "/c"],
    (path) => Effect.map(pool.request("GET", `http://fake.test${path}`), (response) => response.text),
    { concurrency: "unbounded" }
  )

describe("the pool through the Connection interface", () => {
  it.scopedLive("a connection with three free slots takes three requests at once, whatever protocol it names", () =>
    Effect.gen(function*() {
      const made = fakeConnections(3, true)
      const pool = yield* makePool({ maxConnections: 10 })
      expect(yield* threeAtOnce(pool)).toEqual(["ok", "ok", "ok"])
      // The requests waited for the awaitable connection being opened, then shared it.
      expect(made).toHaveLength(1)
      expect(made[0]!.mostAtOnce).toBe(3)
      const [snapshot] = yield* pool.connections
      expect(String(snapshot)).toBe("<HTTPConnection ['http://fake.test:80', HTTP/1.1, IDLE, Request Count: 3]>")
    }))

  it.scopedLive("connections of one slot each, not awaitable, get one request each", () =>
    Effect.gen(function*() {
      const made = fakeConnections(1, false)
      const pool = yield* makePool({ maxConnections: 10 })
      expect(yield* threeAtOnce(pool)).toEqual(["ok", "ok", "ok"])
      expect(made).toHaveLength(3)
      expect(made.map((connection) => connection.mostAtOnce)).toEqual([1, 1, 1])
    }))

  it.scopedLive("with room for one connection, a connection of one slot serves the requests one after another", () =>
    Effect.gen(function*() {
      const made = fakeConnections(1, false)
      const pool = yield* makePool({ maxConnections: 1 })
      expect(yield* threeAtOnce(pool)).toEqual(["ok", "ok", "ok"])
      expect(made).toHaveLength(1)
      expect(made[0]!.requestCount).toBe(3)
      expect(made[0]!.mostAtOnce).toBe(1)
    }))
})
