/**
 * `response.runForEach(f)`: a streamed body read chunk by chunk without a Stream pipeline. It must keep every promise
 * the body's Stream keeps: every byte in order, one consumer, content decoding, the connection back at the last
 * byte, and on failure, interruption or a broken response a typed error, a closed socket and a free slot.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Data, Deferred, Effect, Exit, Fiber, Stream } from "effect"
import { Client, Pool, Response, Transport } from "httpfx"
import { eventually, rawServer } from "../utils/servers.js"
import { body, bodyServer, MiB, text } from "./bodies.js"

const server = bodyServer

/** Read a body with runForEach, keeping the chunks. */
const collect = (response: Response.StreamingResponse) =>
  Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    return Effect.as(
      response.runForEach((chunk) => Effect.sync(() => chunks.push(chunk))),
      chunks
    )
  })

class Stop extends Data.TaggedError("Stop")<{ readonly after: number }> {}

describe("StreamingResponse.runForEach", () => {
  it.scopedLive("reads every byte in order, with a Content-Length and chunked, and the connection goes back", () =>
    Effect.gen(function*() {
      const { acceptedSockets, url } = yield* server()
      const pool = yield* Pool.make({ maxConnections: 1 })
      for (const path of ["/length", "/chunked", "/length"]) {
        const chunks = yield* Effect.scoped(Effect.flatMap(pool.stream("GET", `${url}${path}`), collect))
        expect(chunks.length, path).toBeGreaterThan(1)
        expect(Buffer.concat(chunks).equals(body), path).toBe(true)
        // Back in the pool at the last byte, before the scope closed, and reused by the next request.
        expect((yield* pool.connections).map((c) => c.state), path).toEqual(["IDLE"])
      }
      expect(acceptedSockets()).toBe(1)
    }))

  it.scopedLive("a pool's body is read without its Stream: neither stream nor raw is touched", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const pool = yield* Pool.make()
      const chunks = yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", `${url}/length`)
        // Shadow both getters on this one response: a read that fell back to the Stream route would throw here.
        for (const name of ["stream", "raw"]) {
          Object.defineProperty(response, name, {
            get: () => {
              throw new Error(`runForEach went through response.${name}`)
            }
          })
        }
        return yield* collect(response)
      }))
      expect(Buffer.concat(chunks).equals(body)).toBe(true)
    }))

  it.scopedLive("a body is read once: a second reader gets StreamConsumed, whichever way either reads", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const pool = yield* Pool.make()
      const second = (first: "runForEach" | "stream", then: "runForEach" | "stream") =>
        Effect.scoped(Effect.gen(function*() {
          const response = yield* pool.stream("GET", `${url}/small`)
          const read = (how: "runForEach" | "stream") =>
            how === "runForEach" ? Effect.asVoid(collect(response)) : Stream.runDrain(response.stream)
          yield* read(first)
          return yield* Effect.flip(read(then))
        }))
      for (const [first, then] of [["runForEach", "runForEach"], ["runForEach", "stream"], ["stream", "runForEach"]] as const) {
        const error = yield* second(first, then)
        expect(error._tag, `${first} then ${then}`).toBe("StreamConsumed")
      }
    }))

  it.scopedLive("decodes a gzip body as the stream does", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const pool = yield* Pool.make()
      const chunks = yield* Effect.scoped(Effect.flatMap(pool.stream("GET", `${url}/gzip`), collect))
      expect(Buffer.concat(chunks).toString("utf8")).toBe(text)
    }))

  it.scopedLive("when f fails, the read ends with f's error and closing the scope frees the connection", () =>
    Effect.gen(function*() {
      const { openSockets, url } = yield* server()
      const pool = yield* Pool.make({ maxConnections: 1 })
      let seen = 0
      const exit = yield* Effect.exit(Effect.scoped(Effect.flatMap(
        pool.stream("GET", `${url}/length`),
        (response) =>
          response.runForEach((chunk) => {
            seen += chunk.length
            return seen > MiB ? Effect.fail(new Stop({ after: seen })) : Effect.void
          })
      )))
      expect(Exit.isFailure(exit) && Cause.failureOption(exit.cause)).toMatchObject({ value: { _tag: "Stop" } })
      // The body was left unfinished: its connection cannot be reused, so it is closed, and the slot is free.
      yield* eventually(() => openSockets() === 0, 2_000, "the server to see the unfinished connection close")
      expect((yield* pool.connections).filter((c) => c.state !== "CLOSED")).toEqual([])
      const response = yield* pool.request("GET", `${url}/small`)
      expect(response.text).toBe("ok")
    }))

  it.scopedLive("interrupted mid-body: the interrupt returns, the socket closes, the slot comes back", () =>
    Effect.gen(function*() {
      // Half of the declared body, then nothing: the reader waits mid-body.
      const stalled = yield* rawServer((socket) => {
        socket.once("data", () => {
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${2 * MiB}\r\n\r\n`)
          socket.write(body.subarray(0, MiB))
        })
      })
      const pool = yield* Pool.make({ maxConnections: 1 })
      const started = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(Effect.scoped(Effect.flatMap(
        pool.stream("GET", `${stalled.url}/`),
        (response) => response.runForEach(() => Deferred.succeed(started, undefined))
      )))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber).pipe(Effect.timeoutFail({
        duration: "2 seconds",
        onTimeout: () => new Error("Fiber.interrupt did not return within 2 s")
      }))
      yield* eventually(() => stalled.openSockets() === 0, 2_000, "the server to see the socket close")
      expect((yield* pool.connections).filter((c) => c.state !== "CLOSED")).toEqual([])
      const { url } = yield* server()
      expect((yield* pool.request("GET", `${url}/small`)).text).toBe("ok")
    }))

  it.scopedLive("a server that closes mid-body fails the read with RemoteProtocolError, naming the URL", () =>
    Effect.gen(function*() {
      const broken = yield* rawServer((socket) => {
        socket.once("data", () => {
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${MiB}\r\n\r\n`)
          socket.end(body.subarray(0, 100_000))
        })
      })
      const pool = yield* Pool.make()
      const error = yield* Effect.flip(Effect.scoped(Effect.flatMap(pool.stream("GET", `${broken.url}/cut`), collect)))
      expect(error._tag).toBe("RemoteProtocolError")
      expect(error.message).toContain(`${broken.url}/cut`)
      expect((yield* pool.connections).filter((c) => c.state !== "CLOSED")).toEqual([])
    }))

  it.scopedLive("through the Client, and over a transport whose body is a Stream", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const client = yield* Client.make()
      const chunks = yield* Effect.scoped(Effect.flatMap(client.stream("GET", `${url}/chunked`), collect))
      expect(Buffer.concat(chunks).equals(body)).toBe(true)

      const mocked = yield* Client.make({
        transport: Transport.mock(() =>
          new globalThis.Response(
            new ReadableStream({
              start(controller) {
                for (const piece of ["a", "b", "c"]) controller.enqueue(new TextEncoder().encode(piece))
                controller.close()
              }
            })
          )
        )
      })
      const pieces = yield* Effect.scoped(Effect.flatMap(mocked.stream("GET", "http://app.test/"), collect))
      expect(Buffer.concat(pieces).toString()).toBe("abc")
    }))
})
