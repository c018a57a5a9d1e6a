/**
 * Resource safety of the pool: whatever phase a request is in when its fiber is interrupted (or its scope closes,
 * or a timeout fires), the interrupt returns promptly, the server sees the socket close, the pool keeps no
 * ACTIVE/CONNECTING connection, and a request queued behind it gets the slot. Also the lifetimes of streaming
 * bodies (back to the pool at the last byte, closed with the scope, backpressure) and the timeouts that fire
 * while a body is being read or written.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Deferred, Duration, Effect, Exit, Fiber, Stream } from "effect"
import { Pool } from "httpfx"
import type * as http from "node:http"
import type * as net from "node:net"
import { afterAll, beforeAll } from "vitest"
import { eventually, httpServer, rawServer } from "../utils/servers.js"
import type { TestServer } from "../utils/servers.js"

// ---- process safety ------------------------------------------------------------------------------------------------

// A socket or timer left behind by an interrupted request tends to surface later as an unhandled rejection or an
// uncaught exception; collect both for the whole file and require none at the end.
const processFaults: Array<string> = []
const onUnhandledRejection = (reason: unknown) => {
  processFaults.push(`unhandledRejection: ${String(reason)}`)
}
const onUncaughtException = (error: unknown) => {
  processFaults.push(`uncaughtException: ${String(error)}`)
}
beforeAll(() => {
  process.on("unhandledRejection", onUnhandledRejection)
  process.on("uncaughtException", onUncaughtException)
})
afterAll(() => {
  process.off("unhandledRejection", onUnhandledRejection)
  process.off("uncaughtException", onUncaughtException)
})

// ---- helpers -------------------------------------------------------------------------------------------------------

const MiB = 1024 * 1024

const bytesOf = (chunks: Chunk.Chunk<Uint8Array>): Buffer => Buffer.concat(Chunk.toArray(chunks))

/** Interrupt and prove the interrupt returns: a hung interrupt fails this test instead of the whole file. */
const interruptPromptly = <A, E>(fiber: Fiber.RuntimeFiber<A, E>) =>
  Fiber.interrupt(fiber).pipe(
    Effect.timeoutFail({
      duration: "2 seconds",
      onTimeout: () => new Error("Fiber.interrupt did not return within 2 s: the request ignores interruption")
    })
  )

/** The connections of the pool that still hold a request or a connect attempt, printed for a readable failure. */
const busy = (pool: Pool.Pool) =>
  Effect.map(
    pool.connections,
    (connections) => connections.filter((c) => c.state === "ACTIVE" || c.state === "CONNECTING").map(String)
  )

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

/**
 * The common ending of every "interrupted in phase X" test: with maxConnections 1, a waiter to another origin is
 * queued behind the victim; interrupting the victim must close its socket and hand the slot to the waiter.
 * `silentServer`: the victim's server does not read (see drainServerSockets).
 */
const interruptAndHandOver = <A, E>(
  pool: Pool.Pool,
  victim: Fiber.RuntimeFiber<A, E>,
  victimServer: TestServer,
  silentServer = false
) =>
  Effect.gen(function*() {
    const good = yield* okServer()
    const waiter = yield* Effect.fork(pool.request("GET", `${good.url}/waiter`))
    // Give the waiter time to reach the queue; it must not have connected, as the only slot is taken.
    yield* Effect.sleep("30 millis")
    expect(good.acceptedSockets()).toBe(0)

    const exit = yield* interruptPromptly(victim)
    expect(Exit.isInterrupted(exit)).toBe(true)
    if (silentServer) drainServerSockets(victimServer)
    yield* eventually(() => victimServer.openSockets() === 0, 2_000, "the server to see the victim's socket close")

    const response = yield* Fiber.join(waiter)
    expect(response.status).toBe(200)
    expect(response.text).toBe("ok")
    expect(yield* busy(pool)).toEqual([])
    expect((yield* pool.connections).map((c) => c.origin)).not.toContain(`http://127.0.0.1:${victimServer.port}`)
  })

/** Reads a request head from a raw socket and calls `onHead` once per request head. */
const onRequestHead = (socket: net.Socket, onHead: () => void) => {
  let seen = ""
  socket.on("data", (data) => {
    seen += data.toString("latin1")
    let end: number
    while ((end = seen.indexOf("\r\n\r\n")) >= 0) {
      seen = seen.slice(end + 4)
      onHead()
    }
  })
}

/** Answers with a head announcing 100 000 bytes, sends 1 000 of them, then stalls forever. */
const stallingBodyServer = () => {
  let headsSent = 0
  return Effect.map(
    rawServer((socket) =>
      onRequestHead(socket, () => {
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + "x".repeat(1000))
        headsSent++
      })
    ),
    (server) => ({ server, headsSent: () => headsSent })
  )
}

