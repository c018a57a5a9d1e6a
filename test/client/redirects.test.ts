/**
 * Redirects through the client: off by default; method and body rewriting per status (httpx's rules, RFC 9110
 * §15.4); Location resolution; Authorization and Cookie handling across hops; maxRedirects; history; and that
 * intermediate responses never pin a connection. Loopback servers for what the wire shows, an in-memory transport
 * for host and scheme changes that loopback cannot show.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Auth, Client, Transport } from "httpfx"
import type * as http from "node:http"
import type { Request } from "../../src/internal/message/request.js"
import { StreamBodyResponse } from "../../src/internal/message/response.js"
import { httpServer } from "../utils/servers.js"

// ---- helpers -------------------------------------------------------------------------------------------------------

interface Seen {
  readonly method: string
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

/**
 * A server that records every request and answers by path: `/to/<status>?<location>` redirects with that status to
 * the location (URL-decoded query), anything else answers 200 with the path.
 */
const redirectServer = (extra?: (req: http.IncomingMessage, res: http.ServerResponse) => boolean) =>
  Effect.suspend(() => {
    const seen: Array<Seen> = []
    return Effect.map(
      httpServer((req, res) => {
        const parts: Array<Buffer> = []
        req.on("data", (part: Buffer) => parts.push(part))
        req.on("end", () => {
          const url = new URL(req.url!, "http://x")
          const body = Buffer.concat(parts).toString()
          seen.push({ method: req.method!, path: req.url!, headers: req.headers, body })
          if (extra?.(req, res)) return
          const match = /^\/to\/(\d{3})$/.exec(url.pathname)
          if (match !== null) {
            res.writeHead(Number(match[1]), { Location: decodeURIComponent(url.search.slice(1)) })
            res.end(`redirecting with ${match[1]}`)
            return
          }
          res.end(`at ${req.url}`)
        })
      }),
      (server) => ({ server, seen })
    )
  })

const to = (status: number, location: string) => `/to/${status}?${encodeURIComponent(location)}`

const bytes = (s: string) => new TextEncoder().encode(s)

/** An in-memory transport: answers from `respond`, records every request it is handed. */
const mockTransport = (
  respond: (request: Request) => { status: number; headers?: Record<string, string>; body?: string }
) => {
  const seen: Array<Request> = []
  const transport = Transport.make((request) =>
    Effect.sync(() => {
      seen.push(request)
      const answer = respond(request)
      return new StreamBodyResponse(
        {
          status: answer.status,
          reasonPhrase: "",
          httpVersion: "HTTP/1.1",
          flatHeaders: Object.entries(answer.headers ?? {}).flat(),
          url: request.url,
          request
        },
        answer.body === undefined ? Stream.empty : Stream.make(bytes(answer.body)),
        Effect.void,
        performance.now()
      )
    })
  )
  return { seen, transport }
}

// ---- following or not ---------------------------------------------------------------------------------------------

describe("Client redirects: on or off", () => {
  it.scopedLive("off by default: a 302 is returned as it is", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* redirectServer()
      const client = yield* Client.make()
      const response = yield* client.get(`${server.url}${to(302, "/final")}`)
      expect(response.status).toBe(302)
      expect(response.headers["location"]).toBe("/final")
      expect(response.text).toBe("redirecting with 302")
      expect(response.history).toEqual([])
      expect(seen.length).toBe(1)
    }))

  it.scopedLive("on per client, and per request either way", () =>
    Effect.gen(function*() {
      const { server } = yield* redirectServer()
      const url = `${server.url}${to(302, "/final")}`
      const off = yield* Client.make()
      expect((yield* off.get(url, { followRedirects: true })).text).toBe("at /final")
      const on = yield* Client.make({ followRedirects: true })
      expect((yield* on.get(url)).text).toBe("at /final")
      expect((yield* on.get(url, { followRedirects: false })).status).toBe(302)
    }))
})

// ---- methods and bodies --------------------------------------------------------------------------------------------

