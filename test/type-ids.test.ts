/**
 * Data types carry a TypeId and a guard, and the pool is a service with a layer, as Effect's own modules are.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Client, Pool, Response, Transport } from "httpfx"
import { eventually, httpServer } from "./utils/servers.js"

const hello = () => httpServer((_req, res) => res.end("hello"))

describe("Response.isResponse and Response.isStreamingResponse", () => {
  it.scopedLive("tell a buffered response from a streaming one, over the pool", () =>
    Effect.gen(function*() {
      const server = yield* hello()
      const pool = yield* Pool.make()
      const buffered = yield* pool.request("GET", server.url)
      const streaming = yield* pool.stream("GET", server.url)
      expect([Response.isResponse(buffered), Response.isStreamingResponse(buffered)]).toEqual([true, false])
      expect([Response.isResponse(streaming), Response.isStreamingResponse(streaming)]).toEqual([false, true])
      expect(Response.isResponse(yield* streaming.read)).toBe(true)
    }))

  it.scoped("hold for responses of a mock transport, and nothing else passes", () =>
    Effect.gen(function*() {
      const client = yield* Client.make({ transport: Transport.mock(() => new globalThis.Response("ok")) })
      expect(Response.isResponse(yield* client.get("http://api.test/"))).toBe(true)
      expect(Response.isStreamingResponse(yield* client.stream("GET", "http://api.test/"))).toBe(true)
      for (const other of [null, undefined, "response", { status: 200 }, new globalThis.Response("ok")]) {
        expect([Response.isResponse(other), Response.isStreamingResponse(other)]).toEqual([false, false])
      }
    }))
})

describe("Pool.Pool and Pool.layer", () => {
  it.live("the layer provides a pool that requests go through, and closes it with the layer", () =>
    Effect.gen(function*() {
      const server = yield* hello()
      const { connections, text } = yield* Effect.provide(
        Effect.gen(function*() {
          const pool = yield* Pool.Pool
          const response = yield* pool.request("GET", server.url)
          return { connections: (yield* pool.connections).length, text: response.text }
        }),
        Layer.orDie(Pool.layer({ maxConnections: 2 }))
      )
      expect([text, connections]).toEqual(["hello", 1])
      yield* eventually(() => server.openSockets() === 0, 2_000, "the layer's pool to close its connection")
    }).pipe(Effect.scoped))

  it.effect("the layer fails as make does when an option cannot work", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(Pool.layer({ maxConnections: 0 })).pipe(Effect.scoped))
      expect(error._tag).toBe("LocalProtocolError")
    }))
})
