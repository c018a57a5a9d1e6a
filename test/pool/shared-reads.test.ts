/**
 * Plain HTTP/1.1 connections read into one buffer shared by every socket, and keep a copy of the body bytes they
 * hand on. These tests send bodies whose every byte is known and check each one arrives intact: a body chunk that
 * were only a view into the shared buffer would be overwritten by the next read, of that socket or another.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { Pool } from "httpfx"
import { httpServer } from "../utils/servers.js"

/** Bytes that differ from one position to the next and between bodies (`seed`), so no misplaced byte goes unseen. */
const pattern = (size: number, seed: number): Buffer => {
  const out = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7 + (i >> 10)) & 0xff
  return out
}

const bodies = new Map<string, Buffer>([
  ["/small", pattern(1000, 1)],
  ["/100k", pattern(100 * 1024, 2)],
  // Over the size a buffered body is preallocated for: copied piece by piece, joined at the end.
  ["/3m", pattern(3 * 1024 * 1024, 3)],
  ["/2m-a", pattern(2 * 1024 * 1024, 4)],
  ["/2m-b", pattern(2 * 1024 * 1024, 5)],
  ["/2m-c", pattern(2 * 1024 * 1024, 6)],
  ["/2m-d", pattern(2 * 1024 * 1024, 7)],
  ["/8m", pattern(8 * 1024 * 1024, 8)]
])

const server = () =>
  httpServer((req, res) => {
    const path = req.url!.split("?")[0]!
    if (path === "/paced") {
      // Pieces of 300 KiB with a pause after each: every read takes one piece, a bulk read that does not fill a slab.
      const body = bodies.get("/8m")!
      res.setHeader("Content-Length", String(body.length))
      const piece = 300 * 1024
      const next = (offset: number): void => {
        if (offset >= body.length) {
          res.end()
          return
        }
        res.write(body.subarray(offset, offset + piece))
        setTimeout(() => next(offset + piece), 3)
      }
      next(0)
      return
    }
    const body = bodies.get(path.replace("/chunked", ""))!
    if (path.startsWith("/chunked")) {
      // No Content-Length: chunked framing, written in uneven pieces.
      let offset = 0
      let step = 1
      while (offset < body.length) {
        const end = Math.min(body.length, offset + step * 4099)
        res.write(body.subarray(offset, end))
        offset = end
        step = (step % 13) + 1
      }
      res.end()
      return
    }
    res.setHeader("Content-Length", String(body.length))
    res.end(body)
  })

describe("Pool: shared read buffer", () => {
  it.scopedLive("buffered bodies arrive byte for byte: small, preallocated, joined from pieces, chunked", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const pool = yield* Pool.make()
      for (const path of ["/small", "/100k", "/3m", "/chunked/100k", "/chunked/3m"]) {
        const response = yield* pool.request("GET", `${url}${path}`)
        expect(Buffer.from(response.content).equals(bodies.get(path.replace("/chunked", ""))!), path).toBe(true)
      }
    }))

  it.scopedLive("streamed chunks stay intact while later reads reuse the buffer", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const pool = yield* Pool.make()
      for (const path of ["/3m", "/chunked/3m"]) {
        // Collect every chunk first and compare only at the end, after all later reads have happened.
        const chunks = yield* Effect.scoped(
          Effect.flatMap(pool.stream("GET", `${url}${path}`), (response) => Stream.runCollect(response.stream))
        )
        const whole = Buffer.concat(Chunk.toReadonlyArray(chunks))
        expect(whole.equals(bodies.get("/3m")!), path).toBe(true)
      }
    }))

  it.scopedLive("four connections streaming at once, their reads interleaved on the one buffer, each gets its own bytes", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const pool = yield* Pool.make({ maxConnections: 4 })
      const paths = ["/2m-a", "/2m-b", "/chunked/2m-c", "/2m-d"]
      const results = yield* Effect.all(
        paths.map((path) =>
          Effect.scoped(Effect.flatMap(pool.stream("GET", `${url}${path}`), (response) =>
            // A slow reader for one of them, so the others' reads land in between.
            Stream.runCollect(
              path === "/2m-a" ? Stream.tap(response.stream, () => Effect.sleep("1 millis")) : response.stream
            )))
        ),
        { concurrency: "unbounded" }
      )
      results.forEach((chunks, i) => {
        const whole = Buffer.concat(Chunk.toReadonlyArray(chunks))
        expect(whole.equals(bodies.get(paths[i]!.replace("/chunked", ""))!), paths[i]).toBe(true)
      })
      const buffered = yield* Effect.all(
        paths.map((path) => pool.request("GET", `${url}${path}`)),
        { concurrency: "unbounded" }
      )
      buffered.forEach((response, i) => {
        expect(Buffer.from(response.content).equals(bodies.get(paths[i]!.replace("/chunked", ""))!), paths[i]).toBe(
          true
        )
      })
    }))

  it.scopedLive("a body streamed in bulk reads into slabs: chunks are disjoint views, no memory is wasted, no byte changes", () =>
    Effect.gen(function*() {
      const { url } = yield* server()
      const pool = yield* Pool.make()
      const body = bodies.get("/8m")!
      // A reader that pauses now and then lets the kernel fill up, so reads come in bulk and as large as the room
      // left in the slab; a paced server makes reads that leave room, so the next read shares the slab.
      for (const path of ["/8m", "/paced", "/8m"]) {
        let seen = 0
        const chunks = yield* Effect.scoped(
          Effect.flatMap(pool.stream("GET", `${url}${path}`), (response) =>
            Stream.runCollect(
              path === "/8m" ? Stream.tap(response.stream, () => ++seen % 4 === 1 ? Effect.sleep("5 millis") : Effect.void) : response.stream
            ))
        )
        const all = Chunk.toReadonlyArray(chunks)
        expect(Buffer.concat(all).equals(body), path).toBe(true)
        const byMemory = new Map<ArrayBufferLike, Array<Uint8Array>>()
        for (const chunk of all) {
          const views = byMemory.get(chunk.buffer) ?? []
          views.push(chunk)
          byMemory.set(chunk.buffer, views)
        }
        if (path === "/8m") {
          // Reads larger than the shared read buffer (256 KiB): fewer chunks for the reader to go through.
          expect(Math.max(...all.map((chunk) => chunk.byteLength)), path).toBeGreaterThan(256 * 1024)
        } else {
          expect([...byMemory.values()].some((views) => views.length > 1), path).toBe(true)
        }
        for (const views of byMemory.values()) {
          // Chunks of one slab never hold the same bytes twice.
          const sorted = [...views].sort((a, b) => a.byteOffset - b.byteOffset)
          for (let i = 1; i < sorted.length; i++) {
            expect(sorted[i - 1]!.byteOffset + sorted[i - 1]!.byteLength, path).toBeLessThanOrEqual(sorted[i]!.byteOffset)
          }
        }
        // The last slab is no larger than what was left of the body: the last chunk ends where its memory ends.
        const last = all[all.length - 1]!
        expect(last.byteOffset + last.byteLength, path).toBe(last.buffer.byteLength)
        // So the chunks keep alive the body and the unused end of each earlier slab (under a quarter of it).
        const kept = [...byMemory.keys()].reduce((sum, memory) => sum + memory.byteLength, 0)
        expect(kept, path).toBeLessThanOrEqual(body.length * 1.34)
      }
    }))
})