describe("Client redirects: method and body", () => {
  for (const status of [301, 302]) {
    it.scopedLive(`${status}: POST becomes GET without body or content headers; PUT stays PUT with its body`, () =>
      Effect.gen(function*() {
        const { seen, server } = yield* redirectServer()
        const client = yield* Client.make({ followRedirects: true })
        const response = yield* client.post(`${server.url}${to(status, "/final")}`, { json: { a: 1 } })
        expect(response.text).toBe("at /final")
        expect(seen[0]!.method).toBe("POST")
        expect(seen[0]!.body).toBe("{\"a\":1}")
        const hop = seen[1]!
        expect(hop.method).toBe("GET")
        expect(hop.body).toBe("")
        expect(hop.headers["content-type"]).toBeUndefined()
        expect(hop.headers["content-length"]).toBeUndefined()
        expect(hop.headers["transfer-encoding"]).toBeUndefined()

        yield* client.put(`${server.url}${to(status, "/final")}`, { content: "put body" })
        expect(seen[3]!.method).toBe("PUT")
        expect(seen[3]!.body).toBe("put body")
      }))
  }

  it.scopedLive("303: PUT, DELETE and POST become GET without a body; HEAD stays HEAD", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* redirectServer()
      const client = yield* Client.make({ followRedirects: true })
      const url = `${server.url}${to(303, "/see-other")}`
      yield* client.put(url, { content: "x" })
      yield* client.delete(url)
      yield* client.post(url, { form: { a: "1" } })
      yield* client.head(url)
      const hops = seen.filter((s) => s.path === "/see-other")
      expect(hops.map((s) => s.method)).toEqual(["GET", "GET", "GET", "HEAD"])
      expect(hops.map((s) => s.body)).toEqual(["", "", "", ""])
      expect(hops.map((s) => s.headers["content-type"] ?? s.headers["content-length"])).toEqual([
        undefined,
        undefined,
        undefined,
        undefined
      ])
    }))

  for (const status of [307, 308]) {
    it.scopedLive(`${status}: method and body kept (the server sees the same bytes twice)`, () =>
      Effect.gen(function*() {
        const { seen, server } = yield* redirectServer()
        const client = yield* Client.make({ followRedirects: true })
        const body = new Uint8Array(Array.from({ length: 3000 }, (_, i) => 32 + (i % 90)))
        const response = yield* client.post(`${server.url}${to(status, "/kept")}`, {
          content: body,
          headers: { "Content-Type": "text/plain" }
        })
        expect(response.text).toBe("at /kept")
        expect(seen.map((s) => s.method)).toEqual(["POST", "POST"])
        expect(seen[1]!.body).toBe(Buffer.from(body).toString())
        expect(seen[1]!.body).toBe(seen[0]!.body)
        expect(seen[1]!.headers["content-type"]).toBe("text/plain")
        expect(seen[1]!.headers["content-length"]).toBe("3000")
      }))
  }

  it.scopedLive("307 with a Stream body that cannot be replayed fails with StreamConsumed, saying why", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* redirectServer()
      const client = yield* Client.make({ followRedirects: true, maxConnections: 1 })
      const error = yield* Effect.flip(
        client.post(`${server.url}${to(307, "/again")}`, { content: Stream.make(bytes("once "), bytes("only")) })
      )
      expect(error._tag).toBe("StreamConsumed")
      expect(error.message).toContain("307")
      expect(error.message).toContain("cannot be replayed")
      expect(seen.length).toBe(1)
      expect(seen[0]!.body).toBe("once only")
      // The redirect response did not pin the only connection.
      expect((yield* client.get(`${server.url}/after`)).text).toBe("at /after")
    }))

  it.scopedLive("a Stream body is fine when the redirect drops the body (303)", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* redirectServer()
      const client = yield* Client.make({ followRedirects: true })
      const response = yield* client.post(`${server.url}${to(303, "/done")}`, { content: Stream.make(bytes("s")) })
      expect(response.text).toBe("at /done")
      expect(seen.map((s) => s.method)).toEqual(["POST", "GET"])
    }))
})

// ---- locations -----------------------------------------------------------------------------------------------------

describe("Client redirects: Location", () => {
  it.scopedLive("relative locations resolve against the current URL", () =>
    Effect.gen(function*() {
      const { server } = yield* redirectServer((req, res) => {
        const locations: Record<string, string> = {
          "/a/b/rel": "sibling?q=1",
          "/a/b/up": "../up-target",
          "/a/b/abs-path": "/root-target",
          "/a/b/query": "?only=query",
          "/a/b/scheme-relative": `//127.0.0.1:${(req.socket.address() as { port: number }).port}/sr-target`
        }
        const location = locations[req.url!]
        if (location === undefined) return false
        res.writeHead(302, { Location: location })
        res.end()
        return true
      })
      const client = yield* Client.make({ followRedirects: true })
      const finalPath = (path: string) => Effect.map(client.get(`${server.url}${path}`), (r) => r.text)
      expect(yield* finalPath("/a/b/rel")).toBe("at /a/b/sibling?q=1")
      expect(yield* finalPath("/a/b/up")).toBe("at /a/up-target")
      expect(yield* finalPath("/a/b/abs-path")).toBe("at /root-target")
      expect(yield* finalPath("/a/b/query")).toBe("at /a/b/query?only=query")
      expect(yield* finalPath("/a/b/scheme-relative")).toBe("at /sr-target")
    }))
})

