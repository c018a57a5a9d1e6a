// The transfer codings of a body read until close (RFC 9112 §6.1), as the HTTP/1.1 connection hands them to the
// exchange with the head: undone before the content codings, in `read`, `stream` and `raw` alike. Driven directly,
// without a socket (the parser's side is tested with the parser).
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Stream } from "effect"
import * as zlib from "node:zlib"
import type { HttpError } from "../../src/index.js"
import { Exchange, Phase, Version } from "../utils/exchange.js"
import type { Response, StreamingResponse } from "../../src/internal/message/response.js"
import { defaultTimeouts } from "../../src/internal/core/timeouts.js"
import { parseTarget } from "../../src/internal/core/url.js"
import type { Target } from "../../src/internal/core/url.js"

const target = parseTarget("http://127.0.0.1:1/coded") as Target
const text = Buffer.from("a body sent with a transfer coding\n".repeat(1_000))

const exchangeOf = (streaming: boolean) =>
  new Exchange("GET", target, "", undefined, false, undefined, defaultTimeouts, streaming)

/** The body arrives in pieces, then the connection closes (which ends a body read until close). */
const deliver = (exchange: Exchange, body: Buffer) => {
  for (let i = 0; i < body.length; i += 1000) exchange.onBody(body.subarray(i, i + 1000))
  exchange.complete()
}

const collect = (stream: Stream.Stream<Uint8Array, HttpError.HttpError>) =>
  Effect.map(Stream.runCollect(stream), (chunks) => Buffer.concat(Chunk.toReadonlyArray(chunks)))

describe("Exchange: transfer codings", () => {
  it.live("a buffered body's transfer coding is undone", () =>
    Effect.gen(function*() {
      const exchange = exchangeOf(false)
      const waiting = yield* Effect.fork(exchange.await<Response, HttpError.HttpError>(Phase.Complete))
      yield* Effect.yieldNow()
      exchange.onHead(200, "OK", Version.Http11, [], -1, ["gzip"])
      deliver(exchange, zlib.gzipSync(text))
      const response = yield* Fiber.join(waiting)
      expect(Buffer.from(response.content).equals(text)).toBe(true)
    }))

  it.live("transfer codings are undone before content codings (applied after them)", () =>
    Effect.gen(function*() {
      const exchange = exchangeOf(false)
      const waiting = yield* Effect.fork(exchange.await<Response, HttpError.HttpError>(Phase.Complete))
      yield* Effect.yieldNow()
      exchange.onHead(200, "OK", Version.Http11, ["Content-Encoding", "br"], -1, ["gzip"])
      deliver(exchange, zlib.gzipSync(zlib.brotliCompressSync(text)))
      const response = yield* Fiber.join(waiting)
      expect(Buffer.from(response.content).equals(text)).toBe(true)
    }))

  it.live("a streamed body: `stream` undoes both, `raw` only the transfer coding", () =>
    Effect.gen(function*() {
      const brotli = zlib.brotliCompressSync(text)
      const wire = zlib.gzipSync(brotli)
      const open = () => {
        const exchange = exchangeOf(true)
        exchange.onHead(200, "OK", Version.Http11, ["Content-Encoding", "br"], -1, ["gzip"])
        return { exchange, response: exchange.streamingResponse() as StreamingResponse }
      }
      const decoded = open()
      const decoding = yield* Effect.fork(collect(decoded.response.stream))
      deliver(decoded.exchange, wire)
      expect((yield* Fiber.join(decoding)).equals(text)).toBe(true)

      const raw = open()
      const reading = yield* Effect.fork(collect(raw.response.raw))
      deliver(raw.exchange, wire)
      expect((yield* Fiber.join(reading)).equals(brotli)).toBe(true)

      const whole = open()
      const rest = yield* Effect.fork(whole.response.read)
      yield* Effect.yieldNow()
      deliver(whole.exchange, wire)
      expect(Buffer.from((yield* Fiber.join(rest)).content).equals(text)).toBe(true)
    }))
})
