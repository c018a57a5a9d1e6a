/**
 * A web FormData sent through Platform.layer (`HttpClientRequest.bodyFormData`) goes out chunked as its files are
 * read, never buffered whole: the server has the first parts while a file is still being read, an 8 MiB Blob
 * arrives in pieces, names and filenames are escaped as browsers (and undici) write them, the body can be sent again
 * for a 307, and a file that cannot be read fails the request as any failing body stream does.
 */
import { HttpClient, HttpClientError, HttpClientRequest } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Platform } from "httpfx"
import { awaitMarker, entriesOf, fileBlob, parseUpload, uploadServer } from "../utils/multipart.js"
import type { UploadServer } from "../utils/multipart.js"
import { httpServer } from "../utils/servers.js"

const bytes = (s: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(s)

/** A File whose contents are read through `stream()`, as a file-backed Blob's are; a FormData keeps it as it is. */
class StreamedFile extends File {
  constructor(private readonly body: () => ReadableStream<Uint8Array<ArrayBuffer>>, name: string, type: string) {
    super([], name, { type })
  }
  override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    return this.body()
  }
}

/** A file that gives its first chunk, then its last only once the server has seen the first. */
const gatedFile = (upload: UploadServer) =>
  new StreamedFile(() => {
    let step = 0
    return new ReadableStream<Uint8Array<ArrayBuffer>>({
      async pull(controller) {
        if (step++ === 0) return controller.enqueue(bytes("FIRST-CHUNK;"))
        await awaitMarker(upload)
        controller.enqueue(bytes("LAST-CHUNK"))
        controller.close()
      }
    })
  }, "gated.txt", "text/plain")

const post = (url: string, form: FormData) =>
  HttpClient.execute(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyFormData(form)))

const MiB = 1024 * 1024

describe("Platform FormData bodies: streamed", () => {
  it.scopedLive("a File part is read as the body goes out: the server has the field and its first chunk first", () =>
    Effect.gen(function*() {
      const upload = yield* uploadServer("FIRST-CHUNK;")
      const form = new FormData()
      form.append("note", "hello")
      form.append("doc", gatedFile(upload))
      const response = yield* post(`${upload.server.url}/upload`, form)
      expect(response.status).toBe(200)
      expect(yield* entriesOf(yield* parseUpload(upload.uploads[0]!))).toEqual([
        ["note", "hello"],
        ["doc", ["gated.txt", "text/plain", Buffer.from("FIRST-CHUNK;LAST-CHUNK")]]
      ])
    }).pipe(Effect.provide(Platform.layer())))

  it.scopedLive("an 8 MiB file-backed Blob part goes chunked, in many pieces, and arrives byte for byte", () =>
    Effect.gen(function*() {
      const upload = yield* uploadServer("never sent")
      const data = new Uint8Array(8 * MiB).map((_, i) => (i * 31) % 256)
      const form = new FormData()
      form.append("title", "big")
      form.append("big", yield* fileBlob(data, "application/x-big"), "big.bin")
      yield* post(`${upload.server.url}/upload`, form)
      const received = upload.uploads[0]!
      expect(received.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/)
      expect(received.headers["transfer-encoding"]).toBe("chunked")
      expect(received.headers["content-length"]).toBeUndefined()
      expect(received.pieces).toBeGreaterThan(8)
      const parsed = yield* parseUpload(received)
      expect(parsed.get("title")).toBe("big")
      const big = parsed.get("big") as File
      expect([big.name, big.type, big.size]).toEqual(["big.bin", "application/x-big", data.length])
      expect(Buffer.compare(Buffer.from(yield* Effect.promise(() => big.arrayBuffer())), data)).toBe(0)
    }).pipe(Effect.provide(Platform.layer())))

  it.scopedLive("quotes, CR, LF and non-ASCII in names, filenames and values reach the server as undici's would", () =>
    Effect.gen(function*() {
      const upload = yield* uploadServer("never sent")
      const form = new FormData()
      form.append("quote\"d", "line\nbreak\rand\r\nboth")
      form.append("cr\rlf\ncrlf\r\n", "plain")
      form.append("naïve ✓", "valeur é ✓")
      form.append("file\"\r\n", new Blob([bytes("x")], { type: "text/plain" }), "we\"ird\r\nname ✓.txt")
      yield* post(`${upload.server.url}/upload`, form)
      // What a server reads from our body is what it reads from the runtime's own (undici's) encoding of the form.
      const fromUndici = yield* Effect.promise(() => new Response(form).formData())
      expect(yield* entriesOf(yield* parseUpload(upload.uploads[0]!))).toEqual(yield* entriesOf(fromUndici))
    }).pipe(Effect.provide(Platform.layer())))

  it.scopedLive("the body is sent again when httpfx follows a 307 (it can be re-read)", () =>
    Effect.gen(function*() {
      const upload = yield* uploadServer("never sent")
      const redirect = yield* httpServer((req, res) => {
        req.resume()
        req.on("end", () => res.writeHead(307, { location: `${upload.server.url}/moved` }).end())
      })
      const form = new FormData()
      form.append("note", "again")
      form.append("doc", new Blob([bytes("contents")]), "d.txt")
      const response = yield* post(`${redirect.url}/upload`, form)
      expect(response.status).toBe(200)
      expect(yield* entriesOf(yield* parseUpload(upload.uploads[0]!))).toEqual([
        ["note", "again"],
        ["doc", ["d.txt", "application/octet-stream", Buffer.from("contents")]]
      ])
    }).pipe(Effect.provide(Platform.layer({ followRedirects: true }))))

  it.scopedLive("a File that cannot be read fails the request: RequestError Encode, its error as cause", () =>
    Effect.gen(function*() {
      const upload = yield* uploadServer("never sent")
      const broken = new Error("disk gone")
      const form = new FormData()
      form.append("doc", new StreamedFile(() => new ReadableStream({ pull: (c) => c.error(broken) }), "b.txt", ""))
      const error = yield* Effect.flip(post(`${upload.server.url}/upload`, form))
      expect(error).toBeInstanceOf(HttpClientError.RequestError)
      expect(error.reason).toBe("Encode")
      // As for every other request body stream that fails.
      expect(error.description).toBe("the request body stream failed: disk gone")
      // The cause is the stream's error (Effect may hand it out behind a proxy that adds its span).
      expect(error.cause).toMatchObject({ message: broken.message })
    }).pipe(Effect.provide(Platform.layer())))
})