/**
 * Answers each request with a Content-Length body sent as separate writes 15 ms apart, so that the client sees
 * them as separate reads (the splits the decoders must handle).
 */
const piecewiseServer = (pieces: ReadonlyArray<Buffer>, extraHeaders = "") =>
  rawServer((socket) => {
    const timers = new Set<ReturnType<typeof setTimeout>>()
    socket.on("close", () => {
      for (const timer of timers) clearTimeout(timer)
    })
    onRequestHead(socket, () => {
      const length = pieces.reduce((n, piece) => n + piece.length, 0)
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${length}\r\n${extraHeaders}\r\n`)
      pieces.forEach((piece, i) => {
        const timer = setTimeout(() => {
          timers.delete(timer)
          if (!socket.destroyed) socket.write(piece)
        }, 15 * (i + 1))
        timers.add(timer)
      })
    })
  })

// ---- interruption in each phase -----------------------------------------------------------------------------------

describe("interrupting a request", () => {
  it.scopedLive(
    "while it waits for a pool slot: it leaves the queue, the occupant completes, later requests are served",
    () =>
    Effect.gen(function*() {
      const held: Array<http.ServerResponse> = []
      let requests = 0
      const server = yield* httpServer((req, res) => {
        requests++
        req.resume()
        if (req.url === "/hold") held.push(res)
        else res.end(`served ${req.url}`)
      })
      const pool = yield* Pool.make({ maxConnections: 1 })

      const occupant = yield* Effect.fork(pool.request("GET", `${server.url}/hold`))
      yield* eventually(() => held.length === 1, 2_000, "the occupying request to reach the server")
      const waiter = yield* Effect.fork(pool.request("GET", `${server.url}/waiter`))
      yield* Effect.sleep("30 millis")

      const exit = yield* interruptPromptly(waiter)
      expect(Exit.isInterrupted(exit)).toBe(true)
      // The interrupted waiter never got a connection: nothing reached the server for it.
      expect(requests).toBe(1)

      held[0]!.end("released")
      const occupied = yield* Fiber.join(occupant)
      expect(occupied.text).toBe("released")

      // The freed slot goes to the next request, not to the interrupted waiter.
      const later = yield* pool.request("GET", `${server.url}/later`)
      expect(later.text).toBe("served /later")
      expect(requests).toBe(2)
      expect(server.acceptedSockets()).toBe(1)
      expect(yield* busy(pool)).toEqual([])
    }))

  it.scopedLive(
    "while it connects (a TLS handshake that is never answered): the socket closes, the waiter proceeds",
    () =>
    Effect.gen(function*() {
      // A TCP server that accepts and never says a word: the TLS handshake hangs.
      const silent = yield* rawServer(() => {})
      const pool = yield* Pool.make({ maxConnections: 1 })
      const victim = yield* Effect.fork(pool.request("GET", `https://127.0.0.1:${silent.port}/`))
      yield* eventually(() => silent.acceptedSockets() === 1, 2_000, "the TCP connection to be accepted")
      expect((yield* pool.connections).map((c) => c.state)).toEqual(["CONNECTING"])

      yield* interruptAndHandOver(pool, victim, silent, true)
    }))

  it.scopedLive("while it writes a request body stream that never ends: the socket closes, the waiter proceeds", () =>
    Effect.gen(function*() {
      let bodyBytes = 0
      const server = yield* httpServer((req) => {
        req.on("data", (data: Buffer) => bodyBytes += data.length)
      })
      const pool = yield* Pool.make({ maxConnections: 1 })
      const content = Stream.make(new TextEncoder().encode("first chunk")).pipe(Stream.concat(Stream.never))
      const victim = yield* Effect.fork(pool.request("POST", `${server.url}/upload`, { content }))
      yield* eventually(() => bodyBytes > 0, 2_000, "the first body chunk to reach the server")

      yield* interruptAndHandOver(pool, victim, server)
    }))

  it.scopedLive(
    "while it writes a 16 MiB body to a server that stopped reading: the socket closes, the waiter proceeds",
    () =>
    Effect.gen(function*() {
      let gotData = false
      const server = yield* rawServer((socket) => {
        socket.once("data", () => {
          gotData = true
          // Stop reading: the kernel buffers fill up and the client's write stalls.
          socket.pause()
        })
      })
      const pool = yield* Pool.make({ maxConnections: 1 })
      const content = new Uint8Array(16 * MiB)
      const victim = yield* Effect.fork(pool.request("POST", `${server.url}/upload`, { content }))
      yield* eventually(() => gotData, 2_000, "the request to start arriving")

      yield* interruptAndHandOver(pool, victim, server, true)
    }))

  it.scopedLive("while it waits for the response head: the socket closes, the waiter proceeds", () =>
    Effect.gen(function*() {
      let requests = 0
      // Takes the request and never answers.
      const server = yield* httpServer((req) => {
        requests++
        req.resume()
      })
      const pool = yield* Pool.make({ maxConnections: 1 })
      const victim = yield* Effect.fork(pool.request("GET", `${server.url}/silent`))
      yield* eventually(() => requests === 1, 2_000, "the server to get the request")

      yield* interruptAndHandOver(pool, victim, server)
    }))

  it.scopedLive("in the middle of a buffered body (pool.request): the socket closes, the waiter proceeds", () =>
    Effect.gen(function*() {
      const { headsSent, server } = yield* stallingBodyServer()
      const pool = yield* Pool.make({ maxConnections: 1 })
      const victim = yield* Effect.fork(pool.request("GET", `${server.url}/partial`))
      yield* eventually(() => headsSent() === 1, 2_000, "the server to send the head and part of the body")
      // Let the head and the first body bytes reach the client.
      yield* Effect.sleep("30 millis")

      yield* interruptAndHandOver(pool, victim, server)
    }))

  it.scopedLive("while consuming response.stream (pool.stream): the socket closes, the waiter proceeds", () =>
    Effect.gen(function*() {
      const { server } = yield* stallingBodyServer()
      const pool = yield* Pool.make({ maxConnections: 1 })
      const firstChunk = yield* Deferred.make<number>()
      const victim = yield* Effect.fork(Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", `${server.url}/partial`)
        yield* Stream.runForEach(response.stream, (chunk) => Deferred.succeed(firstChunk, chunk.length))
      })))
      // The client itself has read body bytes: it is truly mid-body.
      expect(yield* Deferred.await(firstChunk)).toBeGreaterThan(0)

      yield* interruptAndHandOver(pool, victim, server)
    }))

  it.scopedLive("Effect.timeout around a request behaves like an interruption", () =>
    Effect.gen(function*() {
      let requests = 0
      const server = yield* httpServer((req) => {
        requests++
        req.resume()
      })
      const good = yield* okServer()
      const pool = yield* Pool.make({ maxConnections: 1 })
      const timed = yield* Effect.fork(pool.request("GET", `${server.url}/silent`).pipe(Effect.timeout("300 millis")))
      yield* eventually(() => requests === 1, 2_000, "the server to get the request")
      const waiter = yield* Effect.fork(pool.request("GET", `${good.url}/waiter`))

      const error = yield* Effect.flip(Fiber.join(timed))
      expect(Cause.isTimeoutException(error)).toBe(true)
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the timed-out socket close")
      const response = yield* Fiber.join(waiter)
      expect(response.text).toBe("ok")
      expect(yield* busy(pool)).toEqual([])
    }))
})

