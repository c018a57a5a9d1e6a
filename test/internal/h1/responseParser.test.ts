import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { BodyKind, ResponseParser } from "../../../src/internal/wire/responseParser.js"
import type { ResponseHandler } from "../../../src/internal/wire/responseParser.js"
import { splitAt } from "../../utils/chunks.js"

interface Head {
  status: number
  reason: string
  versionMinor: number
  headers: Array<string>
  keepAlive: boolean
  bodyKind: BodyKind
  contentLength: number
}

interface Outcome {
  heads: Array<Head>
  /** Callback order with consecutive body pieces collapsed into one "body", so it does not depend on splitting. */
  events: Array<string>
  body: string
  completions: Array<Array<string>>
  emptyBodyCalls: number
  consumed: number
  error: string | undefined
  receivedAny: boolean
  keepAlive: boolean
}

interface RunOptions {
  readonly noBody?: boolean
  /** Call finish() after the bytes, as when the peer closes the connection. */
  readonly eof?: boolean
  readonly maxHeadSize?: number
}

const bytes = (s: string): Buffer => Buffer.from(s, "latin1")

class Recorder implements ResponseHandler {
  readonly heads: Array<Head> = []
  readonly events: Array<string> = []
  readonly pieces: Array<Buffer> = []
  readonly completions: Array<Array<string>> = []
  emptyBodyCalls = 0
  parser!: ResponseParser

  onHead(status: number, reason: string, versionMinor: number, headers: Array<string>): void {
    const p = this.parser
    this.heads.push({
      status,
      reason,
      versionMinor,
      headers: [...headers],
      keepAlive: p.keepAlive,
      bodyKind: p.bodyKind,
      contentLength: p.contentLength
    })
    this.events.push("head")
  }

  onBody(chunk: Buffer): void {
    if (chunk.length === 0) this.emptyBodyCalls++
    this.pieces.push(chunk)
    if (this.events[this.events.length - 1] !== "body") this.events.push("body")
  }

  onComplete(trailers: Array<string>): void {
    this.completions.push([...trailers])
    this.events.push("complete")
  }
}

function newParser(noBody = false, maxHeadSize?: number): { parser: ResponseParser; recorder: Recorder } {
  const recorder = new Recorder()
  const parser = new ResponseParser(recorder)
  recorder.parser = parser
  parser.reset(noBody, maxHeadSize)
  return { parser, recorder }
}

/** Feeds the chunks in order, stopping at an error or once the parser leaves bytes unconsumed. */
function run(chunks: ReadonlyArray<Buffer>, options: RunOptions = {}): Outcome {
  const { parser, recorder } = newParser(options.noBody, options.maxHeadSize)
  let consumed = 0
  let error: string | undefined
  for (const chunk of chunks) {
    const n = parser.execute(chunk)
    if (n === -1) {
      error = parser.error
      break
    }
    consumed += n
    if (n < chunk.length) break
  }
  if (error === undefined && options.eof) error = parser.finish()
  return {
    heads: recorder.heads,
    events: recorder.events,
    body: Buffer.concat(recorder.pieces).toString("latin1"),
    completions: recorder.completions,
    emptyBodyCalls: recorder.emptyBodyCalls,
    consumed,
    error,
    receivedAny: parser.receivedAny,
    keepAlive: parser.keepAlive
  }
}

const whole = (response: string | Buffer, options?: RunOptions): Outcome =>
  run([typeof response === "string" ? bytes(response) : response], options)

const oneByteAtATime = (data: Buffer): Array<Buffer> =>
  Array.from({ length: data.length }, (_, i) => data.subarray(i, i + 1))

const chunkedHead = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

const cutsArb = fc.array(fc.nat({ max: 1_000_000 }), { maxLength: 24 })

/** Expects the response to be rejected with a message containing `fragment`. */
function expectError(response: string | Buffer, fragment: string, options?: RunOptions): Outcome {
  const outcome = whole(response, options)
  expect(outcome.error).toBeDefined()
  expect(outcome.error).toContain(fragment)
  return outcome
}