describe("Client redirects: bad locations", () => {
  it.scopedLive("Location: another scheme fails with UnsupportedProtocol, no URL with RemoteProtocolError", () =>
    Effect.gen(function*() {
      const { server } = yield* redirectServer((req, res) => {
        const locations: Record<string, string> = { "/ftp": "ftp://127.0.0.1/file", "/broken": "http://[::1" }
        const location = locations[req.url!]
        if (location === undefined) return false
        res.writeHead(302, { Location: location })
        res.end("body of the redirect")
        return true
      })
      const client = yield* Client.make({ followRedirects: true, maxConnections: 1, timeout: { pool: 1_000 } })
      expect((yield* Effect.flip(client.get(`${server.url}/ftp`)))._tag).toBe("UnsupportedProtocol")
      const broken = yield* Effect.flip(client.get(`${server.url}/broken`))
      expect(broken._tag).toBe("RemoteProtocolError")
      expect(broken.message).toContain("http://[::1")
      // Streaming, in the test's own long-lived scope: the failed redirect does not hold the only connection.
      expect((yield* Effect.flip(client.stream("GET", `${server.url}/broken`)))._tag).toBe("RemoteProtocolError")
      expect((yield* client.get(`${server.url}/fine`)).text).toBe("at /fine")
    }))
})

// ---- Authorization across hops --------------------------------------------------------------------------------------

describe("Client redirects: Authorization", () => {
  it.scopedLive("kept on the same origin; dropped on another port of the same host (another origin)", () =>
    Effect.gen(function*() {
      const a = yield* redirectServer()
      const b = yield* redirectServer()
      const client = yield* Client.make({ followRedirects: true, auth: ["user", "pass"] })
      yield* client.get(`${a.server.url}${to(302, "/same")}`)
      expect(a.seen.map((s) => s.headers["authorization"])).toEqual([
        "Basic dXNlcjpwYXNz",
        "Basic dXNlcjpwYXNz"
      ])
      yield* client.get(`${a.server.url}${to(302, `${b.server.url}/other-port`)}`)
      expect(a.seen[2]!.headers["authorization"]).toBe("Basic dXNlcjpwYXNz")
      expect(b.seen[0]!.path).toBe("/other-port")
      expect(b.seen[0]!.headers["authorization"]).toBeUndefined()
    }))

  it.scopedLive("a header set by the caller is dropped the same way", () =>
    Effect.gen(function*() {
      const a = yield* redirectServer()
      const b = yield* redirectServer()
      const client = yield* Client.make({ followRedirects: true })
      yield* client.get(`${a.server.url}${to(307, `${b.server.url}/x`)}`, {
        headers: { Authorization: "Bearer secret" }
      })
      expect(a.seen[0]!.headers["authorization"]).toBe("Bearer secret")
      expect(b.seen[0]!.headers["authorization"]).toBeUndefined()
    }))

  it.effect("host change, https→http and port change drop it; a same-host upgrade to https keeps it", () =>
    Effect.gen(function*() {
      const { seen, transport } = mockTransport((request) => {
        const location = new URL(request.url).searchParams.get("to")
        return location === null ? { status: 200 } : { status: 302, headers: { location } }
      })
      const client = yield* Client.make({ transport, followRedirects: true, auth: Auth.bearer("t0ken") })
      const authorizationAtHop = (from: string, target: string) =>
        Effect.map(client.get(`${from}?to=${encodeURIComponent(target)}`), () => {
          const last = seen[seen.length - 1]!
          expect(last.url).toBe(target)
          return last.headers["authorization"]
        })
      expect(yield* authorizationAtHop("http://a.test/start", "http://a.test/same")).toBe("Bearer t0ken")
      expect(yield* authorizationAtHop("http://a.test/start", "http://b.test/other-host")).toBeUndefined()
      expect(yield* authorizationAtHop("http://a.test/start", "http://sub.a.test/subdomain")).toBeUndefined()
      expect(yield* authorizationAtHop("https://a.test/start", "http://a.test/downgrade")).toBeUndefined()
      expect(yield* authorizationAtHop("http://a.test:8080/start", "http://a.test:9090/port")).toBeUndefined()
      expect(yield* authorizationAtHop("http://a.test/start", "https://a.test/upgrade")).toBe("Bearer t0ken")
      // As httpx: the upgrade exception is for the default ports only; other ports may be another service.
      expect(yield* authorizationAtHop("http://a.test:8080/start", "https://a.test:8443/upgrade")).toBeUndefined()
    }).pipe(Effect.scoped))
})

// ---- cookies across hops -------------------------------------------------------------------------------------------

describe("Client redirects: cookies", () => {
  it.scopedLive("a cookie set by a redirect response goes to the next hop, selected again for each hop's path", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* redirectServer((req, res) => {
        if (req.url === "/a/start") {
          res.writeHead(302, { Location: "/a/next", "Set-Cookie": ["site=1; Path=/", "only-a=1; Path=/a"] })
          res.end()
          return true
        }
        if (req.url === "/a/next") {
          res.writeHead(302, { Location: "/b/end" })
          res.end()
          return true
        }
        return false
      })
      const client = yield* Client.make({ followRedirects: true })
      const response = yield* client.get(`${server.url}/a/start`)
      expect(response.text).toBe("at /b/end")
      expect(seen.map((s) => [s.path, s.headers["cookie"]])).toEqual([
        ["/a/start", undefined],
        ["/a/next", "only-a=1; site=1"],
        ["/b/end", "site=1"]
      ])
    }))
})

