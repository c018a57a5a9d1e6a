import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import fc from "fast-check"
import type { BodyOptions, EncodeResult } from "../../src/internal/client/body.js"
import { encode, encodeWithBoundary } from "../../src/internal/client/body.js"
import type { Body } from "../../src/internal/message/request.js"
import { emptyBody } from "../../src/internal/message/request.js"

const B = "BOUNDARY"
const utf8 = new TextEncoder()
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

const ok = (result: EncodeResult) => {
  if ("error" in result) throw new Error(`expected a body, got the error: ${result.error}`)
  return result
}

const errorOf = (result: EncodeResult) => "error" in result ? result.error : undefined

const concat = (chunks: Iterable<Uint8Array>): Uint8Array => {
  const list = [...chunks]
  const out = new Uint8Array(list.reduce((n, c) => n + c.length, 0))
  let offset = 0
  for (const c of list) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}

/** Every byte the body would send. */
const collect = (body: Body): Effect.Effect<Uint8Array, unknown> =>
  body._tag === "Empty"
    ? Effect.succeed(new Uint8Array(0))
    : body._tag === "Bytes"
    ? Effect.succeed(body.bytes)
    : Effect.map(Stream.runCollect(body.stream), (chunks) => concat(Chunk.toReadonlyArray(chunks)))

// Typed Uint8Array<ArrayBuffer> by TypeScript's DOM lib; any Uint8Array works at runtime.
const formData = (bytes: Uint8Array, contentType: string) =>
  new Request("http://x/", {
    method: "POST",
    body: bytes as Uint8Array<ArrayBuffer>,
    headers: { "content-type": contentType }
  }).formData()

/** Entries in order: the DOM lib this project compiles with has no FormData iterator. */
const entriesOf = (form: FormData) => {
  const entries: Array<[string, FormDataEntryValue]> = []
  form.forEach((value, key) => entries.push([key, value]))
  return entries
}

/** Parse with undici's multipart parser (Node's web Request), which knows nothing of ours. */
const parse = (bytes: Uint8Array, contentType: string) =>
  Effect.promise(() =>
    formData(bytes, contentType)
  )

const streamOf = (...chunks: Array<string | Uint8Array>) =>
  Stream.fromIterable(chunks.map((c) => typeof c === "string" ? utf8.encode(c) : c))

const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i)

describe("encode: no body", () => {
  it("gives the empty body and no Content-Type, as one shared result", () => {
    const result = encode({})
    expect(result).toEqual({ body: emptyBody, contentType: undefined })
    expect(encode({ json: undefined, form: undefined, files: undefined, content: undefined })).toBe(result)
  })
})

describe("encode: content", () => {
  it("encodes a string as UTF-8 and leaves the Content-Type to the caller", () => {
    const result = ok(encode({ content: "héllo ☃" }))
    expect(result.contentType).toBeUndefined()
    expect(result.body).toEqual({ _tag: "Bytes", bytes: utf8.encode("héllo ☃") })
  })

  it("sends a Uint8Array as it is", () => {
    const bytes = new Uint8Array([0, 1, 255])
    const result = ok(encode({ content: bytes }))
    expect(result.contentType).toBeUndefined()
    expect(result.body._tag === "Bytes" && result.body.bytes).toBe(bytes)
  })

  it("sends an empty string as an empty Bytes body", () => {
    expect(ok(encode({ content: "" })).body).toEqual({ _tag: "Bytes", bytes: new Uint8Array(0) })
  })

  it("passes a Stream through with no length, not replayable", () => {
    const stream = streamOf("a", "b")
    const result = ok(encode({ content: stream }))
    expect(result.contentType).toBeUndefined()
    expect(result.body).toEqual({ _tag: "Stream", stream, length: undefined, replayable: false })
    expect(result.body._tag === "Stream" && result.body.stream).toBe(stream)
  })

  it("refuses content of another type", () => {
    expect(errorOf(encode({ content: 42 as any }))).toMatch(/content must be/)
  })
})

