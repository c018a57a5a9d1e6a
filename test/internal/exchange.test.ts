// The bridge between a connection's events and the fiber reading a streamed body: the order in which reads, ends and
// failures reach stream pulls. Driven directly, without a socket, so the order of events is exact.
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream } from "effect"
import { ReadError } from "../../src/HttpError.js"
import { Exchange, Version } from "../utils/exchange.js"
import { defaultTimeouts } from "../../src/internal/core/timeouts.js"
import { parseTarget } from "../../src/internal/core/url.js"
import type { Target } from "../../src/internal/core/url.js"

const target = parseTarget("http://127.0.0.1:1/stream") as Target

const streamingExchange = (): Exchange => {
  const exchange = new Exchange("GET", target, "", undefined, false, undefined, defaultTimeouts, true)
  exchange.onHead(200, "OK", Version.Http11, [])
  return exchange
}

const bytes = (text: string): Buffer => Buffer.from(text, "latin1")

describe("Exchange: streamed body", () => {
  it.live("bytes read before a failure are delivered first; the next pull fails", () =>
    Effect.gen(function*() {
      const exchange = streamingExchange()
      const reader = yield* Effect.fork(exchange.pull())
      yield* Effect.yieldNow()
      exchange.onBody(bytes("partial"))
      exchange.fail(new ReadError({ message: "reset", request: exchange.requestInfo }))
      const first = yield* Fiber.join(reader)
      expect(Chunk.size(first)).toBe(1)
      const second = yield* Effect.flip(exchange.pull())
      expect(Option.map(second, (error) => error._tag)).toEqual(Option.some("ReadError"))
    }))

  it.live("the end of the body after reads in the same turn delivers them, then ends the stream", () =>
    Effect.gen(function*() {
      const exchange = streamingExchange()
      const collected = yield* Effect.fork(Stream.runCollect(Stream.repeatEffectChunkOption(
        Effect.suspend(() => exchange.pull())
      )))
      yield* Effect.yieldNow()
      exchange.onBody(bytes("x"))
      exchange.onBody(bytes("y"))
      exchange.complete()
      const all = yield* Fiber.join(collected)
      expect(Buffer.concat(Chunk.toReadonlyArray(all)).toString("latin1")).toBe("xy")
    }))
})
