/**
 * The event stream parser (src/internal/wire/eventStream.ts): the WHATWG spec's own examples (HTML §9.2.5, §9.2.6),
 * each rule of "Interpreting an event stream" on its own, the limits, and properties with fast-check: any split of
 * the bytes into chunks gives the events of the whole, CR, LF and CRLF are the same line end, and the parser agrees
 * with a reference that splits the whole decoded text into lines first.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { EventStreamParser } from "../../src/internal/wire/eventStream.js"
import type { ServerSentEvent } from "../../src/internal/wire/eventStream.js"
import { splitAt } from "../utils/chunks.js"

const MAX = 1024 * 1024

const parseChunks = (chunks: ReadonlyArray<Uint8Array | string>, parser = new EventStreamParser(MAX)) => {
  const events: Array<ServerSentEvent> = []
  for (const chunk of chunks) parser.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk, events)
  return events
}

const parse = (text: string) => parseChunks([text])

const message = (data: string, id = "", event = "message"): ServerSentEvent => ({ event, data, id })

describe("the WHATWG spec's examples", () => {
  it("three messages, one of two lines, the last dispatched by its trailing blank line", () => {
    const text = "data: This is the first message.\n\n" +
      "data: This is the second message, it\ndata: has two lines.\n\n" +
      "data: This is the third message.\n\n"
    expect(parse(text)).toEqual([
      message("This is the first message."),
      message("This is the second message, it\nhas two lines."),
      message("This is the third message.")
    ])
  })

  it("event types name the events", () => {
    const text = "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n"
    expect(parse(text)).toEqual([
      message("73857293", "", "add"),
      message("2153", "", "remove"),
      message("113411", "", "add")
    ])
  })

  it("data lines are joined with LF", () => {
    expect(parse("data: YHOO\ndata: +2\ndata: 10\n\n")).toEqual([message("YHOO\n+2\n10")])
  })

  it("a comment, an id, an id without value that clears it, and only one leading space removed", () => {
    const text = ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"
    expect(parse(text)).toEqual([message("first event", "1"), message("second event"), message(" third event")])
  })

  it("a bare `data` field is an empty line of data; the unterminated last block is dropped", () => {
    expect(parse("data\n\ndata\ndata\n\ndata:")).toEqual([message(""), message("\n")])
  })

  it("the space after the colon is optional", () => {
    expect(parse("data:test\n\ndata: test\n\n")).toEqual([message("test"), message("test")])
  })
})

describe("the parsing rules", () => {
  it("CR, LF and CRLF all end lines", () => {
    expect(parse("data: a\r\rdata: b\n\ndata: c\r\n\r\n")).toEqual([message("a"), message("b"), message("c")])
  })

  it("a CRLF split between two chunks is one line end", () => {
    expect(parseChunks(["data: a\r", "\ndata: b\r", "\n\r", "\n"])).toEqual([message("a\nb")])
  })

  it("a CR at the end of a chunk followed by another line is not a blank line", () => {
    expect(parseChunks(["data: a\r", "data: b\r", "\r"])).toEqual([message("a\nb")])
  })

  it("a leading byte order mark is dropped, once", () => {
    expect(parse("\uFEFFdata: a\n\n")).toEqual([message("a")])
    // The second BOM makes the field name "\uFEFFdata", which is ignored.
    expect(parse("\uFEFF\uFEFFdata: a\n\ndata: b\n\n")).toEqual([message("b")])
  })

  it("a byte order mark split across chunks is still dropped", () => {
    expect(parseChunks([new Uint8Array([0xef]), new Uint8Array([0xbb, 0xbf]), "data: a\n\n"])).toEqual([message("a")])
  })

  it("a byte order mark after the start is kept in the data", () => {
    expect(parse("data: \uFEFFa\n\n")).toEqual([message("\uFEFFa")])
  })

  it("a multi-byte character split across chunks decodes whole", () => {
    const bytes = Buffer.from("data: €😀\n\n", "utf8")
    const chunks = Array.from(bytes, (byte) => new Uint8Array([byte]))
    expect(parseChunks(chunks)).toEqual([message("€😀")])
  })

  it("invalid UTF-8 becomes U+FFFD", () => {
    expect(parseChunks([new Uint8Array([...Buffer.from("data: "), 0xff, 0x0a, 0x0a])])).toEqual([message("\uFFFD")])
  })

  it("an id containing NUL is ignored", () => {
    expect(parse("id: 1\ndata: a\n\nid: 2\u0000x\ndata: b\n\n")).toEqual([message("a", "1"), message("b", "1")])
  })

  it("the last id stays with later events until another is set", () => {
    expect(parse("id: 7\ndata: a\n\ndata: b\n\n")).toEqual([message("a", "7"), message("b", "7")])
  })

  it("retry takes only ASCII digits and sets the reconnection time even without an event", () => {
    const parser = new EventStreamParser(MAX)
    expect(parseChunks(["retry: 1500\n\n"], parser)).toEqual([])
    expect(parser.retry).toBe(1500)
    for (const bad of ["retry: 15x\n\n", "retry: -1\n\n", "retry: 1.5\n\n", "retry:\n\n", "retry:  10\n\n"]) {
      parseChunks([bad], parser)
      expect(parser.retry).toBe(1500)
    }
    expect(parseChunks(["retry: 20\ndata: a\n\ndata: b\n\n"], parser)).toEqual([
      { event: "message", data: "a", id: "", retry: 20 },
      message("b")
    ])
    expect(parser.retry).toBe(20)
  })

  it("a block without data is not dispatched, and its event type does not leak into the next", () => {
    expect(parse("event: x\n\ndata: a\n\n")).toEqual([message("a")])
  })

  it("an id in a block without data still becomes the last event ID", () => {
    const parser = new EventStreamParser(MAX)
    parseChunks(["id: 42\n\n"], parser)
    expect(parser.lastEventId).toBe("42")
  })

  it("unknown fields and comments are ignored", () => {
    expect(parse(": hello\nfoo: bar\nDATA: no\ndata: yes\n:\n\n")).toEqual([message("yes")])
  })

  it("an unterminated event is dropped when the connection ends, its id with it", () => {
    const parser = new EventStreamParser(MAX)
    expect(parseChunks(["id: 1\ndata: a\n\nid: 2\ndata: b\n"], parser)).toEqual([message("a", "1")])
    parser.reset()
    expect(parser.lastEventId).toBe("1")
    expect(parseChunks(["data: c\n\n"], parser)).toEqual([message("c", "1")])
  })

  it("after a reset a byte order mark may lead the next connection's body, and a pending CR is forgotten", () => {
    const parser = new EventStreamParser(MAX)
    parseChunks(["data: a\n\ndata: b\r"], parser)
    parser.reset()
    expect(parseChunks(["\uFEFF\ndata: c\n\n"], parser)).toEqual([message("c")])
  })

  it("starts from the last event ID it is given", () => {
    expect(parseChunks(["data: a\n\n"], new EventStreamParser(MAX, "abc"))).toEqual([message("a", "abc")])
  })
})

describe("the limits", () => {
  it("a line longer than the limit sets tooLarge and the parser takes nothing more", () => {
    const parser = new EventStreamParser(16)
    const events = parseChunks(["data: a\n\n: " + "x".repeat(20) + "\n", "data: b\n\n"], parser)
    expect(events).toEqual([message("a")])
    expect(parser.tooLarge).toBe("line")
  })

  it("an unterminated line that grows past the limit across chunks sets tooLarge", () => {
    const parser = new EventStreamParser(100)
    for (let i = 0; i < 20 && parser.tooLarge === undefined; i++) parseChunks(["data: " + "y".repeat(10)], parser)
    expect(parser.tooLarge).toBe("line")
  })

  it("an event whose data lines together pass the limit sets tooLarge", () => {
    const parser = new EventStreamParser(32)
    parseChunks(["data: 0123456789\n".repeat(4)], parser)
    expect(parser.tooLarge).toBe("event")
  })

  it("lines and events at the limit pass", () => {
    const parser = new EventStreamParser(16)
    expect(parseChunks(["data: 0123456789\n\n"], parser)).toEqual([message("0123456789")])
    expect(parser.tooLarge).toBeUndefined()
  })
})

// ---- properties ---------------------------------------------------------------------------------------------------

/** A reference: decode the whole, split it into lines at once, then apply the field rules line by line. */
const reference = (bytes: Uint8Array): Array<ServerSentEvent> => {
  const text = new TextDecoder().decode(bytes)
  const lines = text.split(/\r\n|\r|\n/)
  lines.pop() // what follows the last line end is not a line
  const events: Array<ServerSentEvent> = []
  let data: Array<string> = []
  let type = ""
  let id = ""
  let lastId = ""
  let retry: number | undefined
  for (const line of lines) {
    if (line === "") {
      lastId = id
      if (data.length > 0) {
        const event = { event: type || "message", data: data.join("\n"), id: lastId }
        events.push(retry === undefined ? event : { ...event, retry })
      }
      data = []
      type = ""
      retry = undefined
      continue
    }
    if (line.startsWith(":")) continue
    const colon = line.indexOf(":")
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? "" : line.slice(colon + 1)
    if (value.startsWith(" ")) value = value.slice(1)
    if (field === "data") data.push(value)
    else if (field === "event") type = value
    else if (field === "id" && !value.includes("\0")) id = value
    else if (field === "retry" && /^[0-9]+$/.test(value)) retry = Number(value)
  }
  return events
}