// ---- streaming lifetimes ------------------------------------------------------------------------------------------

describe("streaming bodies", () => {
  it.scopedLive("read to the end: the connection is IDLE before the scope closes and is reused afterwards", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        req.resume()
        res.end("hello world")
      })
      const pool = yield* Pool.make()
      yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", `${server.url}/a`)
        const body = yield* Stream.runCollect(response.stream)
        expect(bytesOf(body).toString()).toBe("hello world")
        // Still inside the scope: reading the last byte alone gave the connection back.
        expect((yield* pool.connections).map((c) => c.state)).toEqual(["IDLE"])
      }))
      expect(server.openSockets()).toBe(1)
      const next = yield* pool.request("GET", `${server.url}/b`)
      expect(next.text).toBe("hello world")
      expect(server.acceptedSockets()).toBe(1)
      expect((yield* pool.connections).map((c) => [c.state, c.requestCount])).toEqual([["IDLE", 2]])
    }))

  it.scopedLive("scope closed without reading: the connection is closed and nothing leaks", () =>
    Effect.gen(function*() {
      const { server } = yield* stallingBodyServer()
      const pool = yield* Pool.make()
      yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", `${server.url}/partial`)
        expect(response.status).toBe(200)
      }))
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
      expect(yield* busy(pool)).toEqual([])
      expect((yield* pool.connections).filter((c) => c.state !== "CLOSED")).toEqual([])
    }))

  it.scopedLive("response.close closes the connection at once, before the scope ends", () =>
    Effect.gen(function*() {
      const { server } = yield* stallingBodyServer()
      const pool = yield* Pool.make()
      yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", `${server.url}/partial`)
        yield* response.close
        // Still inside the scope.
        yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
        expect(yield* busy(pool)).toEqual([])
      }))
    }))

  it.scopedLive("running the body a second time fails with StreamConsumed", () =>
    Effect.gen(function*() {
      const server = yield* okServer()
      const pool = yield* Pool.make()
      const response = yield* pool.stream("GET", `${server.url}/twice`)
      expect(bytesOf(yield* Stream.runCollect(response.stream)).toString()).toBe("ok")
      const error = yield* Effect.flip(Stream.runCollect(response.stream))
      expect(error._tag).toBe("StreamConsumed")
      expect(error.message).toContain(`${server.url}/twice`)
    }))

  it.scopedLive("read after stream fails with StreamConsumed", () =>
    Effect.gen(function*() {
      const server = yield* okServer()
      const pool = yield* Pool.make()
      const response = yield* pool.stream("GET", `${server.url}/read-after-stream`)
      yield* Stream.runDrain(response.stream)
      const error = yield* Effect.flip(response.read)
      expect(error._tag).toBe("StreamConsumed")
    }))

  it.scopedLive(
    "backpressure: a consumer that stops pulling stops the server, and the scope then closes the socket",
    () =>
    Effect.gen(function*() {
      const total = 16 * MiB
      const piece = Buffer.alloc(64 * 1024, 120)
      let written = 0
      const server = yield* httpServer((req, res) => {
        req.resume()
        res.on("error", () => {})
        res.writeHead(200, { "content-length": String(total) })
        // Respect write()'s answer, so that `written` measures what the client let through, not Node's buffering.
        const pump = () => {
          while (written < total && !res.destroyed) {
            written += piece.length
            if (!res.write(piece)) return void res.once("drain", pump)
          }
          if (written >= total) res.end()
        }
        pump()
      })
      const pool = yield* Pool.make()
      yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", `${server.url}/big`)
        const first = yield* Stream.runCollect(Stream.take(response.stream, 1))
        expect(Chunk.size(first)).toBe(1)
        // Hold on without pulling: the client must pause the socket, so the server cannot push the whole body.
        // What it does get through is bounded by socket buffers, not by the body: about 3.75 MiB on this machine
        // (the server's send buffer autotunes up to tcp_wmem's 4 MiB), hence half the body as the bound. Without
        // the pause, loopback delivers all 16 MiB well within 200 ms.
        yield* Effect.sleep("200 millis")
        expect(written).toBeLessThan(total / 2)
      }))
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
      expect(written).toBeLessThan(total)
      expect(yield* busy(pool)).toEqual([])
    }))

  it.scopedLive("text decodes a UTF-8 character split between two server writes", () =>
    Effect.gen(function*() {
      // "é" is C3 A9: the two bytes arrive in different writes.
      const server = yield* piecewiseServer(
        [Buffer.from("caf"), Buffer.from([0xc3]), Buffer.from([0xa9, 0x20, 0x6f, 0x6b])],
        "Content-Type: text/plain; charset=utf-8\r\n"
      )
      const pool = yield* Pool.make()
      const response = yield* pool.stream("GET", `${server.url}/text`)
      const pieces = Chunk.toArray(yield* Stream.runCollect(response.text))
      expect(pieces.join("")).toBe("café ok")
      expect(pieces.join("")).not.toContain("\uFFFD")
    }))

  it.scopedLive("lines splits on \\r\\n and \\n across writes, with a UTF-8 character split too", () =>
    Effect.gen(function*() {
      const server = yield* piecewiseServer([
        Buffer.from("alpha\r\nbe"),
        Buffer.from("ta\nna"),
        Buffer.from([0xc3]),
        Buffer.from([0xaf]),
        Buffer.from("ve\r"),
        Buffer.from("\ndelta\n"),
        Buffer.from("last")
      ])
      const pool = yield* Pool.make()
      const response = yield* pool.stream("GET", `${server.url}/lines`)
      const lines = Chunk.toArray(yield* Stream.runCollect(response.lines))
      expect(lines).toEqual(["alpha", "beta", "naïve", "delta", "last"])
    }))

  it.scopedLive("read buffers the rest of the body into a Response and frees the connection", () =>
    Effect.gen(function*() {
      const server = yield* piecewiseServer([Buffer.from("one "), Buffer.from("two "), Buffer.from("three")])
      const pool = yield* Pool.make()
      const response = yield* pool.stream("GET", `${server.url}/read`)
      const buffered = yield* response.read
      expect(buffered.status).toBe(200)
      expect(buffered.text).toBe("one two three")
      expect(Buffer.from(buffered.content).toString()).toBe("one two three")
      expect((yield* pool.connections).map((c) => c.state)).toEqual(["IDLE"])
    }))
})

