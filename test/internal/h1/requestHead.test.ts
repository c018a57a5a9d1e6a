import { describe, expect, it } from "vitest"
import { CHUNKED, declaredLength, encodeHead, encodeHeadWith, NO_BODY } from "../../../src/internal/wire/requestHead.js"
import { hostLineOf, parseTarget, requestTailOf } from "../../../src/internal/core/url.js"
import type { Target } from "../../../src/internal/core/url.js"

const errorOf = (result: ReturnType<typeof encodeHead>) => typeof result === "string" ? undefined : result.error

describe("encodeHead", () => {
  it("writes the request line, Host and the caller's fields in order", () => {
    expect(encodeHead("GET", "/a?b=1", "example.com:8080", { Accept: "*/*", "X-Two": ["1", "2"] }, NO_BODY)).toBe(
      "GET /a?b=1 HTTP/1.1\r\nAccept: */*\r\nX-Two: 1\r\nX-Two: 2\r\nHost: example.com:8080\r\n\r\n"
    )
  })

  it("accepts fields as a list of pairs, keeping repeats", () => {
    expect(encodeHead("GET", "/", "h", [["a", "1"], ["a", "2"]], NO_BODY)).toBe("GET / HTTP/1.1\r\na: 1\r\na: 2\r\nHost: h\r\n\r\n")
  })

  it("keeps a Host given by the caller instead of adding one", () => {
    expect(encodeHead("GET", "/", "h", { host: "other" }, NO_BODY)).toBe("GET / HTTP/1.1\r\nhost: other\r\n\r\n")
  })

  it("adds Content-Length for a known body and Transfer-Encoding for a stream", () => {
    expect(encodeHead("PUT", "/", "h", undefined, 3)).toContain("Content-Length: 3\r\n")
    expect(encodeHead("POST", "/", "h", undefined, CHUNKED)).toContain("Transfer-Encoding: chunked\r\n")
  })

  it("sends Content-Length: 0 for an empty POST, PUT or PATCH, and nothing for a bodiless GET", () => {
    expect(encodeHead("POST", "/", "h", undefined, NO_BODY)).toContain("Content-Length: 0\r\n")
    expect(encodeHead("PATCH", "/", "h", undefined, 0)).toContain("Content-Length: 0\r\n")
    expect(encodeHead("GET", "/", "h", undefined, NO_BODY)).not.toContain("Content-Length")
  })

  it.each([
    ["a CR/LF in a value", { "x-a": "1\r\nInjected: yes" }],
    ["a bare LF in a value", { "x-a": "1\nInjected: yes" }],
    ["a NUL in a value", { "x-a": "a\u0000b" }],
    ["a character outside Latin-1", { "x-a": "snow☃" }],
    ["a space in a name", { "x a": "1" }],
    ["a colon in a name", { "x:a": "1" }],
    ["an empty name", { "": "1" }]
  ])("refuses %s", (_, headers) => {
    expect(errorOf(encodeHead("GET", "/", "h", headers, NO_BODY))).toMatch(/header/)
  })

  it("allows HTAB and obs-text in values", () => {
    expect(errorOf(encodeHead("GET", "/", "h", { "x-a": "a\tb\u00e9" }, NO_BODY))).toBeUndefined()
  })

  it.each(["GE T", "GET\r\n", "", "G(ET"])("refuses the method %j", (method) => {
    expect(errorOf(encodeHead(method, "/", "h", undefined, NO_BODY))).toMatch(/method/)
  })

  it("accepts extension methods that are tokens", () => {
    expect(encodeHead("PROPFIND", "/", "h", undefined, NO_BODY)).toMatch(/^PROPFIND \//)
  })

  it.each(["/a b", "/a\r\nb", "/\u0000"])("refuses the target %j", (path) => {
    expect(errorOf(encodeHead("GET", path, "h", undefined, NO_BODY))).toMatch(/target/)
  })

  describe("framing given by the caller", () => {
    it("accepts a Content-Length that matches the body and adds no second one", () => {
      const head = encodeHead("POST", "/", "h", { "content-length": "3" }, 3) as string
      expect(head.match(/content-length/gi)).toHaveLength(1)
    })

    it("refuses a Content-Length that disagrees with the body", () => {
      expect(errorOf(encodeHead("POST", "/", "h", { "Content-Length": "10" }, 3))).toMatch(/says "10" but the body has 3/)
    })

    it("refuses Transfer-Encoding on a body of known length", () => {
      expect(errorOf(encodeHead("POST", "/", "h", { "transfer-encoding": "chunked" }, 3))).toMatch(/Transfer-Encoding/)
    })

    it("refuses Content-Length together with Transfer-Encoding", () => {
      const headers = { "content-length": "3", "transfer-encoding": "chunked" }
      expect(errorOf(encodeHead("POST", "/", "h", headers, CHUNKED))).toMatch(/Both/)
    })

    it("accepts a numeric Content-Length for a stream, and reports it", () => {
      expect(errorOf(encodeHead("POST", "/", "h", { "content-length": "12" }, CHUNKED))).toBeUndefined()
      expect(declaredLength({ "Content-Length": "12" })).toBe(12)
      expect(declaredLength([["x", "y"]])).toBe(-1)
      expect(errorOf(encodeHead("POST", "/", "h", { "content-length": "twelve" }, CHUNKED))).toMatch(/not a number/)
    })
  })

  it("with the parts a parsed URL keeps, builds the very head encodeHead builds", () => {
    const target = parseTarget("http://example.com:8080/a/b?c=1") as Target
    expect(target.requestTail).toBe(requestTailOf("/a/b?c=1"))
    expect(target.hostLine).toBe(hostLineOf("example.com:8080"))
    const cases: ReadonlyArray<readonly [string, Parameters<typeof encodeHead>[3], number, string]> = [
      ["GET", undefined, NO_BODY, ""],
      ["GET", { Accept: "*/*", "X-More": "1" }, NO_BODY, ""],
      ["GET", { Host: "other.example" }, NO_BODY, ""],
      ["POST", { "content-type": "text/plain" }, 5, ""],
      ["POST", undefined, NO_BODY, ""],
      ["PUT", [["a", "1"]], CHUNKED, "Proxy-Authorization: Basic eDp5\r\n"],
      ["DELETE", { host: "h" }, 3, "Proxy-Authorization: Basic eDp5\r\n"],
      ["POST", { "Content-Length": "10" }, 3, ""],
      ["G ET", undefined, NO_BODY, ""]
    ]
    for (const [method, headers, length, extra] of cases) {
      const expected = encodeHead(method, target.path, target.host, headers, length, extra)
      const actual = encodeHeadWith(method, target.requestTail!, target.hostLine, target.hostEnd, headers, length, extra)
      expect(actual).toEqual(expected)
    }
    expect(encodeHead("GET", "/p", "h", undefined, NO_BODY)).toBe("GET /p HTTP/1.1\r\nHost: h\r\n\r\n")
  })
})
