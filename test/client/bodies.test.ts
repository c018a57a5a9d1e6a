/**
 * Request bodies through the client, as a loopback server receives them: json, urlencoded forms, multipart (parsed
 * on the server side by the web platform's own parser), raw content, framing (Content-Length or chunked), and the
 * failures an unsendable body gives.
 */
import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, Stream } from "effect"
import { Client } from "httpfx"
import type * as http from "node:http"
import { httpServer } from "../utils/servers.js"

// ---- helpers -------------------------------------------------------------------------------------------------------

interface Received {
  readonly method: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
}

/** A server that records every request it receives, body included, and answers 200. */
const recordingServer = () =>
  Effect.suspend(() => {
    const received: Array<Received> = []
    return Effect.map(
      httpServer((req, res) => {
        const parts: Array<Buffer> = []
        req.on("data", (part: Buffer) => parts.push(part))
        req.on("end", () => {
          received.push({ method: req.method!, headers: req.headers, body: Buffer.concat(parts) })
          res.end("ok")
        })
      }),
      (server) => ({ server, received })
    )
  })

/** Parse a received multipart body with the web platform's parser, as a server framework would. */
const parseForm = (received: Received) =>
  Effect.promise(() =>
    new globalThis.Request("http://parser.invalid/", {
      method: "POST",
      headers: { "content-type": received.headers["content-type"]! },
      body: new Uint8Array(received.body)
    }).formData()
  )

const bytes = (s: string) => new TextEncoder().encode(s)

class BodyBroke extends Data.TaggedError("BodyBroke")<{ readonly reason: string }> {}

// ---- tests ---------------------------------------------------------------------------------------------------------

