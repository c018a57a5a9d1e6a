/**
 * The pool's bookkeeping, limits and lifecycle, checked against real loopback servers. Socket counts are taken on
 * the server side (the only place that proves a socket was really opened or closed), and closes are awaited with
 * `eventually` because they are asynchronous.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option, Scope } from "effect"
import type { HttpError } from "httpfx"
import { Pool } from "httpfx"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { eventually, httpServer, rawServer, scriptedServer } from "../utils/servers.js"

// ---- helpers ---------------------------------------------------------------------------------------------------

const KEEP_ALIVE_OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok"

/** Holds callbacks until opened; afterwards runs them at once. Lets a handler answer exactly when the test says. */
const gate = () => {
  let isOpen = false
  const waiting: Array<() => void> = []
  return {
    wait: (f: () => void) => {
      if (isOpen) f()
      else waiting.push(f)
    },
    open: () => {
      isOpen = true
      for (const f of waiting.splice(0)) f()
    }
  }
}

/**
 * Counts the server's open sockets at accept time and keeps the peak: a handler only sees sockets that already
 * carry a request, so counting on "connection" is the tighter check of a connection limit.
 */
const peakTracker = () => {
  let open = 0
  let peak = 0
  return {
    peak: () => peak,
    configure: (server: http.Server) => {
      server.on("connection", (socket: net.Socket) => {
        open++
        peak = Math.max(peak, open)
        socket.on("close", () => {
          open--
        })
      })
    }
  }
}

/** A port nothing listens on: bind one, note it, close it. */
const freePort = Effect.async<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** An http server that starts listening on `port` only after `delayMs`; closed with the scope. */
const lateServer = (port: number, delayMs: number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const server = http.createServer((_req, res) => res.end("late"))
      // If the port was taken in between, the test fails on its own assertions rather than with an uncaught error.
      server.on("error", () => {})
      const timer = setTimeout(() => server.listen(port, "127.0.0.1"), delayMs)
      return { server, timer }
    }),
    ({ server, timer }) =>
      Effect.async<void>((resume) => {
        clearTimeout(timer)
        server.closeAllConnections()
        if (server.listening) server.close(() => resume(Effect.void))
        else resume(Effect.void)
      })
  )

/** The typed failure of an exit; fails the test if it succeeded, died or was only interrupted. */
const typedFailure = <A>(exit: Exit.Exit<A, HttpError.HttpError>): HttpError.HttpError => {
  if (Exit.isSuccess(exit)) throw new Error("expected the request to fail, but it succeeded")
  expect(Cause.isDie(exit.cause)).toBe(false)
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return failure.value
}

/** Whether this machine lets a socket bind 127.0.0.2 (any 127/8 address is loopback on Linux, not everywhere). */
const canBindLoopbackAlias = await new Promise<boolean>((resolve) => {
  const server = net.createServer()
  server.once("error", () => resolve(false))
  server.listen(0, "127.0.0.2", () => server.close(() => resolve(true)))
})
if (!canBindLoopbackAlias) {
  console.warn("limits.test.ts: 127.0.0.2 cannot be bound on this machine; the localAddress test is skipped")
}

// ---- keep-alive reuse and connection info ----------------------------------------------------------------------

describe("Pool keep-alive reuse", () => {
  it.scopedLive("sequential requests reuse one connection", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("ok"))
      const pool = yield* Pool.make()
      for (let i = 0; i < 3; i++) {
        const response = yield* pool.request("GET", `${server.url}/${i}`)
        expect(response.text).toBe("ok")
      }
      expect(server.acceptedSockets()).toBe(1)
      const connections = yield* pool.connections
      expect(connections).toHaveLength(1)
      expect(connections[0]!.state).toBe("IDLE")
      expect(connections[0]!.requestCount).toBe(3)
      expect(connections[0]!.origin).toBe(server.url)
      expect(connections[0]!.httpVersion).toBe("HTTP/1.1")
    }))

  it.scopedLive("String(info) prints like httpcore", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("ok"))
      const pool = yield* Pool.make()
      for (let i = 0; i < 3; i++) yield* pool.request("GET", server.url)
      const connections = yield* pool.connections
      expect(connections.map(String)).toEqual([
        `<HTTPConnection ['http://127.0.0.1:${server.port}', HTTP/1.1, IDLE, Request Count: 3]>`
      ])
    }))

  it.scopedLive("connections is a snapshot that keeps the moment it was taken", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("ok"))
      const pool = yield* Pool.make()
      yield* pool.request("GET", server.url)
      const before = yield* pool.connections
      yield* pool.request("GET", server.url)
      const after = yield* pool.connections
      expect(before[0]!.requestCount).toBe(1)
      expect(String(before[0])).toContain("Request Count: 1")
      expect(after[0]!.requestCount).toBe(2)
    }))
})

