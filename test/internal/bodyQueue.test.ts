// The body queue of an exchange: bytes come out in order and whole however they were cut and however a reader takes
// them (into a buffer of its own, as chunks, or joined), and the limit a body read whole is held to.
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import {
  addChunk,
  bodyLimit,
  keepInWhole,
  NO_CHUNKS,
  takeContent,
  takeInto,
  takeQueued
} from "../../src/internal/exchange/bodyQueue.js"
import type { BodyQueue } from "../../src/internal/exchange/bodyQueue.js"
import { maxBufferSize } from "../../src/internal/wire/bodyDecoding.js"

const emptyQueue = (): BodyQueue => ({ chunks: NO_CHUNKS, size: 0, chunkOffset: 0, whole: undefined })

const bytesOf = (n: number, seed: number): Buffer => {
  const out = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) out[i] = (seed + i * 31) & 0xff
  return out
}

describe("body queue", () => {
  it("reads into a buffer, then as chunks: every byte once, in order, whatever the cuts", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 0, max: 5 }),
        (sizes, bufferSize, reads) => {
          const queue = emptyQueue()
          const sent: Array<Buffer> = sizes.map((n, i) => bytesOf(n, i))
          for (const chunk of sent) addChunk(queue, chunk)
          const whole = Buffer.concat(sent)
          expect(queue.size).toBe(whole.length)
          const received: Array<Buffer> = []
          const buffer = Buffer.alloc(bufferSize)
          for (let i = 0; i < reads; i++) {
            const n = takeInto(queue, buffer)
            received.push(Buffer.from(buffer.subarray(0, n)))
          }
          received.push(...takeQueued(queue))
          expect(Buffer.concat(received).equals(whole)).toBe(true)
          expect(queue.size).toBe(0)
          expect(queue.chunks).toBe(NO_CHUNKS)
        }
      ),
      { seed: 19, numRuns: 200 }
    )
  })

  it("keeps the size of what is left exact after a partial read into a buffer", () => {
    const queue = emptyQueue()
    addChunk(queue, bytesOf(10, 1))
    addChunk(queue, bytesOf(10, 2))
    expect(takeInto(queue, Buffer.alloc(15))).toBe(15)
    expect(queue.size).toBe(5)
    expect(Buffer.concat(takeQueued(queue)).equals(bytesOf(10, 2).subarray(5))).toBe(true)
  })

  it("fills one buffer of the declared length with a body of declared length, and hands it over as it is", () => {
    const queue = emptyQueue()
    const body = bytesOf(1000, 3)
    for (let i = 0; i < body.length; i += 128) keepInWhole(queue, body.subarray(i, i + 128), body.length)
    expect(queue.chunks.length).toBe(1)
    const content = takeContent(queue)
    expect(content).toBe(queue.whole ?? content)
    expect(Buffer.from(content).equals(body)).toBe(true)
    expect(queue.whole).toBeUndefined()
    expect(queue.size).toBe(0)
  })

  it("joins the chunks of a body read whole", () => {
    const queue = emptyQueue()
    addChunk(queue, Buffer.from("ab"))
    addChunk(queue, Buffer.from("cd"))
    expect(Buffer.from(takeContent(queue)).toString()).toBe("abcd")
  })

  it("holds a body read whole to the platform's largest buffer too; a streamed one only to maxBodySize", () => {
    expect(bodyLimit(Infinity, true)).toBe(maxBufferSize())
    expect(bodyLimit(Infinity, false)).toBe(Infinity)
    expect(bodyLimit(1024, true)).toBe(1024)
    expect(bodyLimit(1024, false)).toBe(1024)
  })
})
