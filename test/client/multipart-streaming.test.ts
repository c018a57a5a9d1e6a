/**
 * Multipart uploads whose file parts are Streams go out as they are read: the server has the first parts while the
 * caller's stream is still open, and a large file never sits in the client's memory whole. (All-in-memory multipart
 * keeps its Content-Length: see bodies.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Client } from "httpfx"
import { awaitMarker, entriesOf, parseUpload, uploadServer } from "../utils/multipart.js"
import type { UploadServer } from "../utils/multipart.js"

const bytes = (s: string) => new TextEncoder().encode(s)

/** A file stream that sends its first chunk, then its last only once the server has seen the first. */
const gatedFile = (upload: UploadServer) =>
  Stream.concat(
    Stream.make(bytes("FIRST-CHUNK;")),
    Stream.fromEffect(Effect.as(Effect.tryPromise(() => awaitMarker(upload)), bytes("LAST-CHUNK")))
  )

const MiB = 1024 * 1024

/** `size` bytes of a known pattern, made 64 KiB at a time as the stream is pulled. */
const generated = (size: number) =>
  Stream.map(Stream.range(0, size / (64 * 1024) - 1), (i) => new Uint8Array(64 * 1024).fill(i % 251))

describe("Client files: streamed parts", () => {
  it.scopedLive("a Stream file part: the server has the field and the file's first chunk before the stream ends", () =>
    Effect.gen(function*() {
      const upload = yield* uploadServer("FIRST-CHUNK;")
      const client = yield* Client.make()
      const response = yield* client.post(`${upload.server.url}/upload`, {
        form: { note: "hello" },
        files: { doc: { filename: "a.txt", content: gatedFile(upload), contentType: "text/plain" } }
      })
      expect(response.status).toBe(200)
      expect(upload.uploads[0]!.headers["transfer-encoding"]).toBe("chunked")
      expect(yield* entriesOf(yield* parseUpload(upload.uploads[0]!))).toEqual([
        ["note", "hello"],
        ["doc", ["a.txt", "text/plain", Buffer.from("FIRST-CHUNK;LAST-CHUNK")]]
      ])
    }))

  it.scopedLive("with a declared size the body has a Content-Length and is still sent as the stream is read", () =>
    Effect.gen(function*() {
      const upload = yield* uploadServer("FIRST-CHUNK;")
      const client = yield* Client.make()
      yield* client.post(`${upload.server.url}/upload`, {
        files: { doc: { filename: "a.bin", content: gatedFile(upload), size: 22 } }
      })
      const received = upload.uploads[0]!
      expect(received.headers["content-length"]).toBe(String(received.body.length))
      expect(yield* entriesOf(yield* parseUpload(received))).toEqual([
        ["doc", ["a.bin", "application/octet-stream", Buffer.from("FIRST-CHUNK;LAST-CHUNK")]]
      ])
    }))

  it.scopedLive("an 8 MiB Stream file arrives byte for byte, next to in-memory parts", () =>
    Effect.gen(function*() {
      const upload = yield* uploadServer("never sent")
      const client = yield* Client.make()
      yield* client.post(`${upload.server.url}/upload`, {
        form: { title: "big" },
        files: [
          ["small", { filename: "s.txt", content: "tiny" }],
          ["big", { filename: "b.bin", content: generated(8 * MiB) }]
        ]
      })
      const received = upload.uploads[0]!
      expect(received.headers["transfer-encoding"]).toBe("chunked")
      const form = yield* parseUpload(received)
      expect(form.get("title")).toBe("big")
      expect(yield* Effect.promise(() => (form.get("small") as File).text())).toBe("tiny")
      const big = Buffer.from(yield* Effect.promise(() => (form.get("big") as File).arrayBuffer()))
      const expected = Buffer.concat(Array.from({ length: 128 }, (_, i) => Buffer.alloc(64 * 1024, i % 251)))
      expect(big.length).toBe(8 * MiB)
      expect(Buffer.compare(big, expected)).toBe(0)
    }))
})