describe("ResponseParser: status line", () => {
  it("parses a Content-Length response and delivers its body", () => {
    const o = whole("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: a\r\n\r\nhello")
    expect(o.error).toBeUndefined()
    expect(o.heads).toEqual([{
      status: 200,
      reason: "OK",
      versionMinor: 1,
      headers: ["Content-Length", "5", "X-Test", "a"],
      keepAlive: true,
      bodyKind: BodyKind.Length,
      contentLength: 5
    }])
    expect(o.body).toBe("hello")
    expect(o.completions).toEqual([[]])
    expect(o.events).toEqual(["head", "body", "complete"])
    expect(o.consumed).toBe(bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Test: a\r\n\r\nhello").length)
  })

  it("accepts an empty reason phrase after the status code's SP", () => {
    const o = whole("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n")
    expect(o.heads[0]?.reason).toBe("")
    expect(o.completions).toEqual([[]])
  })

  it("accepts a status line with no SP and no reason after the status code", () => {
    const o = whole("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n")
    expect(o.heads[0]?.status).toBe(404)
    expect(o.heads[0]?.reason).toBe("")
  })

  it("keeps a multi-word reason phrase as sent", () => {
    expect(whole("HTTP/1.1 418 I'm a  teapot\r\nContent-Length: 0\r\n\r\n").heads[0]?.reason).toBe("I'm a  teapot")
  })

  it("reports HTTP/1.0 as version minor 0", () => {
    expect(whole("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").heads[0]?.versionMinor).toBe(0)
  })

  it("rejects HTTP/2.0 and names what was received", () => {
    const o = expectError("HTTP/2.0 200 OK\r\n\r\n", "expected an HTTP/1.0 or HTTP/1.1 status line")
    expect(o.error).toContain("\"HTTP/2.0 200 OK\"")
  })

  it("rejects an ICY (Shoutcast) status line", () => {
    expectError("ICY 200 OK\r\n\r\n", "received \"ICY 200 OK\"")
  })

  it("rejects HTTP/1.2 and HTTP/1.10", () => {
    expectError("HTTP/1.2 200 OK\r\n\r\n", "expected an HTTP/1.0 or HTTP/1.1 status line")
    expectError("HTTP/1.10 200 OK\r\n\r\n", "expected an HTTP/1.0 or HTTP/1.1 status line")
  })

  it("rejects lowercase http/1.1 (the version is case-sensitive)", () => {
    expectError("http/1.1 200 OK\r\n\r\n", "expected an HTTP/1.0 or HTTP/1.1 status line")
  })

  it("truncates the echoed status line to 40 characters and escapes non-printable bytes", () => {
    const tlsLike = Buffer.concat([bytes("\x16\x03\x01\x00"), Buffer.alloc(60, 0x41), bytes("\r\n\r\n")])
    const o = expectError(tlsLike, "received")
    expect(o.error).toContain(`"\\x16\\x03\\x01\\x00${"A".repeat(36)}…"`)
  })

  it("rejects line-less garbage as soon as 42 bytes have arrived, without waiting for a line end", () => {
    const { parser } = newParser()
    expect(parser.execute(Buffer.alloc(41, 0x00))).toBe(41)
    expect(parser.execute(Buffer.alloc(1, 0x00))).toBe(-1)
    expect(parser.error).toContain("expected an HTTP/1.0 or HTTP/1.1 status line")
  })

  it("rejects a status code with fewer than three digits", () => {
    expectError("HTTP/1.1 20 OK\r\n\r\n", "invalid status code")
  })

  it("rejects a status code with four digits", () => {
    expectError("HTTP/1.1 2000 OK\r\n\r\n", "invalid status code")
  })

  it("rejects a status code below 100", () => {
    expectError("HTTP/1.1 099 Nope\r\n\r\n", "invalid status code")
  })

  it("rejects two spaces between version and status code", () => {
    expectError("HTTP/1.1  200 OK\r\n\r\n", "invalid status code")
  })

  it("accepts status codes up to 999", () => {
    expect(whole("HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n").heads[0]?.status).toBe(999)
  })

  it("rejects a NUL in the reason phrase", () => {
    expectError("HTTP/1.1 200 O\x00K\r\n\r\n", "reason phrase")
  })

  it("rejects an empty first line (no leading empty lines are skipped)", () => {
    expectError("\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "received \"\"")
  })
})

describe("ResponseParser: line endings", () => {
  it("rejects a status line ended by a bare LF", () => {
    expectError("HTTP/1.1 200 OK\nContent-Length: 3\r\n\r\nabc", "a line of the response head ends in a bare LF")
  })

  it("rejects a field line ended by a bare LF among CRLF lines", () => {
    expectError("HTTP/1.1 200 OK\r\nA: b\nContent-Length: 1\r\n\r\nx", "ends in a bare LF instead of CRLF")
  })

  it("rejects a Content-Length line ended by a bare LF, the shape of a smuggled second length", () => {
    const o = expectError("HTTP/1.1 200 OK\r\nContent-Length: 5\nContent-Length: 0\r\n\r\nhello", "bare LF")
    expect(o.heads).toEqual([])
  })

  it("rejects a head ended by a bare LF", () => {
    expectError("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n", "bare LF")
  })

  it("names the status line's version before its bare LF, as the early check on an incomplete line does", () => {
    expectError("XTTP/1.1 200 OK\n\n", "expected an HTTP/1.0 or HTTP/1.1 status line")
  })

  it("rejects a bare CR in a header value", () => {
    expectError("HTTP/1.1 200 OK\r\nA: b\rc\r\nContent-Length: 0\r\n\r\n", "bare CR in the value of header field \"A\"")
  })

  it("rejects a bare CR standing in for a line terminator", () => {
    expectError("HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n", "reason phrase")
    expectError("HTTP/1.1 200 OK\r\nA: b\rContent-Length: 0\r\n\r\n", "bare CR")
  })

  it("rejects CR CR LF at the end of a field line", () => {
    expectError("HTTP/1.1 200 OK\r\nA: b\r\r\nContent-Length: 0\r\n\r\n", "bare CR")
  })

  it("rejects a bare CR as the empty line ending the head", () => {
    expectError("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\r\n", "header field")
  })
})

describe("ResponseParser: header fields", () => {
  it("keeps field name case and trims spaces and tabs around values", () => {
    const o = whole("HTTP/1.1 200 OK\r\nX-MiXeD: \t value with  inner space \t\r\nEmpty:\r\nContent-Length: 0\r\n\r\n")
    expect(o.heads[0]?.headers).toEqual(["X-MiXeD", "value with  inner space", "Empty", "", "Content-Length", "0"])
  })

  it("reads obs-text in values as latin1", () => {
    const o = whole(Buffer.concat([
      bytes("HTTP/1.1 200 OK\r\nX-Name: caf"),
      Buffer.from([0xe9, 0xff, 0x80]),
      bytes("\r\nContent-Length: 0\r\n\r\n")
    ]))
    expect(o.heads[0]?.headers[1]).toBe("caf\u00e9\u00ff\u0080")
  })

  it("rejects whitespace between the field name and the colon", () => {
    expectError("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello", "whitespace between header field name and colon")
  })

  it("rejects a tab between the field name and the colon", () => {
    expectError(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding\t: chunked\r\n\r\n",
      "whitespace between header field name and colon"
    )
  })

  it("rejects obs-fold continuation lines", () => {
    expectError("HTTP/1.1 200 OK\r\nA: b\r\n  c\r\nContent-Length: 0\r\n\r\n", "obsolete line folding")
  })

  it("rejects whitespace between the status line and the first field", () => {
    expectError("HTTP/1.1 200 OK\r\n A: b\r\nContent-Length: 0\r\n\r\n", "whitespace between the status line")
  })

  it("rejects a field line without a colon", () => {
    expectError("HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n", "header field line without a colon")
  })

  it("rejects a field line with a space but without a colon as lacking a colon", () => {
    expectError("HTTP/1.1 200 OK\r\nNo Colon Here\r\n\r\n", "header field line without a colon")
  })

  it("rejects an empty field name", () => {
    expectError("HTTP/1.1 200 OK\r\n: value\r\n\r\n", "empty header field name")
  })

  it("rejects a non-token character in a field name", () => {
    expectError("HTTP/1.1 200 OK\r\nX@Y: z\r\n\r\n", "invalid character \"@\" in header field name")
    expectError("HTTP/1.1 200 OK\r\nX\u00e9: z\r\n\r\n", "invalid character \"\\xe9\" in header field name")
  })

  it("rejects a NUL in a field value without echoing the value", () => {
    const o = expectError("HTTP/1.1 200 OK\r\nSet-Cookie: secret\x00x\r\n\r\n", "NUL in the value of header field")
    expect(o.error).not.toContain("secret")
  })

  it("rejects a form feed, DEL or other control character in a field value", () => {
    expectError("HTTP/1.1 200 OK\r\nX: a\x0cb\r\n\r\n", "control character \"\\x0c\" in the value of header field")
    expectError("HTTP/1.1 200 OK\r\nX: a\x7fb\r\n\r\n", "control character \"\\x7f\"")
    expectError("HTTP/1.1 200 OK\r\nX: \x01\r\n\r\n", "control character \"\\x01\"")
  })

  it("accepts HTAB inside a field value", () => {
    expect(whole("HTTP/1.1 200 OK\r\nX: a\tb\r\nContent-Length: 0\r\n\r\n").heads[0]?.headers[1]).toBe("a\tb")
  })

  it("does not call onHead for a head that fails validation", () => {
    const o = whole("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nBad Name: x\r\n\r\n")
    expect(o.heads).toEqual([])
    expect(o.error).toBeDefined()
  })
})

describe("ResponseParser: head size limit", () => {
  const HEAD_TOO_LARGE =
    "the response head is larger than 65536 bytes; raise limits.maxHeadSize if the server is trusted"

  const headOfSize = (size: number): Buffer => {
    const start = "HTTP/1.1 200 OK\r\nX-Pad: "
    const end = "\r\nContent-Length: 0\r\n\r\n"
    return bytes(start + "a".repeat(size - start.length - end.length) + end)
  }

  it("accepts a head of exactly 64 KiB", () => {
    const o = whole(headOfSize(65536))
    expect(o.error).toBeUndefined()
    expect(o.completions).toEqual([[]])
  })

  it("rejects a head of 64 KiB plus one byte", () => {
    expectError(headOfSize(65537), HEAD_TOO_LARGE)
  })

  it("rejects a 64 KiB head delivered whole without a line end", () => {
    expectError("HTTP/1.1 200 OK\r\nX-Pad: " + "a".repeat(70000), HEAD_TOO_LARGE)
  })

  it("rejects an oversized head split across many chunks, before its end arrives", () => {
    const { parser } = newParser()
    expect(parser.execute(bytes("HTTP/1.1 200 OK\r\n"))).toBe(17)
    let result = 0
    let fed = 0
    while (result !== -1 && fed < 200_000) {
      result = parser.execute(bytes("X-Pad: " + "b".repeat(993) + "\r\n").subarray(0, 500))
      fed += 500
    }
    expect(result).toBe(-1)
    expect(fed).toBeLessThan(70_000)
    expect(parser.error).toBe(HEAD_TOO_LARGE)
  })

  it("fails as soon as 64 KiB of head have arrived without its end, not one byte later", () => {
    const { parser } = newParser()
    const start = bytes("HTTP/1.1 200 OK\r\nX-Pad: " + "c".repeat(65535 - 24))
    expect(start.length).toBe(65535)
    expect(parser.execute(start)).toBe(65535)
    expect(parser.execute(bytes("c"))).toBe(-1)
    expect(parser.error).toBe(HEAD_TOO_LARGE)
  })

  it("gives the same limit error for an oversized head fed whole, in pieces, and a byte at a time", () => {
    const data = headOfSize(65537)
    const expected = whole(data).error
    expect(expected).toBe(HEAD_TOO_LARGE)
    expect(run(splitAt(data, [1000, 30000, 65535])).error).toBe(expected)
    expect(run(oneByteAtATime(data)).error).toBe(expected)
  })

  it("names a configured limit and the option that sets it", () => {
    const { parser } = newParser()
    parser.reset(false, 100)
    expect(parser.execute(bytes("HTTP/1.1 200 OK\r\nX-Pad: " + "p".repeat(100) + "\r\n\r\n"))).toBe(-1)
    expect(parser.error).toBe(
      "the response head is larger than 100 bytes; raise limits.maxHeadSize if the server is trusted"
    )
  })

  it("gives the same answer for a first line past a limit below 42 bytes, whole or split anywhere", () => {
    const lines = ["XTTP/1.1 200 " + "r".repeat(30), "HTTP/1.1 200 " + "r".repeat(30), "HTTP/1.1", "HTTP/1.x 200 OK"]
    for (const line of lines) {
      for (const maxHeadSize of [3, 8, 12, 30]) {
        const data = bytes(line + "\r\nContent-Length: 0\r\n\r\n")
        const expected = run([data], { maxHeadSize }).error
        expect(expected).toBeDefined()
        expect(run(oneByteAtATime(data), { maxHeadSize }).error).toBe(expected)
        for (let cut = 1; cut < data.length; cut++) {
          expect(run(splitAt(data, [cut]), { maxHeadSize }).error, `${line} cut at ${cut}`).toBe(expected)
        }
      }
    }
  })

  it("limits each head on its own, so interim heads do not count against the final one", () => {
    const interim = "HTTP/1.1 103 Early Hints\r\nLink: " + "x".repeat(40000) + "\r\n\r\n"
    const final = "HTTP/1.1 200 OK\r\nX-Pad: " + "y".repeat(40000) + "\r\nContent-Length: 0\r\n\r\n"
    expect(whole(interim + final).error).toBeUndefined()
  })
})

describe("ResponseParser: framing", () => {
  it("completes a Content-Length: 0 response right after the head, without onBody", () => {
    const o = whole("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    expect(o.events).toEqual(["head", "complete"])
    expect(o.heads[0]?.bodyKind).toBe(BodyKind.Length)
    expect(o.heads[0]?.contentLength).toBe(0)
  })

  it("delivers a Content-Length body as views of the input, not copies", () => {
    const data = bytes("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody")
    const { parser, recorder } = newParser()
    parser.execute(data)
    expect(recorder.pieces).toHaveLength(1)
    expect(recorder.pieces[0]!.buffer).toBe(data.buffer)
    expect(recorder.pieces[0]!.byteOffset).toBe(data.byteOffset + data.length - 4)
  })

  it("hands over a chunk that is entirely body without wrapping it", () => {
    const { parser, recorder } = newParser()
    parser.execute(bytes("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n"))
    const body = bytes("12345678")
    expect(parser.execute(body)).toBe(8)
    expect(recorder.pieces[0]).toBe(body)
  })

  it("delivers a Content-Length body arriving over several chunks", () => {
    const o = run([bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"), bytes("cdefg"), bytes("hij")])
    expect(o.body).toBe("abcdefghij")
    expect(o.completions).toEqual([[]])
  })

  it("does not consume bytes after a Content-Length body", () => {
    const data = bytes("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcEXTRA")
    const { parser } = newParser()
    expect(parser.execute(data)).toBe(data.length - 5)
    expect(parser.execute(bytes("more"))).toBe(0)
  })

  it("does not consume bytes after a complete head-only response", () => {
    const head = "HTTP/1.1 204 No Content\r\n\r\n"
    const { parser } = newParser()
    expect(parser.execute(bytes(head + "HTTP/1.1 200 OK\r\n"))).toBe(head.length)
  })

  it("reads a close-delimited body until finish()", () => {
    const { parser, recorder } = newParser()
    expect(parser.execute(bytes("HTTP/1.1 200 OK\r\nX: y\r\n\r\nsome "))).toBeGreaterThan(0)
    expect(parser.bodyKind).toBe(BodyKind.UntilClose)
    expect(parser.keepAlive).toBe(false)
    expect(parser.contentLength).toBe(-1)
    parser.execute(bytes("bytes"))
    expect(recorder.completions).toEqual([])
    expect(parser.finish()).toBeUndefined()
    expect(recorder.completions).toEqual([[]])
    expect(Buffer.concat(recorder.pieces).toString()).toBe("some bytes")
  })

  it("completes a close-delimited response with an empty body at finish()", () => {
    const o = whole("HTTP/1.0 200 OK\r\n\r\n", { eof: true })
    expect(o.error).toBeUndefined()
    expect(o.events).toEqual(["head", "complete"])
  })

  it("gives a HEAD response no body even with Content-Length", () => {
    const o = whole("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", { noBody: true })
    expect(o.events).toEqual(["head", "complete"])
    expect(o.heads[0]?.bodyKind).toBe(BodyKind.None)
    expect(o.heads[0]?.contentLength).toBe(-1)
    expect(o.heads[0]?.keepAlive).toBe(true)
  })

  it("gives a HEAD response no body even with Transfer-Encoding: chunked", () => {
    const o = whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", { noBody: true })
    expect(o.events).toEqual(["head", "complete"])
  })

  it("still rejects a repeated Content-Length on a HEAD response", () => {
    expectError("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", "repeated Content-Length", {
      noBody: true
    })
  })

  it("gives 204 No Content no body", () => {
    const o = whole("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n")
    expect(o.events).toEqual(["head", "complete"])
    expect(o.heads[0]?.bodyKind).toBe(BodyKind.None)
    expect(o.keepAlive).toBe(true)
  })

  it("gives 304 Not Modified no body, even with a Content-Length describing the would-be body", () => {
    const o = whole("HTTP/1.1 304 Not Modified\r\nContent-Length: 5000\r\nETag: \"x\"\r\n\r\n")
    expect(o.events).toEqual(["head", "complete"])
    expect(o.consumed).toBe(bytes("HTTP/1.1 304 Not Modified\r\nContent-Length: 5000\r\nETag: \"x\"\r\n\r\n").length)
  })

  it("rejects two Content-Length fields with different values", () => {
    expectError("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", "conflicting Content-Length")
  })

  it("rejects two identical Content-Length fields", () => {
    expectError("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello", "repeated Content-Length")
  })

  it("rejects a Content-Length list in one field", () => {
    expectError("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello", "repeated Content-Length")
    expectError("HTTP/1.1 200 OK\r\nContent-Length: 5,6\r\n\r\nhello", "conflicting Content-Length")
  })

  it("rejects Content-Length values that are not plain decimal digits", () => {
    for (const value of ["+5", "-1", "0x10", "5 5", "", "1e3", "abc", "5.0"]) {
      expectError(`HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`, "invalid Content-Length")
    }
  })

  it("rejects a Content-Length above Number.MAX_SAFE_INTEGER", () => {
    expectError("HTTP/1.1 200 OK\r\nContent-Length: 9007199254740992\r\n\r\n", "Content-Length is too large")
  })

  it("accepts a Content-Length of Number.MAX_SAFE_INTEGER and leading zeros", () => {
    expect(whole("HTTP/1.1 200 OK\r\nContent-Length: 9007199254740991\r\n\r\n").heads[0]?.contentLength).toBe(
      Number.MAX_SAFE_INTEGER
    )
    expect(whole("HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n").heads[0]?.contentLength).toBe(7)
  })

  it("rejects Transfer-Encoding together with Content-Length", () => {
    expectError(
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      "both Transfer-Encoding and Content-Length"
    )
  })

  it("reads a chunked body coded with gzip first, and names gzip as its transfer coding", () => {
    const { parser, recorder } = newParser()
    parser.execute(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: GZip, chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"))
    expect(recorder.completions).toEqual([[]])
    expect(parser.bodyKind).toBe(BodyKind.Chunked)
    expect(parser.keepAlive).toBe(true)
    expect(parser.transferCodings).toEqual(["gzip"])
  })

  it("combines Transfer-Encoding fields in order", () => {
    const { parser } = newParser()
    parser.execute(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: br, chunked\r\n\r\n"))
    expect(parser.bodyKind).toBe(BodyKind.Chunked)
    expect(parser.transferCodings).toEqual(["gzip", "br"])
  })

  it("reads a body whose Transfer-Encoding does not end in chunked until the connection closes", () => {
    const { parser, recorder } = newParser()
    parser.execute(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b"))
    expect(parser.bodyKind).toBe(BodyKind.UntilClose)
    expect(parser.keepAlive).toBe(false)
    expect(parser.contentLength).toBe(-1)
    expect(parser.transferCodings).toEqual(["gzip"])
    parser.execute(bytes("rest"))
    expect(parser.finish()).toBeUndefined()
    expect(Buffer.concat(recorder.pieces).toString("latin1")).toBe("\x1f\x8brest")
    expect(recorder.completions).toEqual([[]])
  })

  it("keeps the codings of an until-close body, unknown ones and parameters included", () => {
    const { parser } = newParser()
    parser.execute(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity, x-custom;p=1\r\n\r\n"))
    expect(parser.bodyKind).toBe(BodyKind.UntilClose)
    expect(parser.transferCodings).toEqual(["identity", "x-custom;p=1"])
  })

  it("clears the transfer codings on reset()", () => {
    const { parser } = newParser()
    parser.execute(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n"))
    parser.reset(false)
    parser.execute(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    expect(parser.transferCodings).toEqual([])
  })

  it("rejects chunked applied before another coding or twice", () => {
    expectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "applies chunked more than once")
    expectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", "before another")
    expectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", "RFC 9112 §6.1")
  })

  it("ignores empty list elements and OWS around chunked", () => {
    const o = whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: , chunked ,\t\r\n\r\n0\r\n\r\n")
    expect(o.error).toBeUndefined()
    expect(o.heads[0]?.bodyKind).toBe(BodyKind.Chunked)
  })

  it("rejects an empty Transfer-Encoding field", () => {
    expectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", "an empty Transfer-Encoding field")
  })

  it("takes chunked followed by a no-break space for another coding (only SP and HTAB are trimmed)", () => {
    const { parser } = newParser()
    parser.execute(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\u00a0\r\n\r\n"))
    expect(parser.bodyKind).toBe(BodyKind.UntilClose)
  })

  it("rejects Transfer-Encoding with Content-Length even where no body follows", () => {
    const both = "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"
    expectError(both, "both Transfer-Encoding and Content-Length")
    expectError(both.replace("204 No Content", "200 OK"), "both Transfer-Encoding", { noBody: true })
  })

  it("accepts Transfer-Encoding: Chunked in any case", () => {
    const o = whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n")
    expect(o.error).toBeUndefined()
    expect(o.heads[0]?.bodyKind).toBe(BodyKind.Chunked)
  })

  it("rejects Transfer-Encoding in an HTTP/1.0 response", () => {
    expectError(
      "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "HTTP/1.0 response has a Transfer-Encoding"
    )
  })

  it("does not apply Content-Length rules to interim responses", () => {
    const o = whole(
      "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n" +
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
    )
    expect(o.error).toBeUndefined()
    expect(o.body).toBe("x")
  })
})

describe("ResponseParser: interim responses", () => {
  it("skips 100 Continue silently", () => {
    const o = whole("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    expect(o.heads.map((h) => h.status)).toEqual([200])
    expect(o.body).toBe("ok")
  })

  it("skips 103 Early Hints with fields, and several interim heads in a row", () => {
    const o = whole(
      "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
        "HTTP/1.1 102 Processing\r\n\r\n" +
        "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
    )
    expect(o.heads.map((h) => [h.status, h.headers])).toEqual([[201, ["Content-Length", "0"]]])
  })

  it("skips an interim head arriving in a chunk of its own and keeps receivedAny set", () => {
    const { parser, recorder } = newParser()
    const interim = bytes("HTTP/1.1 100 Continue\r\n\r\n")
    expect(parser.execute(interim)).toBe(interim.length)
    expect(parser.receivedAny).toBe(true)
    expect(recorder.heads).toEqual([])
    expect(parser.finish()).toBe("the connection closed before the response head was complete")
  })

  it("validates interim heads", () => {
    expectError("HTTP/1.1 100 Continue\r\nBad : x\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "whitespace")
  })

  it("rejects 101 Switching Protocols", () => {
    expectError("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", "unexpected 101 Switching Protocols")
  })
})

describe("ResponseParser: keep-alive", () => {
  it("keeps an HTTP/1.1 connection alive by default", () => {
    expect(whole("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(true)
  })

  it("closes an HTTP/1.1 connection on Connection: close", () => {
    expect(whole("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(false)
  })

  it("finds close among several Connection tokens, in any case", () => {
    expect(whole("HTTP/1.1 200 OK\r\nconnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(false)
    expect(whole("HTTP/1.1 200 OK\r\nConnection: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(
      false
    )
  })

  it("does not mistake a token containing close for close", () => {
    expect(whole("HTTP/1.1 200 OK\r\nConnection: closed, x-close\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(true)
  })

  it("closes an HTTP/1.0 connection by default", () => {
    expect(whole("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(false)
  })

  it("keeps an HTTP/1.0 connection alive with Connection: keep-alive", () => {
    expect(whole("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(true)
  })

  it("closes an HTTP/1.0 connection when both keep-alive and close are sent", () => {
    expect(whole("HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(false)
  })

  it("never keeps a close-delimited response's connection", () => {
    expect(whole("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nbody").keepAlive).toBe(false)
  })

  it("ignores Connection: close on an interim response", () => {
    const interim = "HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n"
    expect(whole(interim + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(true)
  })

  it("parses a second response after reset() on the same parser", () => {
    const first = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none"
    const second = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\nT: v\r\n\r\n"
    const data = bytes(first + second)
    const { parser, recorder } = newParser()
    const n = parser.execute(data)
    expect(n).toBe(first.length)
    expect(parser.keepAlive).toBe(true)
    parser.reset(false)
    expect(parser.receivedAny).toBe(false)
    expect(parser.execute(data.subarray(n))).toBe(second.length)
    expect(recorder.heads.map((h) => h.status)).toEqual([200, 201])
    expect(Buffer.concat(recorder.pieces).toString()).toBe("onetwo")
    expect(recorder.completions).toEqual([[], ["T", "v"]])
  })

  it("clears an error on reset()", () => {
    const { parser } = newParser()
    expect(parser.execute(bytes("junk\r\n"))).toBe(-1)
    expect(parser.execute(bytes("HTTP/1.1 200 OK\r\n"))).toBe(-1)
    parser.reset(false)
    expect(parser.error).toBeUndefined()
    expect(parser.execute(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))).toBe(38)
  })
})

describe("ResponseParser: chunked bodies", () => {
  it("decodes chunks, ignoring chunk extensions, and returns trailers", () => {
    const o = whole(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "5;name=value\r\nhello\r\n" +
        "6;a=\"q;uo\\\"ted\";b\r\n world\r\n" +
        "A\r\n0123456789\r\n" +
        "0;last\r\nX-Checksum: abc\r\nX-Other:  two \r\n\r\n"
    )
    expect(o.error).toBeUndefined()
    expect(o.body).toBe("hello world0123456789")
    expect(o.completions).toEqual([["X-Checksum", "abc", "X-Other", "two"]])
    expect(o.heads[0]?.bodyKind).toBe(BodyKind.Chunked)
    expect(o.heads[0]?.contentLength).toBe(-1)
  })

  it("completes an empty chunked body with no trailers", () => {
    const o = whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    expect(o.events).toEqual(["head", "complete"])
    expect(o.completions).toEqual([[]])
  })

  it("accepts uppercase and lowercase hex and leading zeros in chunk sizes", () => {
    const o = whole(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0000a\r\n0123456789\r\nA\r\nabcdefghij\r\n00\r\n\r\n"
    )
    expect(o.body).toBe("0123456789abcdefghij")
  })

  it("rejects a chunk size line ended by a bare LF", () => {
    expectError(chunkedHead + "3\nabc\r\n0\r\n\r\n", "a chunk size line ends in a bare LF")
  })

  it("rejects chunk data followed by a bare LF", () => {
    expectError(chunkedHead + "3\r\nabc\n0\r\n\r\n", "missing CRLF after chunk data")
  })

  it("rejects a trailer line or the end of the trailers ended by a bare LF", () => {
    expectError(chunkedHead + "0\r\nT: 1\n\r\n", "a line of the chunked trailer section ends in a bare LF")
    expectError(chunkedHead + "0\r\n\n", "a line of the chunked trailer section ends in a bare LF")
  })

  it("rejects whitespace after a chunk size", () => {
    expectError(chunkedHead + "3 \r\nabc\r\n0\r\n\r\n", "invalid chunk size line \"3 \"")
    expectError(chunkedHead + "3\t;a\r\nabc\r\n0\r\n\r\n", "invalid chunk size line")
  })

  it("rejects chunk extensions that are not tokens and quoted-strings (RFC 9112 §7.1.1)", () => {
    const odd = [";", ";a;", ";;a", ";=a", ";a=", "; a", ";a =b", ";a= b", ";a=b ", ";a==b", ";a=\"x\"y", ";a=b\"c\""]
    for (const ext of odd) {
      expectError(chunkedHead + `3${ext}\r\nabc\r\n0\r\n\r\n`, "invalid chunk extension")
    }
  })

  it("rejects a control character in a quoted chunk extension, escaped or not", () => {
    expectError(chunkedHead + "3;a=\"\x01\"\r\nabc\r\n0\r\n\r\n", "invalid chunk extension")
    expectError(chunkedHead + "3;a=\"\\\x01\"\r\nabc\r\n0\r\n\r\n", "invalid chunk extension")
    expectError(chunkedHead + "3;a=\"x\r\nabc\r\n0\r\n\r\n", "invalid chunk extension")
  })

  it("accepts quoted chunk extensions with escapes, obs-text and an empty value", () => {
    const o = whole(chunkedHead + "3;a=\"x \\\" \xff\t\";b;c=\"\"\r\nabc\r\n0;z\r\n\r\n")
    expect(o.error).toBeUndefined()
    expect(o.body).toBe("abc")
  })

  it("rejects Content-Length in the trailer section", () => {
    expectError(chunkedHead + "0\r\nContent-Length: 3\r\n\r\n", "a Content-Length field in the trailer section")
  })

  it("rejects an empty Transfer-Encoding in the trailer section but keeps a non-empty one", () => {
    expectError(chunkedHead + "0\r\nTransfer-Encoding:\r\n\r\n", "an empty Transfer-Encoding field")
    expect(whole(chunkedHead + "0\r\nTransfer-Encoding: gzip\r\n\r\n").completions).toEqual([
      ["Transfer-Encoding", "gzip"]
    ])
  })

  it("does not consume bytes after the end of a chunked body", () => {
    const message = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n"
    expect(whole(message + "HTTP/1.1").consumed).toBe(message.length)
  })

  it("rejects a non-hex chunk size", () => {
    expectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size line \"zz\"")
  })

  it("rejects an empty chunk size", () => {
    expectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n", "invalid chunk size line")
  })

  it("rejects a negative chunk size", () => {
    expectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", "invalid chunk size line")
  })

  it("rejects a 0x-prefixed chunk size", () => {
    expectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n", "invalid chunk size line")
  })

  it("rejects a chunk size above Number.MAX_SAFE_INTEGER", () => {
    expectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", "chunk size too large")
    expectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n20000000000000\r\n", "chunk size too large")
  })

  it("rejects a NUL or bare CR in a chunk extension", () => {
    expectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;a\x00b\r\nx\r\n0\r\n\r\n", "chunk extension")
    expectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;a\rb\r\nx\r\n0\r\n\r\n", "chunk extension")
  })

  it("rejects a chunk size line longer than 4 KiB", () => {
    const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    expectError(head + "1;" + "x".repeat(5000) + "\r\nx\r\n0\r\n\r\n", "longer than 4 KiB")
    expectError(head + "1;" + "x".repeat(5000), "longer than 4 KiB")
  })

  it("rejects chunk data not followed by CRLF", () => {
    expectError(chunkedHead + "3\r\nabcd\r\n0\r\n\r\n", "missing CRLF after chunk data")
  })

  it("rejects chunk data followed by CR and something other than LF", () => {
    expectError(chunkedHead + "3\r\nabc\rX0\r\n\r\n", "missing CRLF after chunk data")
  })

  it("validates trailer fields like header fields", () => {
    const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
    expectError(head + "Bad : x\r\n\r\n", "whitespace between trailer field name and colon")
    expectError(head + "A: b\r\n c\r\n\r\n", "obsolete line folding")
    expectError(head + "NoColon\r\n\r\n", "trailer field line without a colon")
    expectError(head + "A: \x00\r\n\r\n", "NUL in the value of trailer field")
  })

  it("rejects a trailer section larger than 64 KiB", () => {
    const head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
    expectError(head + ("X: " + "t".repeat(1000) + "\r\n").repeat(70) + "\r\n", "trailer section is larger than 64 KiB")
  })

  it("delivers a chunk arriving in pieces as it arrives", () => {
    const { parser, recorder } = newParser()
    parser.execute(bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"))
    expect(Buffer.concat(recorder.pieces).toString()).toBe("abc")
    parser.execute(bytes("defghijklmnop\r\n0\r\n\r\n"))
    expect(Buffer.concat(recorder.pieces).toString()).toBe("abcdefghijklmnop")
    expect(recorder.completions).toEqual([[]])
  })
})

describe("ResponseParser: finish()", () => {
  it("reports a truncated Content-Length body", () => {
    const { parser } = newParser()
    parser.execute(bytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"))
    expect(parser.finish()).toBe("the connection closed after 10 of 100 body bytes")
    expect(parser.error).toBe("the connection closed after 10 of 100 body bytes")
  })

  it("reports a truncated chunked body", () => {
    const o = whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", { eof: true })
    expect(o.error).toBe("the connection closed in the middle of a chunked body")
    expect(o.body).toBe("ab")
  })

  it("reports a chunked body truncated in its trailer section", () => {
    expectError("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: v\r\n", "trailer section", { eof: true })
  })

  it("reports a head in progress", () => {
    const o = whole("HTTP/1.1 200 OK\r\nContent-Len", { eof: true })
    expect(o.error).toBe("the connection closed before the response head was complete")
    expect(o.receivedAny).toBe(true)
  })

  it("reports a truncated status line that could still have been valid as an incomplete head", () => {
    expect(whole("HTTP/1.", { eof: true }).error).toBe("the connection closed before the response head was complete")
  })

  it("reports a truncated first line that cannot be a status line as such", () => {
    expect(whole("SSH-2.0-OpenSSH", { eof: true }).error).toContain("expected an HTTP/1.0 or HTTP/1.1 status line")
  })

  it("reports when nothing at all was received, with receivedAny false", () => {
    const { parser } = newParser()
    expect(parser.receivedAny).toBe(false)
    expect(parser.finish()).toBe("the connection closed before any response byte was received")
    expect(parser.receivedAny).toBe(false)
  })

  it("returns undefined after a complete message", () => {
    const { parser } = newParser()
    parser.execute(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
    expect(parser.finish()).toBeUndefined()
  })

  it("returns the parse error when the parser is already dead", () => {
    const { parser } = newParser()
    parser.execute(bytes("ICY 200 OK\r\n"))
    expect(parser.finish()).toBe(parser.error)
  })
})

// --- property tests ---------------------------------------------------------------------------------------------

interface Case {
  readonly name: string
  readonly data: Buffer
  readonly options?: RunOptions
}

const validCases: Array<Case> = [
  { name: "Content-Length", data: bytes("HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: b\r\n\r\nhello world") },
  {
    name: "chunked with extensions and trailers",
    data: bytes(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n" +
        "5;ext=1\r\nhello\r\n1;x\r\n \r\n0005\r\nworld\r\n0;end=\"yes\"\r\nX-Trailer: t1\r\nX-More:\tt2\r\n\r\n"
    )
  },
  {
    name: "interim heads then final",
    data: bytes(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.js>; rel=preload\r\n\r\n" +
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
    )
  },
  {
    name: "close-delimited",
    data: bytes("HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil the very end"),
    options: { eof: true }
  },
  {
    name: "until close by Transfer-Encoding",
    data: bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nuntil the end"),
    options: { eof: true }
  },
  { name: "HEAD", data: bytes("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"), options: { noBody: true } },
  {
    name: "leftover bytes",
    data: bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
  },
  {
    name: "long status line and values",
    data: Buffer.concat([
      bytes("HTTP/1.1 200 " + "Reason ".repeat(20) + "\r\nX-Long: " + "v".repeat(5000)),
      Buffer.from([0xe9, 0xa0]),
      bytes("\r\nContent-Length: 1\r\n\r\n!")
    ])
  },
  {
    name: "status line exactly 40 bytes",
    data: bytes("HTTP/1.1 200 " + "r".repeat(27) + "\r\nContent-Length: 0\r\n\r\n")
  },
  { name: "204 with leftover", data: bytes("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1") }
]

const invalidCases: Array<Case> = [
  { name: "ICY", data: bytes("ICY 200 OK\r\nicy-name: x\r\n\r\n") },
  { name: "HTTP/2 preface", data: bytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") },
  {
    name: "binary garbage without line end",
    data: Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 37) & 0xff))
  },
  // First lines around the excerpt length, where the early check and the complete-line check must agree.
  { name: "bad version, 40-byte line", data: bytes("HTTP/3.0 200 " + "r".repeat(27) + "\r\n\r\n") },
  { name: "bad version, 41-byte line", data: bytes("HTTP/3.0 200 " + "r".repeat(28) + "\r\n\r\n") },
  { name: "bad version, 42-byte line", data: bytes("HTTP/3.0 200 " + "r".repeat(29) + "\r\n\r\n") },
  { name: "bad version, bare CR at 41", data: bytes("HTTP/3.0 200 " + "r".repeat(27) + "\rxx\r\n\r\n") },
  { name: "bad version, huge line", data: bytes("XTTP/1.1 200 " + "r".repeat(70000) + "\r\n\r\n") },
  { name: "head too large", data: bytes("HTTP/1.1 200 OK\r\nX: " + "a".repeat(70000) + "\r\n\r\n") },
  { name: "head too large, no line end", data: bytes("HTTP/1.1 200 OK\r\nX: " + "a".repeat(70000)) },
  { name: "bad status code", data: bytes("HTTP/1.1 2x0 OK\r\n\r\n") },
  { name: "101", data: bytes("HTTP/1.1 101 Switching Protocols\r\n\r\n") },
  { name: "space before colon", data: bytes("HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx") },
  { name: "obs-fold", data: bytes("HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\n\r\n") },
  { name: "bare CR", data: bytes("HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n") },
  { name: "NUL", data: bytes("HTTP/1.1 200 OK\r\nA: \x00\r\n\r\n") },
  { name: "TE and CL", data: bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n") },
  { name: "chunked, gzip", data: bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") },
  { name: "LF-only", data: bytes("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nab\n0\nT: 1\n\n") },
  { name: "bare LF after chunk data", data: bytes(chunkedHead + "2\r\nab\n0\r\n\r\n") },
  { name: "bare LF, bad version, 41-byte line", data: bytes("HTTP/3.0 200 " + "r".repeat(28) + "\n\n") },
  { name: "bad chunk extension", data: bytes(chunkedHead + "2;a=\"x\r\nab\r\n0\r\n\r\n") },
  { name: "repeated CL", data: bytes("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx") },
  { name: "bad chunk size", data: bytes(chunkedHead + "5\r\nhello\r\nzz\r\n") },
  { name: "chunk size line too long", data: bytes(chunkedHead + "5;" + "e".repeat(5000) + "\r\nhello\r\n0\r\n\r\n") },
  { name: "missing CRLF after chunk", data: bytes(chunkedHead + "5\r\nhello!\r\n0\r\n\r\n") },
  { name: "bad trailer", data: bytes(chunkedHead + "0\r\nT : v\r\n\r\n") },
  {
    name: "truncated Content-Length body",
    data: bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
    options: { eof: true }
  },
  { name: "truncated chunked body", data: bytes(chunkedHead + "5\r\nhel"), options: { eof: true } },
  { name: "truncated head", data: bytes("HTTP/1.1 200 OK\r\nA: b"), options: { eof: true } },
  { name: "truncated non-HTTP first line", data: bytes("garbage"), options: { eof: true } }
]

describe("ResponseParser: splitting does not change the outcome", () => {
  for (const c of validCases) {
    it(`valid: ${c.name}`, () => {
      const expected = run([c.data], c.options)
      expect(expected.error).toBeUndefined()
      expect(expected.completions).toHaveLength(1)
      expect(expected.emptyBodyCalls).toBe(0)
      expect(run(oneByteAtATime(c.data), c.options)).toEqual(expected)
      fc.assert(
        fc.property(cutsArb, (cuts) => {
          expect(run(splitAt(c.data, cuts), c.options)).toEqual(expected)
        }),
        { numRuns: 300 }
      )
    })
  }

  for (const c of invalidCases) {
    it(`invalid: ${c.name}`, () => {
      const expected = run([c.data], c.options)
      expect(expected.error).toBeDefined()
      expect(run(oneByteAtATime(c.data), c.options).error).toBe(expected.error)
      fc.assert(
        fc.property(cutsArb, (cuts) => {
          const outcome = run(splitAt(c.data, cuts), c.options)
          expect(outcome.error).toBe(expected.error)
          expect(outcome.heads).toEqual(expected.heads)
        }),
        { numRuns: 300 }
      )
    })
  }
})

// --- generated responses ----------------------------------------------------------------------------------------

const TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
const RESERVED = new Set(["content-length", "transfer-encoding", "connection"])

const nameArb = fc
  .string({ unit: fc.constantFrom(...TCHARS), minLength: 1, maxLength: 12 })
  .filter((n) => !RESERVED.has(n.toLowerCase()))

// RFC 9110 §5.5: HTAB, SP, VCHAR and obs-text; the ends are SP/HTAB-free so the trimmed value is exact.
const valueByteArb = fc
  .integer({ min: 9, max: 255 })
  .filter((c) => c === 9 || (c >= 32 && c !== 127))
  .map((c) => String.fromCharCode(c))
const valueArb = fc
  .string({ unit: valueByteArb, maxLength: 24 })
  .map((v) => v.replace(/^[ \t]+|[ \t]+$/g, ""))
const owsArb = fc.constantFrom("", " ", "\t", "  ", " \t ")
const fieldArb = fc.record({ name: nameArb, value: valueArb, before: owsArb, after: owsArb })

const responseArb = fc.record({
  status: fc.integer({ min: 200, max: 999 }).filter((s) => s !== 204 && s !== 304),
  reason: fc.string({ unit: fc.constantFrom(..."abc XYZ-'()"), maxLength: 20 }),
  versionMinor: fc.constantFrom(0, 1),
  fields: fc.array(fieldArb, { maxLength: 8 }),
  trailers: fc.array(fieldArb, { maxLength: 3 }),
  body: fc.uint8Array({ maxLength: 400 }),
  chunkCuts: fc.array(fc.nat({ max: 400 }), { maxLength: 10 }),
  chunked: fc.boolean(),
  upperHex: fc.boolean(),
  extensions: fc.boolean(),
  interim: fc.boolean(),
  cuts: cutsArb
})

type Generated = typeof responseArb extends fc.Arbitrary<infer T> ? T : never

function serialize(r: Generated): Buffer {
  const eol = "\r\n"
  const chunked = r.chunked && r.versionMinor === 1
  let head = r.interim ? `HTTP/1.1 100 Continue${eol}${eol}` : ""
  head += `HTTP/1.${r.versionMinor} ${r.status}${r.reason === "" && r.status % 2 === 0 ? "" : " " + r.reason}${eol}`
  for (const f of r.fields) head += `${f.name}:${f.before}${f.value}${f.after}${eol}`
  head += chunked ? `Transfer-Encoding: chunked${eol}${eol}` : `Content-Length: ${r.body.length}${eol}${eol}`
  const body = Buffer.from(r.body)
  if (!chunked) return Buffer.concat([bytes(head), body])
  const parts: Array<Buffer> = [bytes(head)]
  for (const piece of splitAt(body, r.chunkCuts)) {
    if (piece.length === 0) continue
    const size = piece.length.toString(16)
    parts.push(bytes((r.upperHex ? size.toUpperCase() : size) + (r.extensions ? ";n=v" : "") + eol), piece, bytes(eol))
  }
  let tail = "0" + eol
  for (const f of r.trailers) tail += `${f.name}:${f.before}${f.value}${f.after}${eol}`
  parts.push(bytes(tail + eol))
  return Buffer.concat(parts)
}

describe("ResponseParser: generated responses", () => {
  it("parses generated responses back to their status, fields and body under random splits", () => {
    fc.assert(
      fc.property(responseArb, (r) => {
        const data = serialize(r)
        const o = run(splitAt(data, r.cuts))
        const chunked = r.chunked && r.versionMinor === 1
        expect(o.error).toBeUndefined()
        expect(o.consumed).toBe(data.length)
        expect(o.heads).toHaveLength(1)
        const head = o.heads[0]!
        expect(head.status).toBe(r.status)
        expect(head.reason).toBe(r.reason)
        expect(head.versionMinor).toBe(r.versionMinor)
        const framing = chunked ? ["Transfer-Encoding", "chunked"] : ["Content-Length", String(r.body.length)]
        expect(head.headers).toEqual([...r.fields.flatMap((f) => [f.name, f.value]), ...framing])
        expect(head.keepAlive).toBe(r.versionMinor === 1)
        expect(o.body).toBe(Buffer.from(r.body).toString("latin1"))
        expect(o.emptyBodyCalls).toBe(0)
        expect(o.completions).toEqual([chunked ? r.trailers.flatMap((f) => [f.name, f.value]) : []])
      }),
      { numRuns: 500 }
    )
  })
})
