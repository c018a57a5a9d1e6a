/**
 * A client request without options, on a client that needs nothing but its pool, is sent as one `Effect.async` on
 * the pool. These tests pin that this shortcut behaves exactly as the full path: the cookie jar is read when the
 * Effect runs (not when it is built) and written before the caller sees the response, the request a response
 * reports is the one that went out, and failures are the same typed errors.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Client } from "httpfx"
import type * as http from "node:http"
import { httpServer } from "../utils/servers.js"

const recordingServer = () =>
  Effect.suspend(() => {
    const seen: Array<http.IncomingHttpHeaders> = []
    return Effect.map(
      httpServer((req, res) => {
        const body: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => body.push(chunk))
        req.on("end", () => {
          seen.push({ ...req.headers, "x-raw": JSON.stringify(req.rawHeaders), "x-body": Buffer.concat(body).toString() })
          if (req.url === "/set") res.setHeader("Set-Cookie", "session=abc; Path=/")
          res.setHeader("Content-Type", "text/plain")
          if (req.url === "/big") {
            res.on("error", () => {})
            res.end(Buffer.alloc(4 * 1024 * 1024, 97))
            return
          }
          res.end(`cookie=${req.headers.cookie ?? ""}`)
        })
      }),
      (server) => ({ ...server, seen })
    )
  })

describe("Client: requests without options, or with only content and headers", () => {
  it.scopedLive("the jar is read when the Effect runs: a reused Effect sends the cookie its first run stored", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer()
      const client = yield* Client.make()
      const setIt = client.get(`${server.url}/set`)
      const first = yield* setIt
      expect(first.text).toBe("cookie=")
      // Stored from inside the exchange, before the caller was resumed.
      expect(client.cookies!.toArray().map((cookie) => [cookie.name, cookie.value])).toEqual([["session", "abc"]])
      const second = yield* setIt
      expect(second.text).toBe("cookie=session=abc")
      expect(server.seen.map((headers) => headers.cookie)).toEqual([undefined, "session=abc"])
    }))

  it.scopedLive("a client without a jar never sends or stores cookies", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer()
      const client = yield* Client.make({ cookies: false })
      yield* client.get(`${server.url}/set`)
      const again = yield* client.get(`${server.url}/set`)
      expect(again.text).toBe("cookie=")
    }))

  it.scopedLive("the response reports the request that went out: method, URL from the base, default headers", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer()
      const client = yield* Client.make({ baseUrl: server.url, headers: { "x-default": "1" } })
      const response = yield* client.request("get", "/echo")
      expect(response.status).toBe(200)
      expect(response.request.method).toBe("GET")
      expect(response.request.url).toBe(`${server.url}/echo`)
      expect(response.request.headers["x-default"]).toBe("1")
      expect(response.request.headers["user-agent"]).toMatch(/^httpfx\//)
      expect(server.seen[0]!["x-default"]).toBe("1")
      expect(response.history).toEqual([])
    }))

  it.scopedLive("a bad URL fails with the same typed error as on the full path", () =>
    Effect.gen(function*() {
      const client = yield* Client.make()
      const direct = yield* Effect.flip(client.get("http://exa mple.com/"))
      const full = yield* Effect.flip(client.get("http://exa mple.com/", { headers: {} }))
      expect(direct._tag).toBe("InvalidUrl")
      expect(direct._tag).toBe(full._tag)
      expect(direct.message).toBe(full.message)
      const scheme = yield* Effect.flip(client.get("ftp://example.com/"))
      expect(scheme._tag).toBe("UnsupportedProtocol")
    }))

  it.scopedLive("content and headers: sent after the client's defaults, one field each; a default replaced once", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer()
      const client = yield* Client.make({ headers: { "x-default": "1" } })
      const response = yield* client.post(`${server.url}/upload`, {
        content: "héllo",
        headers: { "Content-Type": "text/plain; charset=utf-8", "x-extra": "2" }
      })
      expect(response.status).toBe(200)
      const first = server.seen[0]!
      expect(first["content-type"]).toBe("text/plain; charset=utf-8")
      expect(first["x-extra"]).toBe("2")
      expect(first["x-default"]).toBe("1")
      expect(first["content-length"]).toBe(String(Buffer.byteLength("héllo")))
      expect(first["x-body"]).toBe("héllo")
      expect(response.request.method).toBe("POST")
      expect(response.request.headers["x-extra"]).toBe("2")
      expect(response.request.headers["x-default"]).toBe("1")
      // A request header that replaces a default (here User-Agent) is sent once, with the request's value.
      yield* client.get(`${server.url}/ua`, { headers: { "User-Agent": "mine/1.0" } })
      const raw = JSON.parse(server.seen[1]!["x-raw"] as string) as Array<string>
      const agents = raw.filter((_, i) => i % 2 === 1 && raw[i - 1]!.toLowerCase() === "user-agent")
      expect(agents).toEqual(["mine/1.0"])
    }))

  it.scopedLive("a header value with CR/LF is refused before a byte is sent, as on the full path", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer()
      const client = yield* Client.make()
      const error = yield* Effect.flip(client.get(`${server.url}/x`, { headers: { "x-bad": "a\r\nInjected: 1" } }))
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain("x-bad")
      const name = yield* Effect.flip(client.get(`${server.url}/x`, { headers: { "bad name": "1" } }))
      expect(name._tag).toBe("LocalProtocolError")
      expect(server.seen).toEqual([])
      expect(server.acceptedSockets()).toBe(0)
    }))
})

describe("Client.stream without options, or with only content and headers", () => {
  it.scopedLive("cookies are stored once the head is in, and a reused Effect sends them", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer()
      const client = yield* Client.make()
      const setIt = client.stream("GET", `${server.url}/set`)
      const text = (response: { readonly stream: Stream.Stream<Uint8Array, unknown> }) =>
        Effect.map(Stream.runCollect(Stream.decodeText(response.stream)), (parts) => [...parts].join(""))
      const first = yield* Effect.scoped(Effect.flatMap(setIt, (response) => {
        // Stored before the caller was resumed with the head, before any of the body was read.
        expect(client.cookies!.toArray().map((cookie) => [cookie.name, cookie.value])).toEqual([["session", "abc"]])
        return text(response)
      }))
      expect(first).toBe("cookie=")
      const second = yield* Effect.scoped(Effect.flatMap(setIt, text))
      expect(second).toBe("cookie=session=abc")
      expect(server.seen.map((headers) => headers.cookie)).toEqual([undefined, "session=abc"])
    }))

  it.scopedLive("the response reports the request that went out; content and headers are sent as on the full path", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer()
      const client = yield* Client.make({ baseUrl: server.url, headers: { "x-default": "1" } })
      const response = yield* Effect.scoped(Effect.flatMap(
        client.stream("post", "/upload", { content: "héllo", headers: { "x-extra": "2" } }),
        (streaming) => streaming.read
      ))
      expect(response.status).toBe(200)
      expect(response.text).toBe("cookie=")
      expect(response.request.method).toBe("POST")
      expect(response.request.url).toBe(`${server.url}/upload`)
      expect(response.request.headers["x-extra"]).toBe("2")
      expect(response.history).toEqual([])
      const seen = server.seen[0]!
      expect([seen["x-default"], seen["x-extra"], seen["x-body"]]).toEqual(["1", "2", "héllo"])
      expect(seen["content-length"]).toBe(String(Buffer.byteLength("héllo")))
    }))

  it.scopedLive("a scope closed before the body ends closes the connection, and its slot serves the next request", () =>
    Effect.gen(function*() {
      const server = yield* recordingServer()
      const client = yield* Client.make({ maxConnections: 1 })
      const firstChunk = yield* Effect.scoped(Effect.flatMap(
        client.stream("GET", `${server.url}/big`),
        (response) => Effect.map(Stream.runCollect(Stream.take(response.stream, 1)), (chunks) => chunks.length)
      ))
      expect(firstChunk).toBe(1)
      const next = yield* Effect.timeout(client.get(`${server.url}/after`), "5 seconds")
      expect(next.text).toBe("cookie=")
      // The first connection could not be reused with its body unread: the second request came on a new one.
      expect(server.acceptedSockets()).toBe(2)
    }))

  it.scopedLive("a bad URL fails with the same typed error as on the full path", () =>
    Effect.gen(function*() {
      const client = yield* Client.make()
      const direct = yield* Effect.flip(Effect.scoped(client.stream("GET", "http://exa mple.com/")))
      const full = yield* Effect.flip(Effect.scoped(client.stream("GET", "http://exa mple.com/", { params: {} })))
      expect(direct._tag).toBe("InvalidUrl")
      expect(direct.message).toBe(full.message)
    }))
})
