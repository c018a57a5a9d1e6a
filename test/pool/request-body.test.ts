import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { Pool } from "httpfx"
import { eventually, httpServer } from "../utils/servers.js"

const echo = httpServer((request, response) => {
  const chunks: Array<Buffer> = []
  request.on("data", (chunk) => chunks.push(chunk))
  request.on("end", () => {
    response.setHeader("x-transfer-encoding", String(request.headers["transfer-encoding"]))
    response.setHeader("x-content-length", String(request.headers["content-length"]))
    response.end(Buffer.concat(chunks))
  })
})

const body = Stream.fromChunks(Chunk.of(new TextEncoder().encode("hello ")), Chunk.of(new TextEncoder().encode("world!")))

describe("a streamed body with a declared Content-Length", () => {
  it.scoped("is sent as is, without chunked framing", () =>
    Effect.gen(function*() {
      const server = yield* echo
      const pool = yield* Pool.make()
      const response = yield* pool.request("POST", `${server.url}/`, { content: body, headers: { "content-length": "12" } })
      expect(response.text).toBe("hello world!")
      expect(response.headers["x-content-length"]).toBe("12")
      expect(response.headers["x-transfer-encoding"]).toBe("undefined")
    }))

  it.scoped("fails with LocalProtocolError when the stream is shorter, and drops the connection", () =>
    Effect.gen(function*() {
      const server = yield* echo
      const pool = yield* Pool.make()
      const error = yield* Effect.flip(
        pool.request("POST", `${server.url}/`, { content: body, headers: { "content-length": "20" } })
      )
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain("ended after 12 of the 20 bytes")
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket closed")
      expect(yield* pool.connections).toHaveLength(0)
    }))

  it.scoped("fails with LocalProtocolError when the stream is longer", () =>
    Effect.gen(function*() {
      const server = yield* echo
      const pool = yield* Pool.make()
      const error = yield* Effect.flip(
        pool.request("POST", `${server.url}/`, { content: body, headers: { "content-length": "8" } })
      )
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain("more than the 8 bytes")
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket closed")
    }))
})

describe("a request Effect", () => {
  it.scoped("can be run many times, and concurrently, each run a new request", () =>
    Effect.gen(function*() {
      let seen = 0
      const server = yield* httpServer((request, response) => {
        seen++
        request.resume()
        request.on("end", () => response.end(String(seen)))
      })
      const pool = yield* Pool.make()
      const once = pool.request("POST", `${server.url}/`, { content: "abc" })
      const responses = yield* Effect.all([once, once, once], { concurrency: "unbounded" })
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200])
      const again = yield* once
      expect(again.request.method).toBe("POST")
      expect(seen).toBe(4)
    }))
})
