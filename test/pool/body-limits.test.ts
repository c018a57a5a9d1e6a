/**
 * `limits.maxBodySize`, the platform's largest buffer, and bounded decoding, against real loopback servers: a body
 * past its limit fails with ResponseTooLarge however it is read, and a compressed body is decoded a bounded step at
 * a time, its zlib streams freed as soon as nobody reads it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Either, Exit, Fiber, Scope, Stream } from "effect"
import type { HttpError } from "httpfx"
import { Pool } from "httpfx"
import type * as net from "node:net"
import { monitorEventLoopDelay } from "node:perf_hooks"
import * as zlib from "node:zlib"
import { unsafeSetMaxBufferSizeForTests } from "../../src/internal/wire/bodyDecoding.js"
import { openDecoderStreams } from "../../src/internal/wire/decoding.js"
import { h2Server } from "../h2/servers.js"
import { eventually, httpServer, rawServer } from "../utils/servers.js"

const KiB = 1024
const MiB = 1024 * KiB

// ---- bodies and servers ----------------------------------------------------------------------------------------

/** `size` zero bytes compressed with `make`, fed a MiB at a time (no buffer of `size` is ever allocated). */
const compressZeros = (make: () => zlib.Zlib & NodeJS.ReadWriteStream, size: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const encoder = make()
    const out: Array<Buffer> = []
    encoder.on("data", (bytes: Buffer) => out.push(bytes))
    encoder.on("end", () => resolve(Buffer.concat(out)))
    encoder.on("error", reject)
    const zeros = Buffer.alloc(MiB)
    let left = size / MiB
    const pump = (): void => {
      while (left > 0) {
        left--
        if (!encoder.write(zeros)) return void encoder.once("drain", pump)
      }
      encoder.end()
    }
    pump()
  })

/** A brotli body of a few hundred bytes that expands to `size` zeros. */
const brotliBomb = (size: number) =>
  Effect.promise(() =>
    compressZeros(
      () =>
        zlib.createBrotliCompress({
          params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: size }
        }),
      size
    )
  )

const gzipZeros = (size: number) => Effect.promise(() => compressZeros(() => zlib.createGzip({ level: 1 }), size))

/** Calls `answer` once per request head on the connection (the request has no body). */
const onEachRequest = (socket: net.Socket, answer: () => void): void => {
  let seen = ""
  socket.on("data", (data) => {
    seen += data.toString("latin1")
    let end: number
    while ((end = seen.indexOf("\r\n\r\n")) >= 0) {
      seen = seen.slice(end + 4)
      answer()
    }
  })
}

/** Answers every request with `body` under `coding` (none when undefined), with a Content-Length. */
const bodyServer = (body: Buffer, coding?: string) =>
  rawServer((socket) =>
    onEachRequest(socket, () => {
      socket.write(
        "HTTP/1.1 200 OK\r\n" + (coding !== undefined ? `Content-Encoding: ${coding}\r\n` : "") +
          `Content-Length: ${body.length}\r\n\r\n`
      )
      socket.write(body)
    })
  )

/** Answers every request with `size` bytes of "x", chunked, in 64 KiB chunks. */
const chunkedServer = (size: number) =>
  rawServer((socket) =>
    onEachRequest(socket, () => {
      socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
      const piece = Buffer.alloc(64 * KiB, "x")
      for (let left = size; left > 0; left -= piece.length) {
        const n = Math.min(left, piece.length)
        socket.write(`${n.toString(16)}\r\n`)
        socket.write(piece.subarray(0, n))
        socket.write("\r\n")
      }
      socket.write("0\r\n\r\n")
    })
  )

const tagOf = (exit: Exit.Exit<unknown, HttpError.HttpError>) =>
  Exit.isFailure(exit) ? exit.cause._tag === "Fail" ? exit.cause.error._tag : exit.cause._tag : "Success"

const failureOf = <A>(effect: Effect.Effect<A, HttpError.HttpError>) =>
  Effect.flatMap(Effect.either(effect), (either) =>
    Either.isLeft(either) ? Effect.succeed(either.left) : Effect.die(new Error("expected a failure")))