// ---- timeouts ------------------------------------------------------------------------------------------------------

describe("timeouts while the body flows", () => {
  it.scopedLive("a server that stalls mid-body fails pool.request with ReadTimeout and the socket is closed", () =>
    Effect.gen(function*() {
      const { server } = yield* stallingBodyServer()
      const pool = yield* Pool.make()
      const url = `${server.url}/stall`
      const error = yield* Effect.flip(pool.request("GET", url, { timeout: { read: 200 } }))
      expect(error._tag).toBe("ReadTimeout")
      expect(error.message).toContain(url)
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
      expect(yield* busy(pool)).toEqual([])
    }))

  it.scopedLive("a server that stalls mid-body fails a streamed body with ReadTimeout", () =>
    Effect.gen(function*() {
      const { server } = yield* stallingBodyServer()
      const pool = yield* Pool.make({ timeout: { read: 200 } })
      const response = yield* pool.stream("GET", `${server.url}/stall`)
      const error = yield* Effect.flip(Stream.runDrain(response.stream))
      expect(error._tag).toBe("ReadTimeout")
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
    }))

  it.scopedLive("a slow consumer pausing longer than the read timeout does not cause a ReadTimeout", () =>
    Effect.gen(function*() {
      const size = 1 * MiB
      const server = yield* httpServer((req, res) => {
        req.resume()
        res.end(Buffer.alloc(size, 97))
      })
      const pool = yield* Pool.make({ timeout: { read: 100 } })
      const response = yield* pool.stream("GET", `${server.url}/slow-reader`)
      let pulls = 0
      let received = 0
      yield* Stream.runForEach(response.stream, (chunk) =>
        Effect.gen(function*() {
          received += chunk.length
          // Only the first pause matters: three read timeouts long, with the server's bytes waiting for us.
          if (pulls++ === 0) yield* Effect.sleep("300 millis")
        }))
      expect(received).toBe(size)
    }))

  it.scopedLive(
    "timeout.total on a server that drips a byte every 50 ms fails with RequestTimeout and closes the connection",
    () =>
    Effect.gen(function*() {
      const server = yield* rawServer((socket) => {
        let timer: ReturnType<typeof setInterval> | undefined
        socket.on("close", () => clearInterval(timer))
        onRequestHead(socket, () => {
          socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
          // Every byte resets the read timeout, so only the total deadline can stop this.
          timer = setInterval(() => socket.write("x"), 50)
        })
      })
      const pool = yield* Pool.make()
      const url = `${server.url}/drip`
      const error = yield* Effect.flip(pool.request("GET", url, { timeout: { total: 150 } }))
      expect(error._tag).toBe("RequestTimeout")
      expect(error.message).toContain(url)
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
      expect(yield* busy(pool)).toEqual([])
    }))

  it.scopedLive("a 300 ms response fails with the pool's 100 ms timeout (the control for the next test)", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        req.resume()
        setTimeout(() => res.end("late"), 300)
      })
      const pool = yield* Pool.make({ timeout: 100 })
      const error = yield* Effect.flip(pool.request("GET", `${server.url}/slow`))
      expect(error._tag).toBe("ReadTimeout")
    }))

  it.scopedLive("timeout: null on the request disables the pool's 100 ms timeouts", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        req.resume()
        setTimeout(() => res.end("late"), 300)
      })
      const pool = yield* Pool.make({ timeout: 100 })
      const response = yield* pool.request("GET", `${server.url}/slow`, { timeout: null })
      expect(response.text).toBe("late")
    }))

  it.scopedLive("a 64 MiB body to a server that never reads fails with WriteTimeout", () =>
    Effect.gen(function*() {
      // No "data" listener: the socket never reads, so the kernel buffers fill and the client's write stalls.
      const server = yield* rawServer(() => {})
      const pool = yield* Pool.make()
      const url = `${server.url}/upload`
      const error = yield* Effect.flip(
        pool.request("POST", url, { content: new Uint8Array(64 * MiB), timeout: { write: 200 } })
      )
      expect(error._tag).toBe("WriteTimeout")
      expect(error.message).toContain(url)
      drainServerSockets(server)
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
      expect(yield* busy(pool)).toEqual([])
    }))
})

// ---- last: the whole file ------------------------------------------------------------------------------------------

it.live("no unhandled rejection or uncaught exception escaped during this file", () =>
  Effect.gen(function*() {
    // Late socket errors and timers of the tests above get a moment to surface.
    yield* Effect.sleep(Duration.millis(100))
    expect(processFaults).toEqual([])
  }))