// ---- limits, history and connections --------------------------------------------------------------------------------

/** `/chain/<n>` redirects to `/chain/<n-1>` with a `bodySize`-byte body; `/chain/0` answers "end". */
const chainServer = (bodySize: number) =>
  redirectServer((req, res) => {
    const match = /^\/chain\/(\d+)$/.exec(req.url!)
    if (match === null) return false
    const n = Number(match[1])
    if (n === 0) {
      res.end("end")
    } else {
      res.writeHead(302, { Location: `/chain/${n - 1}`, "Content-Length": String(bodySize) })
      res.end(Buffer.alloc(bodySize, 120))
    }
    return true
  })

describe("Client redirects: limits and history", () => {
  it.scopedLive("maxRedirects: N allows N hops; the N+1th fails with TooManyRedirects", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* chainServer(10)
      const client = yield* Client.make({ followRedirects: true, maxRedirects: 3 })
      const ok = yield* client.get(`${server.url}/chain/3`)
      expect(ok.text).toBe("end")
      expect(ok.history.length).toBe(3)
      seen.length = 0
      const error = yield* Effect.flip(client.get(`${server.url}/chain/4`))
      expect(error._tag).toBe("TooManyRedirects")
      expect(error.message).toContain("3")
      expect(error.request?.url).toBe(`${server.url}/chain/4`)
      // Three hops followed, the fourth redirect not.
      expect(seen.map((s) => s.path)).toEqual(["/chain/4", "/chain/3", "/chain/2", "/chain/1"])
      // The same limit when streaming.
      const streamed = yield* Effect.flip(Effect.scoped(client.stream("GET", `${server.url}/chain/4`)))
      expect(streamed._tag).toBe("TooManyRedirects")
    }))

  it.scopedLive("maxRedirects defaults to 20", () =>
    Effect.gen(function*() {
      const { server } = yield* chainServer(0)
      const client = yield* Client.make({ followRedirects: true })
      expect((yield* client.get(`${server.url}/chain/20`)).history.length).toBe(20)
      expect((yield* Effect.flip(client.get(`${server.url}/chain/21`)))._tag).toBe("TooManyRedirects")
    }))

  it.scopedLive("every hop is in history, in order, with its own request", () =>
    Effect.gen(function*() {
      const { server } = yield* chainServer(5)
      const client = yield* Client.make({ followRedirects: true })
      const response = yield* client.get(`${server.url}/chain/4`)
      expect(response.history.map((r) => r.url)).toEqual([4, 3, 2, 1].map((n) => `${server.url}/chain/${n}`))
      expect(response.history.map((r) => r.request.url)).toEqual([4, 3, 2, 1].map((n) => `${server.url}/chain/${n}`))
      expect(response.history.map((r) => r.status)).toEqual([302, 302, 302, 302])
      expect(response.history.every((r) => r.content.length === 5)).toBe(true)
      // As httpx: each hop carries the hops before it.
      expect(response.history.map((r) => r.history.length)).toEqual([0, 1, 2, 3])
    }))

  // Bodies larger than the socket buffers: an intermediate response left unread would hold its connection.
  it.scopedLive("intermediate bodies never pin the connection: 5 hops on maxConnections 1 end with one IDLE", () =>
    Effect.gen(function*() {
      const { server } = yield* chainServer(256 * 1024)
      const client = yield* Client.make({ followRedirects: true, maxConnections: 1, timeout: 5_000 })
      const response = yield* client.get(`${server.url}/chain/5`)
      expect(response.text).toBe("end")
      expect(response.history.length).toBe(5)
      expect((yield* client.pool).map((c) => c.state)).toEqual(["IDLE"])
    }))

  it.scopedLive("the same in stream mode: the final body streams on the one connection, then it is IDLE", () =>
    Effect.gen(function*() {
      const { server } = yield* chainServer(256 * 1024)
      const client = yield* Client.make({ followRedirects: true, maxConnections: 1, timeout: 5_000 })
      const text = yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* client.stream("GET", `${server.url}/chain/5`)
        expect(response.history.length).toBe(5)
        expect(response.history[0]!.content.length).toBe(256 * 1024)
        return yield* Stream.mkString(response.text)
      }))
      expect(text).toBe("end")
      expect((yield* client.pool).map((c) => c.state)).toEqual(["IDLE"])
      expect(server.acceptedSockets()).toBe(1)
    }))
})