// ---- connection states -----------------------------------------------------------------------------------------

describe("Pool connection states", () => {
  it.scopedLive("a connection waiting for the response head is ACTIVE, then IDLE", () =>
    Effect.gen(function*() {
      const release = gate()
      let seen = 0
      const server = yield* httpServer((_req, res) => {
        seen++
        release.wait(() => res.end("ok"))
      })
      const pool = yield* Pool.make()
      const fiber = yield* Effect.fork(pool.request("GET", server.url))
      yield* eventually(() => seen === 1, 2_000, "the server to receive the request")
      const during = yield* pool.connections
      expect(during.map((c) => c.state)).toEqual(["ACTIVE"])
      expect(during[0]!.requestCount).toBe(1)
      release.open()
      const response = yield* Fiber.join(fiber)
      expect(response.status).toBe(200)
      const after = yield* pool.connections
      expect(after.map((c) => c.state)).toEqual(["IDLE"])
      // the earlier snapshot still shows its own moment
      expect(during[0]!.state).toBe("ACTIVE")
    }))

  it.scopedLive("a connection in its TLS handshake is CONNECTING", () =>
    Effect.gen(function*() {
      // Accepts TCP and reads the ClientHello, but never answers it: the handshake never completes.
      const server = yield* rawServer((socket) => socket.resume())
      const pool = yield* Pool.make({ tls: { rejectUnauthorized: false } })
      const fiber = yield* Effect.fork(pool.request("GET", `https://127.0.0.1:${server.port}/`))
      yield* eventually(() => server.acceptedSockets() === 1, 2_000, "the TCP connection")
      const during = yield* pool.connections
      expect(during.map((c) => c.state)).toEqual(["CONNECTING"])
      expect(during[0]!.origin).toBe(`https://127.0.0.1:${server.port}`)
      // Giving up on the request closes the half-made connection.
      yield* Fiber.interrupt(fiber)
      expect(yield* pool.connections).toEqual([])
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
    }))
})

// ---- limits ----------------------------------------------------------------------------------------------------