/** The body streamed to its end (or failure), counted: the chunks' sizes and the failure's tag if any. */
const drain = (stream: Stream.Stream<Uint8Array, HttpError.HttpError>) =>
  Effect.gen(function*() {
    const sizes: Array<number> = []
    const exit = yield* Effect.exit(Stream.runForEach(stream, (chunk) => Effect.sync(() => sizes.push(chunk.length))))
    return { sizes, total: sizes.reduce((a, b) => a + b, 0), tag: tagOf(exit) }
  })

// ---- maxBodySize ---------------------------------------------------------------------------------------------

describe("limits.maxBodySize", () => {
  it.scopedLive("a Content-Length above the limit fails with the head, before any body byte is read", () =>
    Effect.gen(function*() {
      let bodyWritten = false
      const server = yield* rawServer((socket) =>
        onEachRequest(socket, () => {
          socket.write("HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n")
          // The body would come much later: the client must not wait for it.
          setTimeout(() => {
            bodyWritten = true
            if (!socket.destroyed) socket.write(Buffer.alloc(10_000_000))
          }, 2_000).unref()
        })
      )
      const pool = yield* Pool.make({ limits: { maxBodySize: 1000 } })
      const started = performance.now()
      const error = yield* failureOf(pool.request("GET", `${server.url}/big`))
      expect(performance.now() - started).toBeLessThan(1_000)
      expect(bodyWritten).toBe(false)
      expect(error._tag).toBe("ResponseTooLarge")
      expect((error as HttpError.ResponseTooLarge).limit).toBe(1000)
      expect(error.message).toContain(`GET ${server.url}/big`)
      expect(error.message).toContain("10000000")
      expect(error.message).toContain("limits.maxBodySize")
      // The connection, with the body still on it, is closed rather than pooled.
      yield* eventually(() => server.openSockets() === 0, 2_000, "the connection to close")
      expect(yield* pool.connections).toEqual([])
    }))

  it.scopedLive("a streaming request fails at the head too, and a request's own limit overrides the pool's", () =>
    Effect.gen(function*() {
      const server = yield* bodyServer(Buffer.alloc(5_000, "x"))
      const pool = yield* Pool.make({ limits: { maxBodySize: 1_000_000 } })
      const exit = yield* Effect.exit(pool.stream("GET", server.url, { limits: { maxBodySize: 4_999 } }))
      expect(tagOf(exit)).toBe("ResponseTooLarge")
      const ok = yield* pool.request("GET", server.url, { limits: { maxBodySize: 5_000 } })
      expect(ok.content.length).toBe(5_000)
    }))

  it.scopedLive("a chunked body read whole fails once it passes the limit, and its connection is closed", () =>
    Effect.gen(function*() {
      const server = yield* chunkedServer(4 * MiB)
      const pool = yield* Pool.make({ limits: { maxBodySize: MiB } })
      const error = yield* failureOf(pool.request("GET", server.url))
      expect(error._tag).toBe("ResponseTooLarge")
      expect(error.message).toContain(`raise limits.maxBodySize`)
      yield* eventually(() => server.openSockets() === 0, 2_000, "the connection to close")
      expect(yield* pool.connections).toEqual([])
    }))

  it.scopedLive("a streamed body delivers at most the limit, then fails: stream, runForEach, into a buffer", () =>
    Effect.gen(function*() {
      const server = yield* chunkedServer(4 * MiB)
      const pool = yield* Pool.make({ limits: { maxBodySize: MiB } })
      const streamed = yield* Effect.scoped(Effect.flatMap(pool.stream("GET", server.url), (r) => drain(r.stream)))
      expect(streamed.tag).toBe("ResponseTooLarge")
      expect(streamed.total).toBeLessThanOrEqual(MiB)
      for (const buffer of [undefined, new Uint8Array(10_000)]) {
        let total = 0
        const exit = yield* Effect.exit(Effect.scoped(Effect.flatMap(
          pool.stream("GET", server.url),
          (r) => r.runForEach((chunk) => Effect.sync(() => (total += chunk.length)), { buffer })
        )))
        expect(tagOf(exit)).toBe("ResponseTooLarge")
        expect(total).toBeLessThanOrEqual(MiB)
      }
      const lines = yield* Effect.exit(Effect.scoped(Effect.flatMap(
        pool.stream("GET", server.url),
        (r) => Stream.runDrain(r.lines)
      )))
      expect(tagOf(lines)).toBe("ResponseTooLarge")
    }))

  it.scopedLive("a streaming response read whole (read) fails past the limit", () =>
    Effect.gen(function*() {
      const server = yield* chunkedServer(4 * MiB)
      const pool = yield* Pool.make({ limits: { maxBodySize: MiB } })
      const exit = yield* Effect.exit(Effect.scoped(Effect.flatMap(pool.stream("GET", server.url), (r) => r.read)))
      expect(tagOf(exit)).toBe("ResponseTooLarge")
    }))

  it.scopedLive("a decoded body is limited by its decoded size, buffered and streamed", () =>
    Effect.gen(function*() {
      const gzipped = yield* gzipZeros(4 * MiB)
      const server = yield* bodyServer(gzipped, "gzip")
      // The raw body is well under the limit; what it decodes to is not.
      expect(gzipped.length).toBeLessThan(MiB)
      const pool = yield* Pool.make({ limits: { maxBodySize: MiB } })
      expect((yield* failureOf(pool.request("GET", server.url)))._tag).toBe("ResponseTooLarge")
      const streamed = yield* Effect.scoped(Effect.flatMap(pool.stream("GET", server.url), (r) => drain(r.stream)))
      expect(streamed.tag).toBe("ResponseTooLarge")
      expect(streamed.total).toBeLessThanOrEqual(MiB)
      const read = yield* Effect.exit(Effect.scoped(Effect.flatMap(pool.stream("GET", server.url), (r) => r.read)))
      expect(tagOf(read)).toBe("ResponseTooLarge")
      // Under the limit it is all there.
      const whole = yield* pool.request("GET", server.url, { limits: { maxBodySize: 4 * MiB } })
      expect(whole.content.length).toBe(4 * MiB)
    }))

  it.scopedLive("the raw bytes of an encoded body count against the limit too", () =>
    Effect.gen(function*() {
      // Random bytes do not compress: 2 MiB of gzip that decodes to about as much.
      const raw = zlib.gzipSync(Buffer.from(Array.from({ length: 2 * MiB }, (_, i) => (i * 7919) % 251)), { level: 0 })
      const server = yield* rawServer((socket) =>
        onEachRequest(socket, () => {
          socket.write("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")
          socket.write(`${raw.length.toString(16)}\r\n`)
          socket.write(raw)
          socket.write("\r\n0\r\n\r\n")
        })
      )
      const pool = yield* Pool.make({ limits: { maxBodySize: MiB } })
      expect((yield* failureOf(pool.request("GET", server.url)))._tag).toBe("ResponseTooLarge")
    }))

  it.scopedLive("HTTP/2: a Content-Length above the limit fails with the head; a streamed body fails past it", () =>
    Effect.gen(function*() {
      const big = Buffer.alloc(2 * MiB, "y")
      const server = yield* h2Server({
        secure: false,
        onStream: (stream, headers) => {
          if (headers[":path"] === "/declared") {
            stream.respond({ ":status": 200, "content-length": String(big.length) })
          } else {
            stream.respond({ ":status": 200 })
          }
          stream.end(big)
        }
      })
      const pool = yield* Pool.make({ http1: false, http2: true, limits: { maxBodySize: MiB } })
      const declared = yield* failureOf(pool.request("GET", `${server.url}/declared`))
      expect(declared._tag).toBe("ResponseTooLarge")
      expect(declared.message).toContain(String(big.length))
      const buffered = yield* failureOf(pool.request("GET", `${server.url}/unknown`))
      expect(buffered._tag).toBe("ResponseTooLarge")
      const streamed = yield* Effect.scoped(Effect.flatMap(
        pool.stream("GET", `${server.url}/unknown`),
        (r) => drain(r.stream)
      ))
      expect(streamed.tag).toBe("ResponseTooLarge")
      expect(streamed.total).toBeLessThanOrEqual(MiB)
      // The session carries on: only the streams were cancelled.
      const ok = yield* pool.request("GET", `${server.url}/unknown`, { limits: { maxBodySize: 2 * MiB } })
      expect(ok.content.length).toBe(big.length)
    }))
})