describe("Client request bodies on the wire", () => {
  it.scopedLive("json: serialized, with Content-Type application/json and a Content-Length", () =>
    Effect.gen(function*() {
      const { received, server } = yield* recordingServer()
      const client = yield* Client.make()
      yield* client.post(`${server.url}/json`, { json: { a: 1, list: [true, null], s: "é" } })
      expect(received[0]!.headers["content-type"]).toBe("application/json")
      expect(JSON.parse(received[0]!.body.toString("utf8"))).toEqual({ a: 1, list: [true, null], s: "é" })
      expect(received[0]!.headers["content-length"]).toBe(String(received[0]!.body.length))
    }))

  it.scopedLive("form: urlencoded, arrays as repeated fields", () =>
    Effect.gen(function*() {
      const { received, server } = yield* recordingServer()
      const client = yield* Client.make()
      yield* client.post(`${server.url}/form`, { form: { name: "a b", n: 2, tags: ["x", "y"] } })
      expect(received[0]!.headers["content-type"]).toBe("application/x-www-form-urlencoded")
      expect(received[0]!.body.toString()).toBe("name=a+b&n=2&tags=x&tags=y")
    }))

  it.scopedLive("files with form fields: multipart that a standard parser reads back, filenames and types kept", () =>
    Effect.gen(function*() {
      const { received, server } = yield* recordingServer()
      const client = yield* Client.make()
      yield* client.post(`${server.url}/upload`, {
        form: { title: "report", n: 3 },
        files: {
          doc: { filename: "report.txt", content: "hello file", contentType: "text/plain" },
          bare: bytes("raw bytes")
        }
      })
      const request = received[0]!
      expect(request.headers["content-type"]).toMatch(/^multipart\/form-data; boundary=/)
      // Every part is bytes, so the whole body has a known length.
      expect(request.headers["content-length"]).toBe(String(request.body.length))
      const form = yield* parseForm(request)
      expect(form.get("title")).toBe("report")
      expect(form.get("n")).toBe("3")
      const doc = form.get("doc") as File
      expect(doc.name).toBe("report.txt")
      expect(doc.type).toBe("text/plain")
      expect(yield* Effect.promise(() => doc.text())).toBe("hello file")
      // A bare value is named "upload", typed application/octet-stream.
      const bare = form.get("bare") as File
      expect(bare.name).toBe("upload")
      expect(bare.type).toBe("application/octet-stream")
      expect(yield* Effect.promise(() => bare.text())).toBe("raw bytes")
    }))

  it.scopedLive("a Stream file with a size: the multipart body is sent with a Content-Length", () =>
    Effect.gen(function*() {
      const { received, server } = yield* recordingServer()
      const client = yield* Client.make()
      const content = Stream.make(bytes("part one, "), bytes("part two"))
      yield* client.post(`${server.url}/upload`, { files: { f: { filename: "s.bin", content, size: 18 } } })
      const request = received[0]!
      expect(request.headers["content-length"]).toBe(String(request.body.length))
      expect(request.headers["transfer-encoding"]).toBeUndefined()
      const file = (yield* parseForm(request)).get("f") as File
      expect(file.name).toBe("s.bin")
      expect(yield* Effect.promise(() => file.text())).toBe("part one, part two")
    }))

  it.scopedLive("a Stream file without a size: the multipart body goes chunked", () =>
    Effect.gen(function*() {
      const { received, server } = yield* recordingServer()
      const client = yield* Client.make()
      yield* client.post(`${server.url}/upload`, { files: { f: Stream.make(bytes("ab"), bytes("cd")) } })
      const request = received[0]!
      expect(request.headers["transfer-encoding"]).toBe("chunked")
      expect(request.headers["content-length"]).toBeUndefined()
      const file = (yield* parseForm(request)).get("f") as File
      expect(file.name).toBe("upload")
      expect(yield* Effect.promise(() => file.text())).toBe("abcd")
    }))

  it.scopedLive("content: a Uint8Array and a string go with a Content-Length and no Content-Type", () =>
    Effect.gen(function*() {
      const { received, server } = yield* recordingServer()
      const client = yield* Client.make()
      yield* client.put(`${server.url}/bytes`, { content: new Uint8Array([0, 1, 2, 255]) })
      yield* client.put(`${server.url}/string`, { content: "héllo" })
      expect([...received[0]!.body]).toEqual([0, 1, 2, 255])
      expect(received[0]!.headers["content-length"]).toBe("4")
      expect(received[0]!.headers["content-type"]).toBeUndefined()
      expect(received[1]!.body.toString("utf8")).toBe("héllo")
      expect(received[1]!.headers["content-length"]).toBe("6")
    }))

  it.scopedLive("content: a Stream goes chunked, every chunk in order", () =>
    Effect.gen(function*() {
      const { received, server } = yield* recordingServer()
      const client = yield* Client.make()
      const content = Stream.range(1, 50).pipe(Stream.map((i) => bytes(`${i},`)))
      yield* client.post(`${server.url}/stream`, { content })
      expect(received[0]!.headers["transfer-encoding"]).toBe("chunked")
      expect(received[0]!.body.toString()).toBe(Array.from({ length: 50 }, (_, i) => `${i + 1},`).join(""))
    }))

  it.scopedLive("a caller's Content-Type wins over the encoder's", () =>
    Effect.gen(function*() {
      const { received, server } = yield* recordingServer()
      const client = yield* Client.make({ headers: { "Content-Type": "text/x-client" } })
      yield* client.post(`${server.url}/a`, { json: [1], headers: { "Content-Type": "application/vnd.api+json" } })
      yield* client.post(`${server.url}/b`, { form: { a: "1" } })
      expect(received[0]!.headers["content-type"]).toBe("application/vnd.api+json")
      expect(received[0]!.body.toString()).toBe("[1]")
      // A client-wide Content-Type counts as the caller's too.
      expect(received[1]!.headers["content-type"]).toBe("text/x-client")
    }))

  it.scopedLive("a failing body Stream fails the request with that stream's own error, typed", () =>
    Effect.gen(function*() {
      const { server } = yield* recordingServer()
      const client = yield* Client.make()
      const content: Stream.Stream<Uint8Array, BodyBroke> = Stream.concat(
        Stream.make(bytes("first chunk")),
        Stream.fail(new BodyBroke({ reason: "disk gone" }))
      )
      const request = client.post(`${server.url}/broken`, { content })
      // The error channel names the stream's error next to HttpError: catchTag on it type-checks.
      const caught = yield* request.pipe(
        Effect.as("sent"),
        Effect.catchTag("BodyBroke", (e) => Effect.succeed(`caught: ${e.reason}`))
      )
      expect(caught).toBe("caught: disk gone")
      // The same through files, and through stream.
      const viaFiles = yield* Effect.flip(
        client.post(`${server.url}/broken`, { files: { f: Stream.fail(new BodyBroke({ reason: "file" })) } })
      )
      expect(viaFiles).toEqual(new BodyBroke({ reason: "file" }))
      const viaStream = yield* Effect.flip(Effect.scoped(client.stream("PUT", `${server.url}/broken`, { content })))
      expect(viaStream._tag).toBe("BodyBroke")
      // The pool is not poisoned.
      expect((yield* client.get(`${server.url}/after`)).status).toBe(200)
    }))

  it.scopedLive("a json body that cannot be encoded (BigInt) fails with LocalProtocolError before sending", () =>
    Effect.gen(function*() {
      const { received, server } = yield* recordingServer()
      const client = yield* Client.make()
      const error = yield* Effect.flip(client.post(`${server.url}/big`, { json: { n: 10n } }))
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain("BigInt")
      expect(error.request?.method).toBe("POST")
      expect(received).toEqual([])
      expect(server.acceptedSockets()).toBe(0)
    }))
})
