/**
 * Request heads written in one I/O phase while other exchanges are in flight go out together at its end (see
 * connection/coalescedWrites.ts): the first at once, the rest held by `cork` until the phase is over. Checked here:
 * the rule itself over stand-in sockets; that a real batch is held and still reaches the server; and that the count
 * of exchanges in flight, which decides it, comes back to zero however an exchange ends — a count left high would
 * hold every later write.
 */
import { afterEach, describe, expect, it, vi } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import { Client, Pool } from "httpfx"
import * as net from "node:net"
import {
  exchangeEnded,
  exchangesInFlight,
  exchangeStarted,
  holdIfBatching
} from "../../src/internal/connection/coalescedWrites.js"
import { eventually, rawServer, scriptedServer } from "../utils/servers.js"

/** Counts what the rule does to a socket, without a socket. */
const standIn = (onUncork: () => void = () => {}) => {
  const calls = { cork: 0, uncork: 0, destroyed: undefined as Error | undefined }
  const socket = {
    cork: () => void calls.cork++,
    uncork: () => {
      calls.uncork++
      onUncork()
    },
    destroy: (error: Error) => void (calls.destroyed = error)
  } as unknown as net.Socket
  return { socket, calls }
}

const nextImmediate = () => new Promise<void>((resolve) => setImmediate(resolve))

const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

describe("the rule", () => {
  afterEach(() => {
    while (exchangesInFlight() > 0) exchangeEnded()
  })

  it("a lone exchange writes at once and opens no window", async () => {
    exchangeStarted()
    const first = standIn()
    const second = standIn()
    holdIfBatching(first.socket)
    holdIfBatching(second.socket)
    expect(first.calls.cork + second.calls.cork).toBe(0)
    await nextImmediate()
    expect(first.calls.uncork + second.calls.uncork).toBe(0)
  })

  it("with others in flight, the first write of a phase goes out, the rest wait for its end", async () => {
    exchangeStarted()
    exchangeStarted()
    exchangeStarted()
    const [first, second, third] = [standIn(), standIn(), standIn()]
    holdIfBatching(first.socket)
    holdIfBatching(second.socket)
    holdIfBatching(third.socket)
    expect([first.calls.cork, second.calls.cork, third.calls.cork]).toEqual([0, 1, 1])
    expect(second.calls.uncork + third.calls.uncork).toBe(0)
    await nextImmediate()
    expect([first.calls.uncork, second.calls.uncork, third.calls.uncork]).toEqual([0, 1, 1])
    // The phase is over: the next write opens a new window rather than waiting.
    const fourth = standIn()
    holdIfBatching(fourth.socket)
    expect(fourth.calls.cork).toBe(0)
    await nextImmediate()
  })

  it("a socket that throws as it is flushed is destroyed, and the others still go out", async () => {
    exchangeStarted()
    exchangeStarted()
    const opener = standIn()
    const failing = standIn(() => {
      throw new Error("broken")
    })
    const after = standIn()
    holdIfBatching(opener.socket)
    holdIfBatching(failing.socket)
    holdIfBatching(after.socket)
    await nextImmediate()
    expect(failing.calls.destroyed?.message).toBe("broken")
    expect(after.calls.uncork).toBe(1)
  })
})

describe("over real connections", () => {
  it.scopedLive("responses that arrive together lead to requests held to the end of the phase, and all of them arrive", () =>
    Effect.gen(function*() {
      const parallel = 6
      // The first requests are answered together, once all have come: their responses reach the client in one I/O
      // phase, and each fiber sends its next request from there.
      const waiting: Array<net.Socket> = []
      const seen = { second: 0 }
      const server = yield* scriptedServer((index, socket) => {
        if (index > 0) {
          seen.second++
          return ok
        }
        waiting.push(socket)
        if (waiting.length === parallel) for (const each of waiting) each.write(ok)
        return undefined
      })
      const client = yield* Client.make({ maxConnections: parallel, maxKeepaliveConnections: parallel })
      const cork = vi.spyOn(net.Socket.prototype, "cork")
      try {
        yield* Effect.forEach(
          Array.from({ length: parallel }),
          () => Effect.zipRight(client.get(server.url), client.get(server.url)),
          { concurrency: parallel, discard: true }
        )
        // Requests without a body cork their socket only to be held.
        expect(cork.mock.calls.length).toBeGreaterThan(0)
      } finally {
        cork.mockRestore()
      }
      expect(seen.second).toBe(parallel)
      expect(exchangesInFlight()).toBe(0)
    }))

  it.scopedLive("the count of exchanges in flight comes back to zero however they end", () =>
    Effect.gen(function*() {
      // Keep-alive, Connection: close, a reset mid-body, a head that never comes (read timeout), and an exchange
      // interrupted while it waits for its head.
      const answers = yield* rawServer((socket) => {
        let buffered = ""
        socket.on("data", (data) => {
          buffered += data.toString("latin1")
          const end = buffered.indexOf("\r\n\r\n")
          if (end < 0) return
          const target = buffered.slice(0, buffered.indexOf("\r\n")).split(" ")[1]
          buffered = buffered.slice(end + 4)
          if (target === "/ok") socket.write(ok)
          else if (target === "/close") socket.end("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
          else if (target === "/reset") {
            socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            setTimeout(() => socket.destroy(), 10)
          }
          // "/silent": nothing, ever
        })
      })
      const pool = yield* Pool.make({ maxConnections: 8 })
      const url = (path: string) => `${answers.url}${path}`
      yield* Effect.forEach(
        ["/ok", "/close", "/reset", "/ok"],
        (path) => Effect.either(pool.request("GET", url(path))),
        { concurrency: 4, discard: true }
      )
      expect(exchangesInFlight()).toBe(0)
      yield* Effect.either(pool.request("GET", url("/silent"), { timeout: { read: 0.05 } }))
      expect(exchangesInFlight()).toBe(0)
      const waiting = yield* Effect.fork(pool.request("GET", url("/silent")))
      yield* eventually(() => exchangesInFlight() === 1)
      yield* Fiber.interrupt(waiting)
      expect(exchangesInFlight()).toBe(0)
      // A streamed response whose scope closes before its body is read.
      const scope = yield* Scope.make()
      yield* Scope.extend(pool.stream("GET", url("/reset")), scope)
      expect(exchangesInFlight()).toBe(1)
      yield* Scope.close(scope, Exit.void)
      expect(exchangesInFlight()).toBe(0)
    }))
})