describe("encode: json", () => {
  it("stringifies the value as UTF-8 application/json", () => {
    const result = ok(encode({ json: { a: [1, "é"], b: null } }))
    expect(result.contentType).toBe("application/json")
    expect(result.body._tag === "Bytes" && text(result.body.bytes)).toBe("{\"a\":[1,\"é\"],\"b\":null}")
  })

  it.each([[null, "null"], [false, "false"], [0, "0"], ["", "\"\""]])("encodes the falsy value %j", (value, json) => {
    const result = ok(encode({ json: value }))
    expect(result.body._tag === "Bytes" && text(result.body.bytes)).toBe(json)
  })

  it("refuses a value JSON has no form for", () => {
    expect(errorOf(encode({ json: () => 1 }))).toMatch(/json body cannot be encoded.*function/)
    expect(errorOf(encode({ json: Symbol("s") }))).toMatch(/json body cannot be encoded.*symbol/)
  })

  it("refuses a BigInt, with JSON.stringify's reason", () => {
    expect(errorOf(encode({ json: { n: 1n } }))).toMatch(/json body cannot be encoded.*BigInt/)
  })

  it("refuses a cycle, with JSON.stringify's reason", () => {
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    expect(errorOf(encode({ json: cycle }))).toMatch(/json body cannot be encoded.*circular/)
  })

  it("reports a toJSON that throws", () => {
    expect(errorOf(encode({ json: { toJSON: () => { throw new Error("nope") } } }))).toMatch(/nope/)
  })
})

describe("encode: form", () => {
  const urlencoded = (options: BodyOptions) => {
    const result = ok(encode(options))
    expect(result.contentType).toBe("application/x-www-form-urlencoded")
    return result.body._tag === "Bytes" ? text(result.body.bytes) : "not bytes"
  }

  it("encodes like URLSearchParams, spaces as +", () => {
    expect(urlencoded({ form: { q: "a b&c=d", "k y": "é+/" } })).toBe("q=a+b%26c%3Dd&k+y=%C3%A9%2B%2F")
  })

  it("repeats the key for an array, stringifies numbers and booleans, skips undefined, keeps order", () => {
    expect(urlencoded({ form: { z: 1, b: ["x", "y"], skip: undefined, t: true, f: false, n: 1.5, e: [] } }))
      .toBe("z=1&b=x&b=y&t=true&f=false&n=1.5")
  })

  it("takes a list of pairs, keeping repeats and order", () => {
    expect(urlencoded({ form: [["b", "2"], ["a", 1], ["b", false]] })).toBe("b=2&a=1&b=false")
  })

  it("gives an empty body for an empty form", () => {
    expect(urlencoded({ form: {} })).toBe("")
  })

  it("refuses a value that is not a string, number or boolean", () => {
    expect(errorOf(encode({ form: { a: { b: 1 } as any } }))).toMatch(/form field "a".*object/)
    expect(errorOf(encode({ form: { a: null as any } }))).toMatch(/form field "a".*null/)
    expect(errorOf(encode({ form: { a: [[1]] as any } }))).toMatch(/form field "a".*array/)
    expect(errorOf(encode({ form: [["a", {}]] as any }))).toMatch(/form field "a"/)
    expect(errorOf(encode({ form: [["a"]] as any }))).toMatch(/form pairs/)
  })

  it("sends form fields urlencoded when files is empty, as httpx", () => {
    expect(urlencoded({ form: { a: "1" }, files: {} })).toBe("a=1")
  })
})

describe("encode: giving more than one body", () => {
  const conflict = "give only one of content, json, form/files"
  it.each<[string, BodyOptions]>([
    ["content and json", { content: "a", json: 1 }],
    ["content and form", { content: "a", form: { a: "1" } }],
    ["content and files", { content: "a", files: { f: "x" } }],
    ["json and form", { json: 1, form: { a: "1" } }],
    ["json and files", { json: 1, files: { f: "x" } }],
    ["all four", { content: "a", json: 1, form: {}, files: {} }]
  ])("refuses %s", (_, options) => {
    expect(errorOf(encode(options))).toBe(conflict)
  })

  it("accepts form and files together", () => {
    expect(ok(encode({ form: { a: "1" }, files: { f: "x" } })).contentType).toMatch(/^multipart\/form-data; /)
  })
})

