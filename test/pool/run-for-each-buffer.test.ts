/**
 * `response.runForEach(f, { buffer })`: a body read through memory of the caller's. Every chunk is a view of that
 * buffer, valid until f's Effect ends; on a plain HTTP/1.1 connection the socket reads straight into it, nothing is
 * allocated per read, and between chunks the server's bytes wait in the kernel. Every other body (TLS, HTTP/2,
 * decoded, a transport's Stream) is copied in. The buffer is never written once the read is over, however it ends.
 */
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Data, Deferred, Effect, Exit, Fiber, Scope } from "effect"
import { Client, Pool, Transport } from "httpfx"
import type { Response } from "httpfx"
import { vi } from "vitest"
import { ca, h2Server, serverCert, serverKey } from "../h2/servers.js"
import { eventually, httpsServer, rawServer } from "../utils/servers.js"
import { body, bodyHandler, bodyServer, KiB, medium, MiB, text } from "./bodies.js"

const server = bodyServer

interface Read {
  readonly bytes: Buffer
  readonly sizes: ReadonlyArray<number>
}

/**
 * Read a body through `buffer`, checking that every chunk is a view of it from its start, and keeping a copy of each
 * (the next read writes over it). `pause` runs after each chunk's check, before f's Effect ends.
 */
const readThrough = (
  response: Response.StreamingResponse,
  buffer: Uint8Array,
  pause: (index: number) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<Read, Error> =>
  Effect.suspend(() => {
    const copies: Array<Buffer> = []
    const sizes: Array<number> = []
    return response.runForEach((chunk) =>
      Effect.suspend(() => {
        if (chunk.buffer !== buffer.buffer || chunk.byteOffset !== buffer.byteOffset) {
          return Effect.fail(new Error("a chunk that is not a view of the buffer from its start"))
        }
        if (chunk.length === 0 || chunk.length > buffer.length) {
          return Effect.fail(new Error(`a chunk of ${chunk.length} bytes for a buffer of ${buffer.length}`))
        }
        const copy = Buffer.from(chunk)
        copies.push(copy)
        sizes.push(chunk.length)
        // The chunk holds still for as long as f's Effect runs.
        return Effect.flatMap(pause(copies.length - 1), () =>
          Buffer.compare(Buffer.from(chunk), copy) === 0
            ? Effect.void
            : Effect.fail(new Error("a chunk was written over before f's Effect ended")))
      }), { buffer }).pipe(
        Effect.map((): Read => ({ bytes: Buffer.concat(copies), sizes })),
        Effect.mapError((error) => error instanceof Error ? error : new Error(String(error)))
      )
  })

class Stop extends Data.TaggedError("Stop")<{ readonly after: number }> {}

/** Counts of the Buffer allocations httpfx's body reading could make, while `effect` runs. */
const countingAllocations = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => [vi.spyOn(Buffer, "allocUnsafe"), vi.spyOn(Buffer, "allocUnsafeSlow")] as const),
    ([unsafe, slow]) =>
      Effect.map(effect, (value) => {
        const sizes = [...unsafe.mock.calls, ...slow.mock.calls].map(([size]) => size).filter((size) => size >= KiB)
        return { value, allocations: sizes.length, bytes: sizes.reduce((sum, size) => sum + size, 0) }
      }),
    ([unsafe, slow]) =>
      Effect.sync(() => {
        unsafe.mockRestore()
        slow.mockRestore()
      })
  )

/** How often the client's sockets to `url`'s port were paused, and read timers of `readMs` set, while `effect` ran. */
const countingStops = <A, E, R>(url: string, readMs: number, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => [vi.spyOn(net.Socket.prototype, "pause"), vi.spyOn(globalThis, "setTimeout")] as const),
    ([pause, timeout]) =>
      Effect.map(effect, (value) => ({
        value,
        pauses: pause.mock.contexts.filter((socket) => (socket as net.Socket).remotePort === Number(new URL(url).port))
          .length,
        readTimers: timeout.mock.calls.filter(([, ms]) => ms === readMs).length
      })),
    ([pause, timeout]) =>
      Effect.sync(() => {
        pause.mockRestore()
        timeout.mockRestore()
      })
  )

/** An f that is still at work when the event loop next polls its sockets. */
const acrossAPoll = () => Effect.promise(() => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve))))