const valueChar = fc.constantFrom("a", "b", " ", ":", "é", "€", "😀", "\0", "1", "\uFEFF")
const value = fc.array(valueChar, { maxLength: 6 }).map((chars) => chars.join(""))
const line = fc.oneof(
  fc.constant(""),
  fc.constant(""),
  value.map((v) => "data:" + v),
  value.map((v) => "data: " + v),
  fc.constant("data"),
  value.map((v) => "event: " + v),
  value.map((v) => "id: " + v),
  fc.constant("id"),
  fc.integer({ min: 0, max: 99999 }).map((n) => "retry: " + n),
  value.map((v) => "retry: " + v),
  value.map((v) => ":" + v),
  value.map((v) => "other: " + v)
)
const lines = fc.array(line, { maxLength: 30 })
const endings = fc.array(fc.constantFrom("\n", "\r", "\r\n"), { minLength: 1, maxLength: 5 })

/** Lines with the line ends given, except that a CR is never followed by an empty line's LF (that would be CRLF). */
const joinLines = (ls: ReadonlyArray<string>, ends: ReadonlyArray<string>): string => {
  let out = ""
  let previous = ""
  ls.forEach((l, i) => {
    let end = ends[i % ends.length]!
    if (previous === "\r" && l === "" && end !== "\r") end = "\r"
    out += l + end
    previous = end
  })
  return out
}