describe("encode: multipart", () => {
  it("puts fields first, then files, as a single Bytes body when nothing streams", () => {
    const result = ok(encodeWithBoundary({
      files: { doc: { filename: "a.txt", content: "hé", contentType: "text/plain" }, raw: new Uint8Array([0, 255]) },
      form: { name: "Zoë", tags: ["x", "y"], n: 2 }
    }, B))
    expect(result.contentType).toBe("multipart/form-data; boundary=BOUNDARY")
    expect(result.body._tag).toBe("Bytes")
    const expected = concat([
      utf8.encode(
        "--BOUNDARY\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nZoë\r\n" +
          "--BOUNDARY\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\nx\r\n" +
          "--BOUNDARY\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\ny\r\n" +
          "--BOUNDARY\r\nContent-Disposition: form-data; name=\"n\"\r\n\r\n2\r\n" +
          "--BOUNDARY\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\n" +
          "Content-Type: text/plain\r\n\r\nhé\r\n" +
          "--BOUNDARY\r\nContent-Disposition: form-data; name=\"raw\"; filename=\"upload\"\r\n" +
          "Content-Type: application/octet-stream\r\n\r\n"
      ),
      new Uint8Array([0, 255]),
      utf8.encode("\r\n--BOUNDARY--\r\n")
    ])
    expect(result.body._tag === "Bytes" && result.body.bytes).toEqual(expected)
  })

  it("escapes quote, CR and LF in names and filenames as %22, %0D, %0A", () => {
    const result = ok(encodeWithBoundary({
      files: [["f\"\r\n", { filename: "a\"b\rc\nd.txt", content: "" }]],
      form: [["x\"y", "v"]]
    }, B))
    expect(result.body._tag === "Bytes" && text(result.body.bytes)).toBe(
      "--BOUNDARY\r\nContent-Disposition: form-data; name=\"x%22y\"\r\n\r\nv\r\n" +
        "--BOUNDARY\r\nContent-Disposition: form-data; name=\"f%22%0D%0A\"; filename=\"a%22b%0Dc%0Ad.txt\"\r\n" +
        "Content-Type: application/octet-stream\r\n\r\n\r\n" +
        "--BOUNDARY--\r\n"
    )
  })

  it("gives a bare value the filename upload and type application/octet-stream, and so an object without them", () => {
    const result = ok(encodeWithBoundary({ files: { a: "x", b: { content: "y" } } }, B))
    const body = result.body._tag === "Bytes" ? text(result.body.bytes) : ""
    expect(body.match(/filename="upload"\r\nContent-Type: application\/octet-stream\r\n/g)).toHaveLength(2)
  })

  it("sends several files under one name, and pairs, in order", () => {
    const record = ok(encodeWithBoundary({ files: { f: ["1", { filename: "two", content: "2" }], g: "3" } }, B))
    const pairs = ok(encodeWithBoundary({
      files: [["f", "1"], ["f", { filename: "two", content: "2" }], ["g", "3"]]
    }, B))
    expect(record.body).toEqual(pairs.body)
    const body = record.body._tag === "Bytes" ? text(record.body.bytes) : ""
    expect([...body.matchAll(/name="(\w)"; filename="(\w+)"\r\n[^\r]*\r\n\r\n(\d)/g)].map((m) => m.slice(1)))
      .toEqual([["f", "upload", "1"], ["f", "two", "2"], ["g", "upload", "3"]])
  })

  it("picks a random boundary of 32 hex characters, new for each body", () => {
    const a = ok(encode({ files: { f: "x" } }))
    const b = ok(encode({ files: { f: "x" } }))
    expect(a.contentType).toMatch(/^multipart\/form-data; boundary=httpfx-[0-9a-f]{32}$/)
    expect(a.contentType).not.toBe(b.contentType)
    const boundary = a.contentType!.split("boundary=")[1]
    expect(a.body._tag === "Bytes" && text(a.body.bytes))
      .toMatch(new RegExp(`^--${boundary}\r\n[^]*--${boundary}--\r\n$`))
  })

  it.each<[string, unknown, RegExp]>([
    ["a contentType with CR/LF", { content: "x", contentType: "text/plain\r\nX-Evil: 1" }, /contentType/],
    ["a negative size", { content: streamOf("x"), size: -1 }, /size/],
    ["a fractional size", { content: streamOf("x"), size: 1.5 }, /size/],
    ["a filename that is not a string", { content: "x", filename: 3 }, /filename/],
    ["content of another type", { content: 3 }, /content of the file/],
    ["a value of another type", 3, /the file "f" must be/],
    ["null", null, /the file "f" must be/]
  ])("refuses %s", (_, file, message) => {
    expect(errorOf(encode({ files: { f: file as any } }))).toMatch(message)
  })

  it.effect("round-trips through an independent parser: names, filenames, types and binary contents", () =>
    Effect.gen(function*() {
      const result = ok(encode({
        form: { "field é": "välue ☃\r\nline two", list: ["1", "2"] },
        files: {
          "quoted\"name": { filename: "a \"quoted\" naïve ☃ file.bin", content: allBytes, contentType: "image/png" },
          bare: "plain ☃"
        }
      }))
      const form = yield* parse(yield* collect(result.body), result.contentType!)
      expect(form.get("field é")).toBe("välue ☃\r\nline two")
      expect(form.getAll("list")).toEqual(["1", "2"])
      const file = form.get("quoted\"name") as File
      expect(file.name).toBe("a \"quoted\" naïve ☃ file.bin")
      expect(file.type).toBe("image/png")
      expect(new Uint8Array(yield* Effect.promise(() => file.arrayBuffer()))).toEqual(allBytes)
      const bare = form.get("bare") as File
      expect([bare.name, bare.type, yield* Effect.promise(() => bare.text())])
        .toEqual(["upload", "application/octet-stream", "plain ☃"])
    }))

  // A literal "%22" in a name would come back as a quote: the escaping of HTML's multipart encoding is not reversible.
  const name = fc.string({ minLength: 1, unit: "grapheme" }).filter((s) => !s.includes("%"))

  it.effect("round-trips arbitrary fields and binary files", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(name, fc.string({ unit: "grapheme" })), { maxLength: 4 }),
          fc.array(
            fc.tuple(
              name,
              name,
              fc.uint8Array({ maxLength: 300 })
            ),
            { minLength: 1, maxLength: 4 }
          ),
          async (fields, files) => {
            const result = ok(encode({
              form: fields,
              files: files.map(([name, filename, content]) => [name, { filename, content }] as const)
            }))
            const bytes = result.body._tag === "Bytes" ? result.body.bytes : new Uint8Array(0)
            const entries = entriesOf(await formData(bytes, result.contentType!))
            expect(entries.length).toBe(fields.length + files.length)
            // Fields come back first. undici turns %22 back into a quote but leaves %0D and %0A as they are.
            const unescape = (s: string) => s.replace(/\r/g, "%0D").replace(/\n/g, "%0A")
            fields.forEach(([name, value], i) => {
              expect(entries[i]![0]).toBe(unescape(name))
              expect(entries[i]![1]).toBe(value)
            })
            for (const [i, [name, filename, content]] of files.entries()) {
              const [gotName, got] = entries[fields.length + i]!
              expect(gotName).toBe(unescape(name))
              expect((got as File).name).toBe(unescape(filename))
              expect(new Uint8Array(await (got as File).arrayBuffer())).toEqual(content)
            }
          }
        ),
        { numRuns: 60 }
      )
    ))
})