describe("StreamingResponse.runForEach with a buffer", () => {
  it.scopedLive("every byte in order through the buffer, Content-Length and chunked; the connection goes back", () =>
    Effect.gen(function*() {
      const { acceptedSockets, url } = yield* server()
      const pool = yield* Pool.make({ maxConnections: 1 })
      for (const [path, size, expected] of [
        ["/length", 64 * KiB, body],
        ["/chunked", 64 * KiB, body],
        ["/medium", 777, medium],
        ["/length", 3 * MiB, body]
      ] as const) {
        const buffer = new Uint8Array(size)
        const read = yield* Effect.scoped(
          Effect.flatMap(pool.stream("GET", `${url}${path}`), (r) => readThrough(r, buffer))
        )
        expect(read.bytes.equals(expected), `${path} through ${size} bytes`).toBe(true)
        expect(read.sizes.length, path).toBeGreaterThanOrEqual(Math.ceil(expected.length / size))
        // Back in the pool at the last byte, and reused by the next request.
        expect((yield* pool.connections).map((c) => c.state), path).toEqual(["IDLE"])
      }
      expect(acceptedSockets()).toBe(1)
    }))

  it.scopedLive("a body without a length (read until the server closes) and a one-byte buffer", () =>
    Effect.gen(function*() {
      const closing = yield* rawServer((socket) => {
        socket.once("data", () => {
          socket.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
          socket.end(medium)
        })
      })
      const pool = yield* Pool.make()
      const read = yield* Effect.scoped(
        Effect.flatMap(pool.stream("GET", `${closing.url}/`), (r) => readThrough(r, new Uint8Array(64 * KiB)))
      )
      expect(read.bytes.equals(medium)).toBe(true)
      const { url } = yield* server()
      const tiny = yield* Effect.scoped(
        Effect.flatMap(pool.stream("GET", `${url}/small`), (r) => readThrough(r, new Uint8Array(1)))
      )
      expect(tiny.bytes.toString()).toBe("ok")
      expect(tiny.sizes).toEqual([1, 1])
    }))

  it.scopedLive("a plain connection reads into the buffer itself: no allocation per read, larger reads", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const pool = yield* Pool.make()
      const buffer = new Uint8Array(MiB)
      const { allocations, value: read } = yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", `${url}/length`)
        // A reader that takes its time on the first chunks: meanwhile the bytes gather in the kernel, not here.
        const slowStart = (i: number) => i < 4 ? Effect.sleep("20 millis") : Effect.void
        return yield* countingAllocations(readThrough(response, buffer, slowStart))
      }))
      expect(read.bytes.equals(body)).toBe(true)
      // At most the read that was under way when the reader first waited is copied; after that, nothing.
      expect(allocations).toBeLessThanOrEqual(1)
      // The pool's own reads are 256 KiB at most: a larger chunk was read by the socket into the buffer itself.
      expect(Math.max(...read.sizes)).toBeGreaterThan(256 * KiB)

      // Chunked: the framing goes through the pool's read buffer, never more of it at once than the buffer can take.
      const chunked = yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", `${url}/chunked`)
        return yield* countingAllocations(readThrough(response, new Uint8Array(64 * KiB)))
      }))
      expect(chunked.value.bytes.equals(body)).toBe(true)
      // Besides the 8 MiB this test joins its copies into: what came in before the reader first asked is copied, a
      // few reads' worth (the socket pauses at 64 KiB), never a slab; after that nothing, over the body's 128 reads.
      expect(chunked.allocations).toBeLessThanOrEqual(4)
      expect(chunked.bytes - body.length).toBeLessThanOrEqual(320 * KiB)

      // Without a buffer, the same body costs allocations (a slab a few reads, or a copy a read).
      const plain = yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", `${url}/length`)
        return yield* countingAllocations(response.runForEach(() => Effect.void))
      }))
      expect(plain.allocations).toBeGreaterThanOrEqual(4)
    }))

  it.scopedLive("a reader that asks again at once keeps the socket reading; one still at work stops it meanwhile", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const readMs = 12_345
      const pool = yield* Pool.make({ timeout: { read: readMs } })
      const read = (pause?: (index: number) => Effect.Effect<void>) =>
        Effect.scoped(Effect.flatMap(
          pool.stream("GET", `${url}/length`),
          (r) => countingStops(url, readMs, readThrough(r, new Uint8Array(64 * KiB), pause))
        ))
      // f ends before the socket is polled again: the next read may land in the buffer as it is, over 128 reads.
      const eager = yield* read()
      expect(eager.value.bytes.equals(body)).toBe(true)
      expect(eager.value.sizes.length).toBeGreaterThanOrEqual(128)
      expect(eager.pauses).toBeLessThanOrEqual(2)
      // f still at work when the socket is polled: reading stops for each such chunk, so nothing lands in the buffer
      // while f has it (readThrough checks every chunk at the end of its f).
      const busy = yield* read(acrossAPoll)
      expect(busy.value.bytes.equals(body)).toBe(true)
      expect(busy.pauses).toBeGreaterThanOrEqual(busy.value.sizes.length / 2)
      // The read timeout stands still while reading stops, and goes on with the same timer when it restarts.
      expect(busy.readTimers).toBeLessThanOrEqual(2)
    }))

  it.scopedLive("a body cut short fails with RemoteProtocolError, whether the reader waits or comes after", () =>
    Effect.gen(function*() {
      const cut = yield* rawServer((socket) => {
        socket.once("data", () => {
          socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
          setTimeout(() => socket.end("x".repeat(1000)), 20)
        })
      })
      const pool = yield* Pool.make()
      const readCut = (pause?: (index: number) => Effect.Effect<void>) =>
        Effect.flip(Effect.scoped(Effect.flatMap(
          pool.stream("GET", `${cut.url}/cut`),
          (r) => r.runForEach(() => pause?.(0) ?? Effect.void, { buffer: new Uint8Array(64 * KiB) })
        )))
      // Waiting when the connection closes; then busy in f, so that its next wait finds the body already broken.
      for (const error of [yield* readCut(), yield* readCut(() => Effect.sleep("60 millis"))]) {
        expect(error).toMatchObject({ _tag: "RemoteProtocolError" })
        expect(error.message).toContain(`${cut.url}/cut`)
      }
      expect(yield* pool.connections).toEqual([])
    }))

  it.scopedLive("until a reader asks, the bytes after the head are copied, not read into a slab it may not use", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const pool = yield* Pool.make({ maxConnections: 1 })
      // A first download leaves the connection reading in bulk, as the next response's first reads would go on.
      yield* Effect.scoped(Effect.flatMap(pool.stream("GET", `${url}/length`), (r) => r.runForEach(() => Effect.void)))
      const { allocations, bytes, value: read } = yield* countingAllocations(Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", `${url}/length`)
        // Nobody reads for a while: the bytes that came meanwhile are held, and the socket pauses at 64 KiB.
        yield* Effect.sleep("50 millis")
        return yield* readThrough(response, new Uint8Array(256 * KiB))
      })))
      expect(read.bytes.equals(body)).toBe(true)
      // Besides the 8 MiB this test joins its copies into: a few reads' worth of copies, and no 1 MiB slab.
      expect(allocations).toBeLessThanOrEqual(4)
      expect(bytes - body.length).toBeLessThanOrEqual(320 * KiB)
    }))

  it.scopedLive("read, which asks for the whole rest at once, still reads into slabs, not a copy per read", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const pool = yield* Pool.make({ maxConnections: 1 })
      yield* Effect.scoped(Effect.flatMap(pool.stream("GET", `${url}/length`), (r) => r.runForEach(() => Effect.void)))
      const { allocations, value: response } = yield* countingAllocations(
        Effect.scoped(Effect.flatMap(pool.stream("GET", `${url}/length`), (r) => r.read))
      )
      expect(Buffer.from(response.content).equals(body)).toBe(true)
      // 8 MiB: eight 1 MiB slabs, the copies made before the read asked, and the join; a copy per read would be dozens.
      expect(allocations).toBeLessThanOrEqual(16)
    }))

  it.scopedLive("a bad buffer fails with LocalProtocolError naming the URL, and leaves the body unread", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const pool = yield* Pool.make()
      yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", `${url}/small`)
        for (const bad of [new Uint8Array(0), "not bytes" as unknown as Uint8Array]) {
          const error = yield* Effect.flip(response.runForEach(() => Effect.void, { buffer: bad }))
          expect(error._tag).toBe("LocalProtocolError")
          expect(error.message).toContain(`GET ${url}/small`)
          expect(error.message).toContain("non-empty Uint8Array")
        }
        const read = yield* readThrough(response, new Uint8Array(16))
        expect(read.bytes.toString()).toBe("ok")
      }))
    }))

  it.scopedLive("a body is read once: a second reader gets StreamConsumed", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const pool = yield* Pool.make()
      yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", `${url}/small`)
        yield* readThrough(response, new Uint8Array(8))
        const again = yield* Effect.flip(response.runForEach(() => Effect.void, { buffer: new Uint8Array(8) }))
        expect(again._tag).toBe("StreamConsumed")
        const viaStream = yield* Effect.flip(response.read)
        expect(viaStream._tag).toBe("StreamConsumed")
      }))
    }))

  it.scopedLive("decoded, TLS, HTTP/2 and a transport's Stream bodies are copied in, a bufferful at a time", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const pool = yield* Pool.make({ tls: { ca }, http2: true })
      const gzip = yield* Effect.scoped(
        Effect.flatMap(pool.stream("GET", `${url}/gzip`), (r) => readThrough(r, new Uint8Array(1000)))
      )
      expect(gzip.bytes.toString("utf8")).toBe(text)

      const https = yield* httpsServer({ key: serverKey, cert: serverCert }, bodyHandler)
      const overTls = yield* Effect.scoped(
        Effect.flatMap(pool.stream("GET", `${https.url}/chunked`), (r) => readThrough(r, new Uint8Array(100_000)))
      )
      expect(overTls.bytes.equals(body)).toBe(true)

      const h2 = yield* h2Server({
        onStream: (stream) => {
          stream.respond({ ":status": 200 })
          stream.end(medium)
        }
      })
      const overH2 = yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", `${h2.url}/`)
        expect(response.httpVersion).toBe("HTTP/2")
        return yield* readThrough(response, new Uint8Array(5000))
      }))
      expect(overH2.bytes.equals(medium)).toBe(true)

      const mocked = yield* Client.make({
        transport: Transport.mock(() =>
          new globalThis.Response(
            new ReadableStream({
              start(controller) {
                for (const piece of ["abcde", "f", "ghijklm"]) controller.enqueue(new TextEncoder().encode(piece))
                controller.close()
              }
            })
          )
        )
      })
      const pieces = yield* Effect.scoped(
        Effect.flatMap(mocked.stream("GET", "http://app.test/"), (r) => readThrough(r, new Uint8Array(3)))
      )
      expect(pieces.bytes.toString()).toBe("abcdefghijklm")
      expect(pieces.sizes).toEqual([3, 2, 1, 3, 3, 1])
    }))

  it.scopedLive("when f fails, the buffer is not written again, even while the scope keeps the response open", () =>
    Effect.gen(function*() {
      const { openSockets, url } = yield* server()
      const pool = yield* Pool.make({ maxConnections: 1 })
      const buffer = new Uint8Array(64 * KiB)
      const scope = yield* Scope.make()
      const response = yield* Scope.extend(pool.stream("GET", `${url}/length`), scope)
      let seen = 0
      const exit = yield* Effect.exit(response.runForEach((chunk) => {
        seen += chunk.length
        return seen > MiB ? Effect.fail(new Stop({ after: seen })) : Effect.void
      }, { buffer }))
      expect(Exit.isFailure(exit) && Cause.failureOption(exit.cause)).toMatchObject({ value: { _tag: "Stop" } })
      // The server still has most of 8 MiB to send, and the connection is open: none of it may land in the buffer.
      buffer.fill(0xee)
      yield* Effect.sleep("100 millis")
      expect(buffer.every((byte) => byte === 0xee)).toBe(true)
      yield* Scope.close(scope, Exit.void)
      yield* eventually(() => openSockets() === 0, 2_000, "the server to see the unfinished connection close")
      expect((yield* pool.connections).filter((c) => c.state !== "CLOSED")).toEqual([])
      expect((yield* pool.request("GET", `${url}/small`)).text).toBe("ok")
    }))

  it.scopedLive("interrupted waiting or in f: the socket closes, the slot comes back, the buffer stays as it was", () =>
    Effect.gen(function*() {
      // Half of the declared body, then, a little later, the rest: the reader is interrupted in between.
      let sockets = 0
      const stalled = yield* rawServer((socket) => {
        sockets++
        socket.once("data", () => {
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${2 * MiB}\r\n\r\n`)
          socket.write(body.subarray(0, MiB))
          setTimeout(() => socket.destroyed || socket.write(body.subarray(MiB, 2 * MiB)), 150).unref()
        })
      })
      const pool = yield* Pool.make({ maxConnections: 1 })
      for (const where of ["waiting", "in f"] as const) {
        const buffer = new Uint8Array(64 * KiB)
        const read = yield* Deferred.make<void>()
        let total = 0
        const fiber = yield* Effect.fork(Effect.scoped(Effect.flatMap(
          pool.stream("GET", `${stalled.url}/`),
          (response) =>
            response.runForEach((chunk) => {
              total += chunk.length
              // Once the first MiB is in, the reader waits for bytes that are 150 ms away, or sits in f.
              if (total < MiB) return Effect.void
              const arrived = Deferred.succeed(read, undefined)
              return where === "in f" ? Effect.zipRight(arrived, Effect.never) : arrived
            }, { buffer })
        )))
        yield* Deferred.await(read)
        if (where === "waiting") yield* Effect.sleep("20 millis")
        yield* Fiber.interrupt(fiber).pipe(Effect.timeoutFail({
          duration: "2 seconds",
          onTimeout: () => new Error(`Fiber.interrupt did not return within 2 s (${where})`)
        }))
        buffer.fill(0xee)
        yield* eventually(() => stalled.openSockets() === 0, 2_000, `the server to see the socket close (${where})`)
        // The rest of the body was due meanwhile: none of it reached the buffer.
        yield* Effect.sleep("200 millis")
        expect(buffer.every((byte) => byte === 0xee), where).toBe(true)
        expect((yield* pool.connections).filter((c) => c.state !== "CLOSED"), where).toEqual([])
      }
      expect(sockets).toBe(2)
    }))

  it.scopedLive("cut short by a timeout while its scope stays open: the socket closes at once, the buffer is left", () =>
    Effect.gen(function*() {
      // Half of the declared body at once, the rest 150 ms later: the timeout fires while the reader waits.
      const stalled = yield* rawServer((socket) => {
        socket.once("data", () => {
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${2 * MiB}\r\n\r\n`)
          socket.write(body.subarray(0, MiB))
          setTimeout(() => socket.destroyed || socket.write(body.subarray(MiB, 2 * MiB)), 150).unref()
        })
      })
      const pool = yield* Pool.make({ maxConnections: 1 })
      // Without a buffer too: runForEach's plain reads wait the same way.
      for (const buffer of [new Uint8Array(64 * KiB), undefined]) {
        const what = buffer === undefined ? "without a buffer" : "through a buffer"
        yield* Effect.scoped(Effect.gen(function*() {
          const response = yield* pool.stream("GET", `${stalled.url}/`)
          let total = 0
          const count = (chunk: Uint8Array) =>
            Effect.sync(() => {
              total += chunk.length
            })
          const read = buffer === undefined ? response.runForEach(count) : response.runForEach(count, { buffer })
          const outcome = yield* Effect.exit(Effect.timeoutFail(read, {
            duration: "60 millis",
            onTimeout: () => new Error("timed out")
          }))
          expect(Exit.isFailure(outcome), what).toBe(true)
          expect(total, what).toBe(MiB)
          buffer?.fill(0xee)
          // The response's scope is still open: the read's end alone closes the unfinished connection.
          yield* eventually(() => stalled.openSockets() === 0, 1_000, `the server to see the socket close (${what})`)
          expect((yield* pool.connections).filter((c) => c.state !== "CLOSED"), what).toEqual([])
          yield* Effect.sleep("200 millis")
          expect(buffer === undefined || buffer.every((byte) => byte === 0xee), what).toBe(true)
        }))
      }
    }))

  it.scopedLive("a slow reader is not a slow server: the read timeout runs only while the reader waits", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const pool = yield* Pool.make({ timeout: { read: 150 } })
      const read = yield* Effect.scoped(Effect.flatMap(
        pool.stream("GET", `${url}/medium`),
        (r) => readThrough(r, new Uint8Array(50_000), (i) => i === 0 ? Effect.sleep("400 millis") : Effect.void)
      ))
      expect(read.bytes.equals(medium)).toBe(true)

      const silent = yield* rawServer((socket) => {
        socket.once("data", () => socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf`))
      })
      const error = yield* Effect.flip(Effect.scoped(Effect.flatMap(
        pool.stream("GET", `${silent.url}/stalls`),
        (r) => readThrough(r, new Uint8Array(64))
      )))
      expect(error).toMatchObject({ _tag: "ReadTimeout" })
      expect(error.message).toContain(`${silent.url}/stalls`)
    }))
})