describe("Pool limits", () => {
  it.scopedLive("maxConnections bounds the sockets open at once", () =>
    Effect.gen(function*() {
      const tracker = peakTracker()
      const server = yield* httpServer((req, res) => {
        setTimeout(() => res.end(req.url), 30)
      }, tracker.configure)
      const pool = yield* Pool.make({ maxConnections: 2 })
      const responses = yield* Effect.all(
        Array.from({ length: 10 }, (_, i) => pool.request("GET", `${server.url}/${i}`)),
        { concurrency: "unbounded" }
      )
      expect(responses.map((r) => r.text)).toEqual(Array.from({ length: 10 }, (_, i) => `/${i}`))
      expect(tracker.peak()).toBeLessThanOrEqual(2)
      expect(server.acceptedSockets()).toBe(2)
    }))

  it.scopedLive("maxConnectionsPerHost bounds each origin separately", () =>
    Effect.gen(function*() {
      const trackerA = peakTracker()
      const trackerB = peakTracker()
      const slow: http.RequestListener = (_req, res) => {
        setTimeout(() => res.end("ok"), 20)
      }
      const a = yield* httpServer(slow, trackerA.configure)
      const b = yield* httpServer(slow, trackerB.configure)
      const pool = yield* Pool.make({ maxConnectionsPerHost: 1, maxConnections: 10 })
      const responses = yield* Effect.all(
        Array.from({ length: 8 }, (_, i) => pool.request("GET", `${i % 2 === 0 ? a.url : b.url}/${i}`)),
        { concurrency: "unbounded" }
      )
      expect(responses.every((r) => r.status === 200)).toBe(true)
      expect(trackerA.peak()).toBe(1)
      expect(trackerB.peak()).toBe(1)
      expect(a.acceptedSockets()).toBe(1)
      expect(b.acceptedSockets()).toBe(1)
    }))

  it.scopedLive("a request queued on one origin's per-host limit does not block another origin", () =>
    Effect.gen(function*() {
      const release = gate()
      let seenA = 0
      const a = yield* httpServer((_req, res) => {
        seenA++
        release.wait(() => res.end("a"))
      })
      const b = yield* httpServer((_req, res) => res.end("b"))
      const pool = yield* Pool.make({ maxConnectionsPerHost: 1, maxConnections: 10 })
      const fibers = yield* Effect.fork(
        Effect.all([1, 2, 3].map((i) => pool.request("GET", `${a.url}/${i}`)), { concurrency: "unbounded" })
      )
      yield* eventually(() => seenA === 1, 2_000, "the first request to A")
      // let the other two requests to A reach the wait queue
      yield* Effect.sleep("20 millis")
      // A short pool timeout: if B waited behind A's queue it would fail instead of hanging the test.
      const response = yield* pool.request("GET", `${b.url}/`, { timeout: { pool: 1_000 } })
      expect(response.text).toBe("b")
      expect(seenA).toBe(1)
      expect(a.openSockets()).toBe(1)
      release.open()
      const fromA = yield* Fiber.join(fibers)
      expect(fromA.map((r) => r.text)).toEqual(["a", "a", "a"])
      expect(a.acceptedSockets()).toBe(1)
    }))

  it.scopedLive("maxKeepaliveConnections keeps at most that many idle connections", () =>
    Effect.gen(function*() {
      // Answer only once all five requests are in, so five connections really exist at once.
      const pending: Array<http.ServerResponse> = []
      const server = yield* httpServer((_req, res) => {
        pending.push(res)
        if (pending.length === 5) for (const r of pending.splice(0)) r.end("ok")
      })
      const pool = yield* Pool.make({ maxKeepaliveConnections: 2 })
      const responses = yield* Effect.all(
        Array.from({ length: 5 }, () => pool.request("GET", server.url)),
        { concurrency: "unbounded" }
      )
      expect(responses.every((r) => r.status === 200)).toBe(true)
      expect(server.acceptedSockets()).toBe(5)
      const connections = yield* pool.connections
      const idle = connections.filter((c) => c.state === "IDLE")
      expect(idle.length).toBeLessThanOrEqual(2)
      expect(connections.filter((c) => c.state !== "CLOSED")).toEqual(idle)
      yield* eventually(() => server.openSockets() === 2, 2_000, "the server to see three sockets close")
    }))

  it.scopedLive("maxKeepaliveConnections 0 closes every connection after its response", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("ok"))
      const pool = yield* Pool.make({ maxKeepaliveConnections: 0 })
      for (let i = 0; i < 3; i++) {
        const response = yield* pool.request("GET", server.url)
        expect(response.text).toBe("ok")
        expect((yield* pool.connections).filter((c) => c.state !== "CLOSED")).toEqual([])
      }
      expect(server.acceptedSockets()).toBe(3)
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see every socket close")
    }))
})

// ---- expiry and server-side closes -----------------------------------------------------------------------------