describe("encode: multipart with streamed parts", () => {
  const streamed = (size: number | bigint | undefined) =>
    encodeWithBoundary({
      form: { a: "1" },
      files: {
        s: { filename: "s.bin", content: streamOf("he", "llo", new Uint8Array([0, 255])), size },
        b: "bytes"
      }
    }, B)

  const expected = concat([
    utf8.encode(
      "--BOUNDARY\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n" +
        "--BOUNDARY\r\nContent-Disposition: form-data; name=\"s\"; filename=\"s.bin\"\r\n" +
        "Content-Type: application/octet-stream\r\n\r\nhello"
    ),
    new Uint8Array([0, 255]),
    utf8.encode(
      "\r\n--BOUNDARY\r\nContent-Disposition: form-data; name=\"b\"; filename=\"upload\"\r\n" +
        "Content-Type: application/octet-stream\r\n\r\nbytes\r\n--BOUNDARY--\r\n"
    )
  ])

  it("takes a bigint size, as FileSystem.stat reports it", () => {
    expect(ok(streamed(7n)).body).toMatchObject({ _tag: "Stream", length: ok(streamed(7)).body._tag === "Stream" ? (ok(streamed(7)).body as any).length : -1 })
  })

  it.effect("streams the parts in order, with the length when the stream's size is given", () =>
    Effect.gen(function*() {
      const result = ok(streamed(7))
      expect(result.contentType).toBe("multipart/form-data; boundary=BOUNDARY")
      const body = result.body
      if (body._tag !== "Stream") throw new Error("expected a Stream body")
      expect(body.replayable).toBe(false)
      const bytes = yield* collect(body)
      expect(bytes).toEqual(expected)
      expect(body.length).toBe(bytes.length)
    }))

  it.effect("has no length (chunked) when a stream's size is unknown", () =>
    Effect.gen(function*() {
      const result = ok(streamed(undefined))
      expect(result.body).toMatchObject({ _tag: "Stream", length: undefined, replayable: false })
      expect(yield* collect(result.body)).toEqual(expected)
    }))

  it.effect("has no length when any one of several streams lacks a size", () =>
    Effect.gen(function*() {
      const result = ok(encodeWithBoundary({
        files: { a: { content: streamOf("x"), size: 1 }, b: streamOf("y"), c: { content: streamOf("z"), size: 1 } }
      }, B))
      expect(result.body).toMatchObject({ _tag: "Stream", length: undefined })
    }))

  it.effect("counts every byte when all streams have sizes", () =>
    Effect.gen(function*() {
      const result = ok(encodeWithBoundary({
        form: { f: "☃" },
        files: {
          a: { content: streamOf("x", "yz"), size: 3, filename: "é" },
          b: { content: Stream.fromIterable([allBytes]), size: 256 },
          e: { content: Stream.empty, size: 0 }
        }
      }, B))
      const bytes = yield* collect(result.body)
      expect(result.body._tag === "Stream" && result.body.length).toBe(bytes.length)
    }))

  it.effect("keeps a declared size of bytes content from changing the length", () =>
    Effect.gen(function*() {
      const result = ok(encodeWithBoundary({ files: { a: { content: "abc", size: 99 } } }, B))
      expect(result.body._tag).toBe("Bytes")
    }))

  it.effect("round-trips a streamed binary file through an independent parser", () =>
    Effect.gen(function*() {
      const result = ok(encode({
        form: { k: "v" },
        files: {
          f: {
            filename: "naïve \"x\".bin",
            content: Stream.fromIterable([allBytes.subarray(0, 100), allBytes.subarray(100)]),
            contentType: "application/x-test",
            size: 256
          }
        }
      }))
      const bytes = yield* collect(result.body)
      expect(result.body._tag === "Stream" && result.body.length).toBe(bytes.length)
      const form = yield* parse(bytes, result.contentType!)
      expect(form.get("k")).toBe("v")
      const file = form.get("f") as File
      expect([file.name, file.type]).toEqual(["naïve \"x\".bin", "application/x-test"])
      expect(new Uint8Array(yield* Effect.promise(() => file.arrayBuffer()))).toEqual(allBytes)
    }))

  it.effect("does not run a part's stream until the body is sent", () =>
    Effect.gen(function*() {
      let runs = 0
      const content = Stream.fromEffect(Effect.sync(() => {
        runs++
        return utf8.encode("x")
      }))
      const result = ok(encodeWithBoundary({ files: { f: content } }, B))
      expect(runs).toBe(0)
      yield* collect(result.body)
      expect(runs).toBe(1)
    }))

  it.effect("fails with the part stream's own error, after the bytes before it", () =>
    Effect.gen(function*() {
      class PartError {
        readonly _tag = "PartError"
      }
      const failure = new PartError()
      const content: Stream.Stream<Uint8Array, PartError> = Stream.concat(streamOf("partial"), Stream.fail(failure))
      const result = ok(encodeWithBoundary({ files: { f: content } }, B))
      const body = result.body
      if (body._tag !== "Stream") throw new Error("expected a Stream body")
      const seen: Array<Uint8Array> = []
      const error = yield* Stream.runForEach(body.stream, (chunk) => Effect.sync(() => seen.push(chunk))).pipe(
        Effect.flip
      )
      expect(error).toBe(failure)
      expect(text(concat(seen)))
        .toMatch(/filename="upload"\r\nContent-Type: application\/octet-stream\r\n\r\npartial$/)
    }))
})