const PARAMETERS = { seed: 2126, numRuns: 400 }

describe("properties", () => {
  it("any split of the bytes into chunks gives the events of the whole", () => {
    fc.assert(
      fc.property(lines, endings, fc.boolean(), fc.array(fc.nat(), { maxLength: 12 }), (ls, ends, bom, offsets) => {
        const bytes = Buffer.from((bom ? "\uFEFF" : "") + joinLines(ls, ends), "utf8")
        expect(parseChunks(splitAt(bytes, offsets))).toEqual(parseChunks([bytes]))
      }),
      PARAMETERS
    )
  })

  it("CR, LF and CRLF line ends give the same events", () => {
    fc.assert(
      fc.property(lines, endings, (ls, ends) => {
        const lf = parse(joinLines(ls, ["\n"]))
        expect(parse(joinLines(ls, ["\r"]))).toEqual(lf)
        expect(parse(joinLines(ls, ["\r\n"]))).toEqual(lf)
        expect(parse(joinLines(ls, ends))).toEqual(lf)
      }),
      PARAMETERS
    )
  })

  it("the parser agrees with a reference that splits the whole text into lines first", () => {
    fc.assert(
      fc.property(lines, endings, fc.array(fc.nat(), { maxLength: 8 }), (ls, ends, offsets) => {
        const bytes = Buffer.from(joinLines(ls, ends), "utf8")
        expect(parseChunks(splitAt(bytes, offsets))).toEqual(reference(bytes))
      }),
      PARAMETERS
    )
  })
})
