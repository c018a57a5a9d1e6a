/**
 * A web FormData as a multipart body (what Platform sends for HttpBody.formData): the bytes browsers and undici
 * write, one chunk per entry, Blobs read in pieces, and a body that can be sent again.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { encodeFormData } from "../../src/internal/client/multipart.js"
import type { Body } from "../../src/internal/message/request.js"
import { fileBlob } from "../utils/multipart.js"

const latin1 = (chunks: ReadonlyArray<Uint8Array>) => chunks.map((c) => Buffer.from(c).toString("latin1")).join("")

/** The chunks the body stream gives, in order. */
const chunksOf = (body: Body): Effect.Effect<ReadonlyArray<Uint8Array>, unknown> => {
  if (body._tag !== "Stream") throw new Error(`expected a Stream body, got ${body._tag}`)
  return Effect.map(Stream.runCollect(body.stream), Chunk.toReadonlyArray)
}

const boundaryOf = (contentType: string) => /boundary=(.+)$/.exec(contentType)![1]!

/** undici's own encoding of the form (Node's Response), with its boundary replaced by `boundary`. */
const undiciBytes = (form: FormData, boundary: string) =>
  Effect.promise(async () => {
    const response = new Response(form)
    const theirs = boundaryOf(response.headers.get("content-type")!)
    return Buffer.from(await response.arrayBuffer()).toString("latin1").split(theirs).join(boundary)
  })

describe("encodeFormData", () => {
  it.effect("writes the bytes undici writes: escaped names and filenames, CRLF-normalized values, types", () =>
    Effect.gen(function*() {
      const form = new FormData()
      form.append("quote\"d", "line\nbreak\rand\r\nboth")
      form.append("cr\rlf\ncrlf\r\n", "plain")
      form.append("naïve ✓", "valeur é ✓")
      form.append("typed", new Blob(["x"], { type: "text/plain" }), "we\"ird\r\nname ✓.txt")
      form.append("untyped", new Blob([new Uint8Array([0, 255, 13, 10])]), "b.bin")
      form.append("unnamed", new Blob(["y"]))
      const { body, contentType } = encodeFormData(form)
      const boundary = boundaryOf(contentType)
      expect(latin1(yield* chunksOf(body))).toBe(yield* undiciBytes(form, boundary))
    }))

  it.effect("a File with an empty name keeps filename=\"\" and its part headers, as browsers send it", () =>
    Effect.gen(function*() {
      const form = new FormData()
      form.append("f", new Blob([]), "")
      const { body } = encodeFormData(form)
      expect(latin1(yield* chunksOf(body))).toContain(
        "Content-Disposition: form-data; name=\"f\"; filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n"
      )
    }))

  it.effect("each entry is a chunk of its own and the closing delimiter another", () =>
    Effect.gen(function*() {
      const form = new FormData()
      form.append("a", "1")
      form.append("b", "x".repeat(1000))
      const { body, contentType } = encodeFormData(form)
      const chunks = (yield* chunksOf(body)).map((c) => Buffer.from(c).toString("latin1"))
      expect(chunks).toEqual([
        expect.stringMatching(/name="a"\r\n\r\n1\r\n$/),
        expect.stringMatching(/name="b"\r\n\r\nx{1000}\r\n$/),
        `--${boundaryOf(contentType)}--\r\n`
      ])
    }))

  it.scoped("an 8 MiB file-backed Blob is read in pieces: no chunk holds it whole", () =>
    Effect.gen(function*() {
      const size = 8 * 1024 * 1024
      const form = new FormData()
      form.append("big", yield* fileBlob(new Uint8Array(size).fill(7)), "big.bin")
      const { body } = encodeFormData(form)
      expect(body).toMatchObject({ _tag: "Stream", length: undefined })
      const chunks = yield* chunksOf(body)
      expect(chunks.length).toBeGreaterThan(8)
      expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(1024 * 1024)
      expect(chunks.reduce((n, c) => n + c.length, 0)).toBeGreaterThan(size)
    }))

  it.effect("the body is replayable: it gives the same bytes again, whatever happens to the FormData after", () =>
    Effect.gen(function*() {
      const form = new FormData()
      form.append("a", "1")
      form.append("f", new Blob(["contents"]), "f.txt")
      const { body } = encodeFormData(form)
      expect(body).toMatchObject({ _tag: "Stream", replayable: true })
      const first = latin1(yield* chunksOf(body))
      form.append("late", "not sent")
      form.delete("a")
      expect(latin1(yield* chunksOf(body))).toBe(first)
      expect(first).not.toContain("late")
    }))

  it("picks a new random boundary for every body", () => {
    const form = new FormData()
    const boundaries = new Set(Array.from({ length: 20 }, () => encodeFormData(form).contentType))
    expect(boundaries.size).toBe(20)
  })
})
