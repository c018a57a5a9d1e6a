/**
 * HTTP/2 requests carry the request's own fields (RFC 9113 §8.3.1), made from the request, not read back from an
 * HTTP/1.1 head: pseudo-headers, every value of a multi-valued field, Host as :authority, connection-specific
 * fields dropped (§8.2.2), and the same LocalProtocolError as HTTP/1.1 for a field no request can carry.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "httpfx"
import type * as http2 from "node:http2"
import { LocalProtocolError } from "../../src/HttpError.js"
import { requestFields } from "../../src/internal/connection/http2Fields.js"
import type { FieldSource } from "../../src/internal/connection/http2Fields.js"
import { parseTarget } from "../../src/internal/core/url.js"
import type { Target } from "../../src/internal/core/url.js"
import type { HeaderInput } from "../../src/internal/wire/requestHead.js"
import { ca, h2Server } from "../h2/servers.js"

const source = (
  url: string,
  headers: HeaderInput | undefined,
  options: { readonly method?: string; readonly body?: Uint8Array } = {}
): FieldSource => {
  const target = parseTarget(url) as Target
  const method = options.method ?? "GET"
  return {
    method,
    target,
    headers,
    body: options.body,
    streamBody: false,
    requestInfo: { method, url: target.href }
  }
}

/** The fields as a plain object, for comparing whole. */
const fieldsOf = (request: FieldSource): Record<string, unknown> => {
  const fields = requestFields(request)
  if (fields instanceof LocalProtocolError) throw fields
  return { ...fields }
}

describe("HTTP/2 request fields", () => {
  it("are exactly the request's fields, pseudo-headers first, every value of a multi-valued field kept", () => {
    const fields = fieldsOf(source(
      "https://example.test/a/b?q=1",
      [["X-Multi", "one"], ["Accept", "text/plain"], ["x-multi", "two"], ["x-default", "d1"], ["X-Default", "d2"]]
    ))
    expect(fields).toEqual({
      ":method": "GET",
      ":scheme": "https",
      ":authority": "example.test",
      ":path": "/a/b?q=1",
      "x-multi": ["one", "two"],
      accept: "text/plain",
      "x-default": ["d1", "d2"]
    })
    expect(Object.keys(fields).slice(0, 4)).toEqual([":method", ":scheme", ":authority", ":path"])
  })

  it("Host becomes :authority and is not sent as a field", () => {
    const fields = fieldsOf(source("https://127.0.0.1:8443/", { Host: "virtual.test:8443" }))
    expect(fields[":authority"]).toBe("virtual.test:8443")
    expect(fields.host).toBeUndefined()
  })

  it("fields RFC 9113 §8.2.2 forbids are dropped, with those Connection names; TE stays only as trailers", () => {
    const fields = fieldsOf(source("https://example.test/", {
      Connection: "keep-alive, X-Hop",
      "Keep-Alive": "timeout=5",
      "Proxy-Connection": "keep-alive",
      "Transfer-Encoding": "chunked",
      Upgrade: "websocket",
      "X-Hop": "dropped",
      "X-Kept": "kept"
    }))
    expect(fields).toEqual({
      ":method": "GET",
      ":scheme": "https",
      ":authority": "example.test",
      ":path": "/",
      "x-kept": "kept"
    })
    expect(fieldsOf(source("https://example.test/", { TE: "trailers" })).te).toBe("trailers")
    expect(fieldsOf(source("https://example.test/", { TE: "gzip" })).te).toBeUndefined()
  })

  it("the body's length and the URL's credentials come as HTTP/1.1 would send them", () => {
    const fields = fieldsOf(source("https://user:pw@example.test/", undefined, {
      method: "POST",
      body: new Uint8Array(5)
    }))
    expect(fields["content-length"]).toBe("5")
    expect(fields.authorization).toBe(`Basic ${Buffer.from("user:pw").toString("base64")}`)
    // The caller's own Authorization wins over the URL's.
    expect(fieldsOf(source("https://user:pw@example.test/", { Authorization: "Bearer t" })).authorization).toBe(
      "Bearer t"
    )
    // An empty POST declares its empty body; a GET without one declares nothing.
    expect(fieldsOf(source("https://example.test/", undefined, { method: "POST" }))["content-length"]).toBe("0")
    expect(fieldsOf(source("https://example.test/", undefined))["content-length"]).toBeUndefined()
  })

  it.scoped("a CR/LF in a value is the same LocalProtocolError as HTTP/1.1 gives, with the same message", () =>
    Effect.gen(function*() {
      const url = "https://example.test/inject"
      const headers = { "X-Bad": "a\r\nInjected: yes" }
      const made = requestFields(source(url, headers))
      expect(made).toBeInstanceOf(LocalProtocolError)
      const pool = yield* Pool.make()
      const http1 = yield* Effect.flip(pool.request("GET", url, { headers }))
      expect(http1._tag).toBe("LocalProtocolError")
      expect((made as LocalProtocolError).message).toBe(http1.message)
      // So is a name that is not a token.
      const badName = requestFields(source(url, { "Bad Name": "x" }))
      const http1Name = yield* Effect.flip(pool.request("GET", url, { headers: { "Bad Name": "x" } }))
      expect((badName as LocalProtocolError).message).toBe(http1Name.message)
    }))
})

describe("HTTP/2 requests on the wire", () => {
  it.scoped("the server receives exactly the request's fields", () =>
    Effect.gen(function*() {
      let seen: http2.IncomingHttpHeaders | undefined
      const server = yield* h2Server({
        onStream: (stream, headers) => {
          seen = headers
          stream.respond({ ":status": 200 })
          stream.end("ok")
        }
      })
      const pool = yield* Pool.make({ http2: true, tls: { ca } })
      const response = yield* pool.request("GET", `${server.url}/fields?x=1`, {
        headers: [["X-Multi", "one"], ["x-multi", "two"], ["Connection", "x-hop"], ["X-Hop", "no"], ["X-One", "1"]]
      })
      expect(response.text).toBe("ok")
      expect(Object.fromEntries(Object.entries(seen!))).toEqual({
        ":method": "GET",
        ":path": "/fields?x=1",
        ":authority": `127.0.0.1:${server.port}`,
        ":scheme": "https",
        "x-multi": "one, two",
        "x-one": "1"
      })
    }))

  it.scoped("a CR/LF in a value fails the request with LocalProtocolError before a stream is opened", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ onStream: (stream) => stream.respond({ ":status": 200 }) })
      const pool = yield* Pool.make({ http2: true, tls: { ca } })
      const error = yield* Effect.flip(pool.request("GET", `${server.url}/`, { headers: { "X-Bad": "a\nb" } }))
      expect(error._tag).toBe("LocalProtocolError")
      expect(server.streams()).toBe(0)
    }))
})