// ---- the platform's largest buffer ---------------------------------------------------------------------------

describe("the platform's largest buffer", () => {
  const lowered = <A, E, R>(bytes: number, effect: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => unsafeSetMaxBufferSizeForTests(bytes)),
      () => effect,
      () => Effect.sync(() => unsafeSetMaxBufferSizeForTests(undefined))
    )

  it.scopedLive("a body read whole past it is ResponseTooLarge (never a throw); streamed, it is not limited", () =>
    lowered(
      2 * MiB,
      Effect.gen(function*() {
        const chunked = yield* chunkedServer(3 * MiB)
        const declared = yield* bodyServer(Buffer.alloc(3 * MiB, "z"))
        const pool = yield* Pool.make()
        for (const url of [chunked.url, declared.url]) {
          const error = yield* failureOf(pool.request("GET", url))
          expect(error._tag).toBe("ResponseTooLarge")
          expect((error as HttpError.ResponseTooLarge).limit).toBe(2 * MiB)
          expect(error.message).toContain("largest buffer")
          const read = yield* Effect.exit(Effect.scoped(Effect.flatMap(pool.stream("GET", url), (r) => r.read)))
          expect(tagOf(read)).toBe("ResponseTooLarge")
          const streamed = yield* Effect.scoped(Effect.flatMap(pool.stream("GET", url), (r) => drain(r.stream)))
          expect(streamed).toMatchObject({ tag: "Success", total: 3 * MiB })
        }
      })
    ))

  it.scopedLive("a decoded body read whole past it is ResponseTooLarge", () =>
    lowered(
      2 * MiB,
      Effect.gen(function*() {
        const server = yield* bodyServer(yield* gzipZeros(3 * MiB), "gzip")
        const pool = yield* Pool.make()
        expect((yield* failureOf(pool.request("GET", server.url)))._tag).toBe("ResponseTooLarge")
      })
    ))
})