describe("Pool idle connections", () => {
  it.scopedLive("keepaliveExpiry closes an idle connection and the next request opens a new one", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("ok"))
      const pool = yield* Pool.make({ keepaliveExpiry: "100 millis" })
      yield* pool.request("GET", server.url)
      expect((yield* pool.connections).map((c) => c.state)).toEqual(["IDLE"])
      yield* Effect.sleep("300 millis")
      expect((yield* pool.connections).filter((c) => c.state !== "CLOSED")).toEqual([])
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the expired socket close")
      const response = yield* pool.request("GET", server.url)
      expect(response.text).toBe("ok")
      expect(server.acceptedSockets()).toBe(2)
    }))

  it.scopedLive("a connection the server closed while idle is never handed out", () =>
    Effect.gen(function*() {
      // The first connection is closed by the server 20 ms after its keep-alive response; later ones stay open.
      let first: net.Socket | undefined
      const server = yield* scriptedServer((_index, socket) => {
        first ??= socket
        if (socket === first) setTimeout(() => socket.destroy(), 20)
        return KEEP_ALIVE_OK
      })
      const pool = yield* Pool.make()
      yield* pool.request("GET", `${server.url}/first`)
      yield* eventually(() => server.acceptedSockets() === 1 && server.openSockets() === 0, 2_000, "the server close")
      // the FIN is in flight on loopback; give the client's event loop a turn to read it
      yield* Effect.sleep("50 millis")
      // POST is not retried: had the dead connection been handed out, this would fail.
      const response = yield* pool.request("POST", `${server.url}/second`, { content: "payload" })
      expect(response.text).toBe("ok")
      expect(server.acceptedSockets()).toBe(2)
      const connections = yield* pool.connections
      expect(connections.map((c) => [c.state, c.requestCount])).toEqual([["IDLE", 1]])
    }))

  it.scopedLive("a GET on a stale keep-alive connection is retried once on a new connection", () =>
    Effect.gen(function*() {
      // Answers the first request on each connection, then drops the connection on the second without a word.
      const server = yield* scriptedServer((index, socket) => {
        if (index === 0) return KEEP_ALIVE_OK
        socket.destroy()
        return undefined
      })
      const pool = yield* Pool.make()
      expect((yield* pool.request("GET", `${server.url}/1`)).text).toBe("ok")
      const response = yield* pool.request("GET", `${server.url}/2`)
      expect(response.text).toBe("ok")
      expect(server.acceptedSockets()).toBe(2)
    }))

  it.scopedLive("a POST on a stale keep-alive connection fails: it is not idempotent", () =>
    Effect.gen(function*() {
      const server = yield* scriptedServer((index, socket) => {
        if (index === 0) return KEEP_ALIVE_OK
        socket.destroy()
        return undefined
      })
      const pool = yield* Pool.make()
      expect((yield* pool.request("GET", `${server.url}/1`)).text).toBe("ok")
      const url = `${server.url}/submit`
      const error = yield* Effect.flip(pool.request("POST", url, { content: "payload" }))
      expect(["RemoteProtocolError", "ReadError"]).toContain(error._tag)
      expect(error.message).toContain(url)
      expect(server.acceptedSockets()).toBe(1)
    }))
})

// ---- the wait queue --------------------------------------------------------------------------------------------

describe("Pool wait queue", () => {
  it.scopedLive("a request that gets no connection within the pool timeout fails with PoolTimeout", () =>
    Effect.gen(function*() {
      let seen = 0
      const server = yield* httpServer((_req, res) => {
        seen++
        setTimeout(() => res.end("slow"), 300)
      })
      const pool = yield* Pool.make({ maxConnections: 1 })
      const first = yield* Effect.fork(pool.request("GET", `${server.url}/a`))
      yield* eventually(() => seen === 1, 2_000, "request A at the server")
      const url = `${server.url}/b`
      const error = yield* Effect.flip(pool.request("GET", url, { timeout: { pool: 50 } }))
      expect(error._tag).toBe("PoolTimeout")
      expect(error.message).toContain(url)
      expect(error.request?.url).toBe(url)
      // the request holding the connection is unaffected
      expect((yield* Fiber.join(first)).text).toBe("slow")
      expect(seen).toBe(1)
    }))

  it.scopedLive("waiting requests are served in FIFO order", () =>
    Effect.gen(function*() {
      const release = gate()
      const order: Array<string> = []
      const server = yield* httpServer((req, res) => {
        order.push(req.url!)
        if (req.url === "/hold") release.wait(() => res.end("held"))
        else res.end(req.url)
      })
      const pool = yield* Pool.make({ maxConnections: 1, timeout: { pool: 5_000 } })
      const hold = yield* Effect.fork(pool.request("GET", `${server.url}/hold`))
      yield* eventually(() => order.length === 1, 2_000, "the holding request")
      const waiting: Array<Fiber.RuntimeFiber<string, HttpError.HttpError>> = []
      for (const name of ["b", "c", "d"]) {
        waiting.push(yield* Effect.fork(Effect.map(pool.request("GET", `${server.url}/${name}`), (r) => r.text)))
        // let this request reach the queue before the next one is started
        yield* Effect.sleep("10 millis")
      }
      release.open()
      expect((yield* Fiber.join(hold)).text).toBe("held")
      for (const fiber of waiting) yield* Fiber.join(fiber)
      expect(order).toEqual(["/hold", "/b", "/c", "/d"])
      expect(server.acceptedSockets()).toBe(1)
    }))

  it.scopedLive("a full pool closes an idle connection to another origin to make room", () =>
    Effect.gen(function*() {
      const a = yield* httpServer((_req, res) => res.end("a"))
      const b = yield* httpServer((_req, res) => res.end("b"))
      const pool = yield* Pool.make({ maxConnections: 1 })
      expect((yield* pool.request("GET", a.url)).text).toBe("a")
      expect((yield* pool.connections).map((c) => c.state)).toEqual(["IDLE"])
      const response = yield* pool.request("GET", b.url, { timeout: { pool: 1_000 } })
      expect(response.text).toBe("b")
      yield* eventually(() => a.openSockets() === 0, 2_000, "server A to see its idle socket closed")
      const connections = yield* pool.connections
      expect(connections.filter((c) => c.state !== "CLOSED").map((c) => c.origin)).toEqual([b.url])
    }))
})

// ---- connecting ------------------------------------------------------------------------------------------------

describe("Pool connect failures", () => {
  it.scopedLive("a refused port fails with ConnectError naming host:port", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const pool = yield* Pool.make()
      const url = `http://127.0.0.1:${port}/x`
      const error = yield* Effect.flip(pool.request("GET", url))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toContain(`127.0.0.1:${port}`)
      expect(error.message).toMatch(/refused/i)
      expect(error.request?.url).toBe(url)
      expect(yield* pool.connections).toEqual([])
    }))

  it.scopedLive("retries reconnect with backoff until a late server is listening", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      // Attempts at about 0 ms, 0 ms and 500 ms: the third finds the server that started at 100 ms.
      yield* lateServer(port, 100)
      const pool = yield* Pool.make({ retries: 2 })
      const response = yield* pool.request("GET", `http://127.0.0.1:${port}/`)
      expect(response.text).toBe("late")
    }))

  it.scopedLive("without retries the same late server means ConnectError", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      yield* lateServer(port, 100)
      const pool = yield* Pool.make({ retries: 0 })
      const error = yield* Effect.flip(pool.request("GET", `http://127.0.0.1:${port}/`))
      expect(error._tag).toBe("ConnectError")
    }))

  it.scopedLive("a TLS handshake that never completes fails with ConnectTimeout", () =>
    Effect.gen(function*() {
      const server = yield* rawServer((socket) => socket.resume())
      const pool = yield* Pool.make({ timeout: { connect: 150 } })
      const url = `https://127.0.0.1:${server.port}/`
      const error = yield* Effect.flip(pool.request("GET", url))
      expect(error._tag).toBe("ConnectTimeout")
      expect(error.message).toContain(url)
      expect(yield* pool.connections).toEqual([])
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
    }))
})

// ---- closing the pool ------------------------------------------------------------------------------------------