// ---- bounded decoding ------------------------------------------------------------------------------------------

/**
 * Counts what every BrotliDecompress stream produces (its pushes), and when: a test can then see how far a decoder
 * ran ahead of its reader, and when it passed a size.
 */
const trackBrotli = (passing = Infinity) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const proto = zlib.BrotliDecompress.prototype as any
      const original = proto.push
      const seen = { produced: 0, passedAt: 0 }
      proto.push = function(this: unknown, chunk: Buffer | null, ...rest: Array<unknown>) {
        if (chunk !== null) {
          seen.produced += chunk.length
          if (seen.passedAt === 0 && seen.produced > passing) seen.passedAt = performance.now()
        }
        return original.call(this, chunk, ...rest)
      }
      return { seen, restore: () => delete proto.push }
    }),
    (tracked) => Effect.sync(() => tracked.restore())
  ).pipe(Effect.map(({ seen }) => seen))

describe("bounded decoding", () => {
  it.scopedLive("each chunk pulled from a brotli bomb is under 64 KiB, and the decoder never runs far ahead", () =>
    Effect.gen(function*() {
      const server = yield* bodyServer(yield* brotliBomb(256 * MiB), "br")
      const seen = yield* trackBrotli()
      const pool = yield* Pool.make()
      yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", server.url)
        const pull = yield* Stream.toPull(response.stream)
        let taken = 0
        for (let i = 0; i < 20; i++) {
          const chunk = yield* pull
          let pulled = 0
          for (const piece of chunk) pulled += piece.length
          expect(pulled).toBeLessThan(64 * KiB)
          taken += pulled
          // A slow reader: zlib has time to run ahead, and must not.
          yield* Effect.sleep("10 millis")
          expect(seen.produced - taken).toBeLessThanOrEqual(128 * KiB)
        }
      }))
      // Closing the scope freed the decoder.
      yield* eventually(() => openDecoderStreams() === 0, 2_000, "the decoder streams to close")
    }))

  it.scopedLive("a brotli bomb read whole under maxBodySize fails soon after passing it, without stalling", () =>
    Effect.gen(function*() {
      const server = yield* bodyServer(yield* brotliBomb(256 * MiB), "br")
      const limit = 8 * MiB
      const seen = yield* trackBrotli(limit)
      const pool = yield* Pool.make({ limits: { maxBodySize: limit } })
      const delay = monitorEventLoopDelay({ resolution: 1 })
      delay.enable()
      const error = yield* failureOf(pool.request("GET", server.url))
      const failedAt = performance.now()
      delay.disable()
      expect(error._tag).toBe("ResponseTooLarge")
      expect(seen.passedAt).toBeGreaterThan(0)
      expect(failedAt - seen.passedAt).toBeLessThan(100)
      // The whole body decoded in one call holds the loop for seconds; a bounded step, for well under a millisecond
      // (the margin is for garbage collection and a busy machine).
      expect(delay.max / 1e6).toBeLessThan(250)
      yield* eventually(() => openDecoderStreams() === 0, 2_000, "the decoder streams to close")
    }))

  it.scopedLive("interrupting a buffered read mid-decoding destroys the decoder at once", () =>
    Effect.gen(function*() {
      const server = yield* bodyServer(yield* brotliBomb(256 * MiB), "br")
      const seen = yield* trackBrotli()
      const pool = yield* Pool.make()
      const fiber = yield* Effect.fork(pool.request("GET", server.url))
      yield* eventually(() => seen.produced > MiB, 5_000, "decoding to start")
      expect(openDecoderStreams()).toBe(1)
      yield* Fiber.interrupt(fiber)
      yield* eventually(() => openDecoderStreams() === 0, 1_000, "the decoder streams to close")
    }))

  it.scopedLive("the total timeout stops a buffered read mid-decoding and destroys the decoder", () =>
    Effect.gen(function*() {
      const server = yield* bodyServer(yield* brotliBomb(256 * MiB), "br")
      const pool = yield* Pool.make({ timeout: { total: 300 } })
      const error = yield* failureOf(pool.request("GET", server.url))
      expect(error._tag).toBe("RequestTimeout")
      yield* eventually(() => openDecoderStreams() === 0, 1_000, "the decoder streams to close")
    }))

  it.scopedLive("a streaming response read whole decodes as it goes and frees its decoder when interrupted", () =>
    Effect.gen(function*() {
      const server = yield* bodyServer(yield* brotliBomb(256 * MiB), "br")
      const seen = yield* trackBrotli()
      const pool = yield* Pool.make()
      const fiber = yield* Effect.fork(Effect.scoped(Effect.flatMap(pool.stream("GET", server.url), (r) => r.read)))
      yield* eventually(() => seen.produced > MiB, 5_000, "decoding to start")
      yield* Fiber.interrupt(fiber)
      yield* eventually(() => openDecoderStreams() === 0, 1_000, "the decoder streams to close")
    }))

  it.scopedLive("closing the scope while a read waits for the last decoded bytes ends the read and the decoder", () =>
    Effect.gen(function*() {
      const server = yield* bodyServer(yield* brotliBomb(256 * MiB), "br")
      const seen = yield* trackBrotli()
      const pool = yield* Pool.make()
      const scope = yield* Scope.make()
      const response = yield* Scope.extend(pool.stream("GET", server.url), scope)
      const reader = yield* Effect.fork(response.read)
      // The few raw bytes are all in; decoding them goes on.
      yield* eventually(() => seen.produced > MiB, 5_000, "decoding to start")
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.await(reader)
      expect(tagOf(exit)).toBe("ReadError")
      yield* eventually(() => openDecoderStreams() === 0, 1_000, "the decoder streams to close")
    }))

  it.scopedLive("bad encoded data is a DecodingError as soon as it arrives, buffered and streamed", () =>
    Effect.gen(function*() {
      const garbage = Buffer.from("this is not gzip at all, not even close".repeat(100))
      // The rest of the body never comes: the error must not wait for it.
      const server = yield* rawServer((socket) =>
        onEachRequest(socket, () => {
          socket.write(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${10 * garbage.length}\r\n\r\n`)
          socket.write(garbage)
        })
      )
      const pool = yield* Pool.make({ timeout: { read: 10_000 } })
      const started = performance.now()
      const error = yield* failureOf(pool.request("GET", server.url))
      expect(performance.now() - started).toBeLessThan(2_000)
      expect(error._tag).toBe("DecodingError")
      expect(error.message).toContain("gzip")
      expect(error.message).toContain(`GET ${server.url}`)
      const streamed = yield* Effect.scoped(Effect.flatMap(pool.stream("GET", server.url), (r) => drain(r.stream)))
      expect(streamed.tag).toBe("DecodingError")
      yield* eventually(() => openDecoderStreams() === 0, 1_000, "the decoder streams to close")
    }))

  it.scopedLive("every coding decodes, buffered and streamed, including a chain of two", () =>
    Effect.gen(function*() {
      const text = Buffer.from("a body in several codings\n".repeat(5_000))
      const encoded: Record<string, Buffer> = {
        gzip: zlib.gzipSync(text),
        "x-gzip": zlib.gzipSync(text),
        deflate: zlib.deflateSync(text),
        "deflate-raw": zlib.deflateRawSync(text),
        br: zlib.brotliCompressSync(text),
        "gzip, br": zlib.brotliCompressSync(zlib.gzipSync(text))
      }
      const server = yield* httpServer((req, res) => {
        const name = decodeURIComponent(req.url!.slice(1))
        res.setHeader("content-encoding", name === "deflate-raw" ? "deflate" : name)
        res.end(encoded[name])
      })
      const pool = yield* Pool.make()
      for (const name of Object.keys(encoded)) {
        const url = `${server.url}/${encodeURIComponent(name)}`
        const buffered = yield* pool.request("GET", url)
        expect(Buffer.from(buffered.content).equals(text)).toBe(true)
        const streamed = yield* Effect.scoped(Effect.flatMap(pool.stream("GET", url), (r) => Stream.runCollect(r.stream)))
        expect(Buffer.concat(Chunk.toReadonlyArray(streamed)).equals(text)).toBe(true)
      }
    }))
})

describe("a decoded streaming body read to its end", () => {
  for (const read of ["stream", "runForEach", "runForEach into a buffer"] as const) {
    it.scoped(`is let go by its scope once read through ${read}, as a plain one is`, () =>
      Effect.gen(function*() {
        const gzipped = zlib.gzipSync(Buffer.alloc(4 * KiB, 97))
        const server = yield* httpServer((request, response) => {
          if (request.url === "/gzip") response.writeHead(200, { "content-encoding": "gzip" }).end(gzipped)
          else response.end(Buffer.alloc(4 * KiB, 97))
        })
        const pool = yield* Pool.make()
        for (const path of ["/plain", "/gzip"]) {
          const response = yield* pool.stream("GET", `${server.url}${path}`)
          let size = 0
          const count = (chunk: Uint8Array) => Effect.sync(() => void (size += chunk.length))
          if (read === "stream") yield* Stream.runForEach(response.stream, count)
          else if (read === "runForEach") yield* response.runForEach(count)
          else yield* response.runForEach(count, { buffer: new Uint8Array(1024) })
          expect(size).toBe(4 * KiB)
          // The scope still open and long-lived: it must no longer hold the exchange (and its head, its buffers).
          const exchange = (response as unknown as { readonly exchange: { readonly scopeHandle: unknown } }).exchange
          expect(exchange.scopeHandle).toBeUndefined()
        }
      }))
  }
})

describe("limits.maxHeadSize over HTTP/2", () => {
  it.scoped("a head larger than the limit fails that request with RemoteProtocolError; the session goes on", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        secure: false,
        onStream: (stream, headers) => {
          const big = headers[":path"] === "/big"
          stream.respond(big ? { ":status": 200, "x-big": "b".repeat(8 * KiB) } : { ":status": 200 })
          stream.end("ok")
        }
      })
      const pool = yield* Pool.make({ http1: false, http2: true, limits: { maxHeadSize: 4 * KiB } })
      const error = yield* Effect.flip(pool.request("GET", `${server.url}/big`))
      expect(error._tag).toBe("RemoteProtocolError")
      expect(error.message).toContain(`${server.url}/big`)
      expect(error.message).toContain("larger than 4096 bytes; raise limits.maxHeadSize")
      expect((yield* pool.request("GET", `${server.url}/small`)).text).toBe("ok")
      // A request's own limit over the pool's lets the same head through.
      const big = yield* pool.request("GET", `${server.url}/big`, { limits: { maxHeadSize: 16 * KiB } })
      expect(big.headers["x-big"]?.length).toBe(8 * KiB)
      expect((yield* pool.connections).length).toBe(1)
    }))
})