describe("Pool scope", () => {
  it.scopedLive("closing the pool's scope closes every socket and fails in-flight and waiting requests", () =>
    Effect.gen(function*() {
      // I gets two idle connections (its handler answers once two requests are in); H never answers "/hold".
      const pendingI: Array<http.ServerResponse> = []
      const idleServer = yield* httpServer((_req, res) => {
        pendingI.push(res)
        if (pendingI.length === 2) for (const r of pendingI.splice(0)) r.end("i")
      })
      let seenH = 0
      const holdServer = yield* httpServer(() => {
        seenH++
      })
      const scope = yield* Scope.make()
      // should the test fail half-way, still close the pool
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
      const pool = yield* Scope.extend(Pool.make({ maxConnectionsPerHost: 2 }), scope)
      yield* Effect.all([pool.request("GET", idleServer.url), pool.request("GET", idleServer.url)], {
        concurrency: "unbounded"
      })
      const inFlight = [
        yield* Effect.fork(pool.request("GET", `${holdServer.url}/hold`)),
        yield* Effect.fork(pool.request("GET", `${holdServer.url}/hold`))
      ]
      yield* eventually(() => seenH === 2, 2_000, "both held requests at the server")
      // H is at its per-host limit: this one waits in the queue, even though idle connections to I exist
      const waiter = yield* Effect.fork(pool.request("GET", `${holdServer.url}/waiting`))
      yield* Effect.sleep("20 millis")
      const states = (yield* pool.connections).map((c) => `${c.origin === idleServer.url ? "I" : "H"} ${c.state}`)
      expect(states.sort()).toEqual(["H ACTIVE", "H ACTIVE", "I IDLE", "I IDLE"])

      yield* Scope.close(scope, Exit.void)

      yield* eventually(() => idleServer.openSockets() === 0, 2_000, "server I to see its sockets close")
      yield* eventually(() => holdServer.openSockets() === 0, 2_000, "server H to see its sockets close")
      for (const fiber of inFlight) {
        const exit = yield* Effect.timeoutFail(Fiber.await(fiber), {
          duration: "2 seconds",
          onTimeout: () => new Error("an in-flight request hung after the pool closed")
        })
        expect(["ReadError", "ConnectError", "RemoteProtocolError"]).toContain(typedFailure(exit)._tag)
      }
      const waiterExit = yield* Effect.timeoutFail(Fiber.await(waiter), {
        duration: "2 seconds",
        onTimeout: () => new Error("a waiting request hung after the pool closed")
      })
      expect(typedFailure(waiterExit)._tag).toBe("ConnectError")
      expect(seenH).toBe(2)

      const after = yield* Effect.flip(pool.request("GET", idleServer.url))
      expect(after._tag).toBe("ConnectError")
      expect(after.message).toMatch(/pool.*closed/i)
      expect(idleServer.acceptedSockets()).toBe(2)
    }))

  it.scopedLive("500 concurrent requests share 5 connections", () =>
    Effect.gen(function*() {
      const tracker = peakTracker()
      const server = yield* httpServer((req, res) => res.end(req.url), tracker.configure)
      const pool = yield* Pool.make({ maxConnections: 5 })
      const responses = yield* Effect.all(
        Array.from({ length: 500 }, (_, i) => pool.request("GET", `${server.url}/${i}`)),
        { concurrency: "unbounded" }
      )
      // every response belongs to its own request
      expect(responses.every((r, i) => r.status === 200 && r.text === `/${i}`)).toBe(true)
      expect(tracker.peak()).toBeLessThanOrEqual(5)
      expect(server.acceptedSockets()).toBeLessThanOrEqual(5)
      const connections = yield* pool.connections
      expect(connections.length).toBeGreaterThan(0)
      expect(connections.length).toBeLessThanOrEqual(5)
      expect(connections.every((c) => c.state === "IDLE")).toBe(true)
      expect(connections.reduce((n, c) => n + c.requestCount, 0)).toBe(500)
    }))
})

// ---- network options -------------------------------------------------------------------------------------------

describe("Pool network options", () => {
  it.scopedLive.skipIf(!canBindLoopbackAlias)("localAddress sets the source address the server sees", () =>
    Effect.gen(function*() {
      const addresses: Array<string | undefined> = []
      const server = yield* httpServer((req, res) => {
        addresses.push(req.socket.remoteAddress)
        res.end("ok")
      })
      const pool = yield* Pool.make({ localAddress: "127.0.0.2" })
      const response = yield* pool.request("GET", server.url)
      expect(response.text).toBe("ok")
      expect(addresses.map((a) => a?.replace(/^::ffff:/, ""))).toEqual(["127.0.0.2"])
    }))

  it.scopedLive("uds sends the request over a Unix socket", () =>
    Effect.gen(function*() {
      const socketPath = path.join(os.tmpdir(), `httpfx-limits-${process.pid}-${Date.now()}.sock`)
      const seen: Array<[string | undefined, string | undefined]> = []
      yield* Effect.acquireRelease(
        Effect.async<http.Server>((resume) => {
          const server = http.createServer((req, res) => {
            seen.push([req.url, req.headers.host])
            res.end("over uds")
          })
          server.listen(socketPath, () => resume(Effect.succeed(server)))
        }),
        (server) =>
          Effect.async<void>((resume) => {
            server.closeAllConnections()
            server.close(() => {
              fs.rmSync(socketPath, { force: true })
              resume(Effect.void)
            })
          })
      )
      const pool = yield* Pool.make({ uds: socketPath })
      const response = yield* pool.request("GET", "http://localhost/x")
      expect(response.text).toBe("over uds")
      expect(seen).toEqual([["/x", "localhost"]])
    }))
})
