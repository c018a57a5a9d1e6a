/**
 * Cookies and auth through the client, end to end: the jar across requests (on by default, off, shared, its
 * Domain/Path/Max-Age rules as a server sees them), and auth from the client or the request: Basic, Bearer, a
 * username/password pair, Digest against a server that checks every answer, and a custom flow that retries.
 */
import * as Headers from "@effect/platform/Headers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Auth, Client, Transport } from "httpfx"
import { createHash, randomBytes } from "node:crypto"
import type * as http from "node:http"
import { CookieJar } from "../../src/internal/pipeline/cookieJar.js"
import type { Request } from "../../src/internal/message/request.js"
import { StreamBodyResponse } from "../../src/internal/message/response.js"
import { httpServer } from "../utils/servers.js"

// ---- helpers -------------------------------------------------------------------------------------------------------

interface Seen {
  readonly method: string
  readonly path: string
  readonly headers: http.IncomingHttpHeaders
}

/**
 * Records every request. `/set?<Set-Cookie value>` answers with that Set-Cookie; anything else answers with the
 * Cookie header it received.
 */
const cookieServer = () =>
  Effect.suspend(() => {
    const seen: Array<Seen> = []
    return Effect.map(
      httpServer((req, res) => {
        seen.push({ method: req.method!, path: req.url!, headers: req.headers })
        const url = new URL(req.url!, "http://x")
        if (url.pathname.endsWith("/set")) res.setHeader("Set-Cookie", decodeURIComponent(url.search.slice(1)))
        res.end(req.headers["cookie"] ?? "")
      }),
      (server) => ({ server, seen })
    )
  })

const setCookie = (path: string, value: string) => `${path}?${encodeURIComponent(value)}`

/** An in-memory transport answering with `respond` and recording the requests it is handed. */
const mockTransport = (respond: (request: Request) => { status: number; headers?: Record<string, string> }) => {
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
        Stream.empty,
        Effect.void,
        performance.now()
      )
    })
  )
  return { seen, transport }
}

// ---- cookies -------------------------------------------------------------------------------------------------------

describe("Client cookies", () => {
  it.scopedLive("the jar is on by default: a cookie the server sets is sent with the next request", () =>
    Effect.gen(function*() {
      const { server } = yield* cookieServer()
      const client = yield* Client.make()
      const set = yield* client.get(`${server.url}${setCookie("/set", "session=abc; HttpOnly")}`)
      expect(set.text).toBe("")
      expect((yield* client.get(`${server.url}/check`)).text).toBe("session=abc")
      // A later Set-Cookie replaces it.
      yield* client.get(`${server.url}${setCookie("/set", "session=def")}`)
      expect((yield* client.get(`${server.url}/check`)).text).toBe("session=def")
    }))

  it.scopedLive("cookies: false keeps no jar; a Cookie header given by the caller still goes out", () =>
    Effect.gen(function*() {
      const { server } = yield* cookieServer()
      const client = yield* Client.make({ cookies: false })
      yield* client.get(`${server.url}${setCookie("/set", "session=abc")}`)
      expect((yield* client.get(`${server.url}/check`)).text).toBe("")
      expect((yield* client.get(`${server.url}/check`, { headers: { Cookie: "mine=1" } })).text).toBe("mine=1")
    }))

  it.scopedLive("Path: a cookie for /sub goes to /sub and below, not elsewhere", () =>
    Effect.gen(function*() {
      const { server } = yield* cookieServer()
      const client = yield* Client.make()
      yield* client.get(`${server.url}${setCookie("/set", "scoped=1; Path=/sub")}`)
      yield* client.get(`${server.url}${setCookie("/set", "everywhere=1; Path=/")}`)
      expect((yield* client.get(`${server.url}/sub`)).text).toBe("scoped=1; everywhere=1")
      expect((yield* client.get(`${server.url}/sub/deeper`)).text).toBe("scoped=1; everywhere=1")
      expect((yield* client.get(`${server.url}/subway`)).text).toBe("everywhere=1")
      expect((yield* client.get(`${server.url}/other`)).text).toBe("everywhere=1")
    }))

  it.scopedLive("Max-Age: a positive one keeps the cookie, Max-Age=0 removes it", () =>
    Effect.gen(function*() {
      const { server } = yield* cookieServer()
      const client = yield* Client.make()
      yield* client.get(`${server.url}${setCookie("/set", "kept=1; Max-Age=3600; Path=/")}`)
      yield* client.get(`${server.url}${setCookie("/set", "gone=1; Path=/")}`)
      expect((yield* client.get(`${server.url}/check`)).text).toBe("kept=1; gone=1")
      yield* client.get(`${server.url}${setCookie("/set", "gone=; Max-Age=0; Path=/")}`)
      expect((yield* client.get(`${server.url}/check`)).text).toBe("kept=1")
    }))

  it.effect("Domain: a domain cookie reaches sibling subdomains, a host-only one does not", () =>
    Effect.gen(function*() {
      const { seen, transport } = mockTransport((request) =>
        request.url === "http://www.example.test/login"
          ? { status: 200, headers: { "set-cookie": "wide=1; Domain=example.test" } }
          : request.url === "http://www.example.test/host-only"
          ? { status: 200, headers: { "set-cookie": "narrow=1" } }
          : { status: 200 }
      )
      const client = yield* Client.make({ transport })
      yield* client.get("http://www.example.test/login")
      yield* client.get("http://www.example.test/host-only")
      yield* client.get("http://api.example.test/")
      yield* client.get("http://example.test/")
      yield* client.get("http://www.example.test/")
      yield* client.get("http://other.test/")
      expect(seen.slice(2).map((r) => [r.url, r.headers["cookie"]])).toEqual([
        ["http://api.example.test/", "wide=1"],
        ["http://example.test/", "wide=1"],
        ["http://www.example.test/", "wide=1; narrow=1"],
        ["http://other.test/", undefined]
      ])
    }).pipe(Effect.scoped))

  it.effect("Domain: a public suffix (co.uk, github.io) is refused; a site's cookie never reaches its neighbours", () =>
    Effect.gen(function*() {
      const { seen, transport } = mockTransport((request) =>
        request.url === "http://www.example.co.uk/login"
          ? { status: 200, headers: { "set-cookie": "site=1; Domain=co.uk" } }
          : request.url === "http://alice.github.io/login"
          ? { status: 200, headers: { "set-cookie": "pages=1; Domain=github.io" } }
          : { status: 200 }
      )
      const client = yield* Client.make({ transport })
      yield* client.get("http://www.example.co.uk/login")
      yield* client.get("http://alice.github.io/login")
      yield* client.get("http://other.co.uk/")
      yield* client.get("http://mallory.github.io/")
      expect(seen.slice(2).map((r) => r.headers["cookie"])).toEqual([undefined, undefined])
      expect(client.cookies?.isEmpty).toBe(true)
    }).pipe(Effect.scoped))

  it.scopedLive("a seeded value a Cookie header cannot carry is refused by set, and later requests still go out", () =>
    Effect.gen(function*() {
      const { server } = yield* cookieServer()
      const client = yield* Client.make()
      client.cookies?.set("ok", "1")
      expect(() => client.cookies?.set("theme", "dunkel–blau")).toThrow(TypeError)
      expect((yield* client.get(`${server.url}/check`)).text).toBe("ok=1")
    }))

  it.scopedLive("a CookieJar passed in is used and shared between clients", () =>
    Effect.gen(function*() {
      const { server } = yield* cookieServer()
      const jar = new CookieJar()
      jar.set("preset", "yes")
      const first = yield* Client.make({ cookies: jar })
      const second = yield* Client.make({ cookies: jar })
      expect((yield* first.get(`${server.url}/check`)).text).toBe("preset=yes")
      yield* first.get(`${server.url}${setCookie("/set", "shared=1")}`)
      expect((yield* second.get(`${server.url}/check`)).text).toBe("preset=yes; shared=1")
      expect(jar.toArray().map((c) => c.name)).toEqual(["preset", "shared"])
    }))
})

// ---- Basic, Bearer and per-request auth -----------------------------------------------------------------------------

const authServer = () =>
  httpServer((req, res) => {
    res.end(req.headers["authorization"] ?? "none")
  })

describe("Client auth: Basic and Bearer", () => {
  it.scopedLive("client auth goes with every request; a request's auth replaces it; auth: null disables it", () =>
    Effect.gen(function*() {
      const server = yield* authServer()
      const client = yield* Client.make({ auth: Auth.basic("user", "pass") })
      const authorization = (options?: Client.RequestOptions) =>
        Effect.map(client.get(`${server.url}/`, options), (r) => r.text)
      expect(yield* authorization()).toBe(`Basic ${Buffer.from("user:pass").toString("base64")}`)
      expect(yield* authorization({ auth: Auth.bearer("tok") })).toBe("Bearer tok")
      expect(yield* authorization({ auth: ["other", "pw"] })).toBe(
        `Basic ${Buffer.from("other:pw").toString("base64")}`
      )
      expect(yield* authorization({ auth: null })).toBe("none")
    }))

  it.scopedLive("a [user, password] pair is Basic, for the client and per request; Bearer per request", () =>
    Effect.gen(function*() {
      const server = yield* authServer()
      const client = yield* Client.make({ auth: ["ünï", "cödé"] })
      expect((yield* client.get(`${server.url}/`)).text).toBe(
        `Basic ${Buffer.from("ünï:cödé", "utf8").toString("base64")}`
      )
      const plain = yield* Client.make()
      expect((yield* plain.get(`${server.url}/`)).text).toBe("none")
      expect((yield* plain.get(`${server.url}/`, { auth: Auth.bearer("abc.def") })).text).toBe("Bearer abc.def")
      // Through stream and send too.
      const streamed = yield* Effect.scoped(
        Effect.flatMap(plain.stream("GET", `${server.url}/`, { auth: ["u", "p"] }), (r) => r.read)
      )
      expect(streamed.text).toBe(`Basic ${Buffer.from("u:p").toString("base64")}`)
      const sent = yield* plain.send(plain.buildRequest("GET", `${server.url}/`, { auth: Auth.bearer("b") }))
      expect(sent.text).toBe("Bearer b")
    }))
})

// ---- Digest --------------------------------------------------------------------------------------------------------

/** The auth-params of a Digest Authorization value. */
const digestParams = (value: string): Map<string, string> => {
  const params = new Map<string, string>()
  for (const match of value.replace(/^Digest\s+/i, "").matchAll(/([\w*]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params.set(match[1]!.toLowerCase(), match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3]!)
  }
  return params
}

const md5 = (s: string) => createHash("md5").update(s).digest("hex")

/**
 * A server guarding everything with Digest MD5, qop=auth (RFC 7616): it checks each answer on its own and counts
 * challenges and accepted requests.
 */
const digestServer = (user: string, password: string) =>
  Effect.suspend(() => {
    const realm = "test@httpfx"
    const nonce = randomBytes(16).toString("hex")
    const stats = { challenges: 0, accepted: 0, rejected: 0, bodies: [] as Array<string> }
    const challenge = () => {
      stats.challenges++
      return `Digest realm="${realm}", qop="auth", nonce="${nonce}", algorithm=MD5, opaque="op"`
    }
    const server = httpServer((req, res) => {
      const parts: Array<Buffer> = []
      req.on("data", (part: Buffer) => parts.push(part))
      req.on("end", () => {
        const header = req.headers["authorization"]
        if (header === undefined || !header.startsWith("Digest ")) {
          res.writeHead(401, { "WWW-Authenticate": challenge() })
          res.end("who are you?")
          return
        }
        const p = digestParams(header)
        const ha1 = md5(`${user}:${realm}:${password}`)
        const ha2 = md5(`${req.method}:${p.get("uri")}`)
        const expected = md5(`${ha1}:${nonce}:${p.get("nc")}:${p.get("cnonce")}:${p.get("qop")}:${ha2}`)
        const ok = p.get("username") === user && p.get("realm") === realm && p.get("nonce") === nonce &&
          p.get("uri") === req.url && p.get("qop") === "auth" && p.get("opaque") === "op" &&
          p.get("response") === expected
        if (!ok) {
          stats.rejected++
          res.writeHead(401, { "WWW-Authenticate": challenge() })
          res.end("wrong")
          return
        }
        stats.accepted++
        stats.bodies.push(Buffer.concat(parts).toString())
        res.end(`welcome ${user}`)
      })
    })
    return Effect.map(server, (info) => ({ server: info, stats }))
  })

describe("Client auth: Digest", () => {
  it.scopedLive("answers the server's challenge; the server verifies it; the next request needs no challenge", () =>
    Effect.gen(function*() {
      const { server, stats } = yield* digestServer("Mufasa", "Circle of Life")
      const client = yield* Client.make({ auth: Auth.digest("Mufasa", "Circle of Life") })
      const first = yield* client.get(`${server.url}/dir/index.html?x=1`)
      expect(first.status).toBe(200)
      expect(first.text).toBe("welcome Mufasa")
      expect(stats).toMatchObject({ challenges: 1, accepted: 1, rejected: 0 })
      // The remembered challenge is answered up front (nc=2), with a body too.
      const second = yield* client.post(`${server.url}/submit`, { json: { a: 1 } })
      expect(second.text).toBe("welcome Mufasa")
      expect(stats).toMatchObject({ challenges: 1, accepted: 2, rejected: 0 })
      expect(stats.bodies[1]).toBe("{\"a\":1}")
    }))

  it.scopedLive("a POST body is sent twice (401, then the answer) and the server gets it whole the second time", () =>
    Effect.gen(function*() {
      const { server, stats } = yield* digestServer("u", "p")
      const client = yield* Client.make()
      const response = yield* client.post(`${server.url}/form`, { form: { a: "1" }, auth: Auth.digest("u", "p") })
      expect(response.text).toBe("welcome u")
      expect(stats.bodies).toEqual(["a=1"])
    }))

  it.scopedLive("wrong credentials: the 401 is returned, not retried forever", () =>
    Effect.gen(function*() {
      const { server, stats } = yield* digestServer("u", "p")
      const client = yield* Client.make({ auth: Auth.digest("u", "wrong") })
      const response = yield* client.get(`${server.url}/`)
      expect(response.status).toBe(401)
      expect(stats.rejected).toBe(1)
      expect(stats.accepted).toBe(0)
    }))

  it.scopedLive("a challenge it cannot answer fails stream() and releases the 401 though the scope lives on", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        // No realm: malformed.
        if (req.url === "/malformed") res.writeHead(401, { "WWW-Authenticate": "Digest nonce=\"abc\"" })
        res.end("x".repeat(256 * 1024))
      })
      const client = yield* Client.make({ maxConnections: 1, timeout: { pool: 1_000 } })
      const error = yield* Effect.flip(client.stream("GET", `${server.url}/malformed`, { auth: Auth.digest("u", "p") }))
      expect(error._tag).toBe("RemoteProtocolError")
      expect(error.message).toContain("realm")
      // The test's scope is still open: the 401 must not hold the only connection.
      expect((yield* client.get(`${server.url}/fine`)).status).toBe(200)
    }))

  it.scopedLive("streaming: the 401's connection is released before the answer goes out (maxConnections 1)", () =>
    Effect.gen(function*() {
      const { server } = yield* digestServer("u", "p")
      const client = yield* Client.make({ auth: Auth.digest("u", "p"), maxConnections: 1, timeout: { pool: 2_000 } })
      const text = yield* Effect.scoped(
        Effect.flatMap(client.stream("GET", `${server.url}/s`), (r) => Stream.mkString(r.text))
      )
      expect(text).toBe("welcome u")
      expect((yield* client.pool).map((c) => c.state)).toEqual(["IDLE"])
    }))
})

// ---- custom flows --------------------------------------------------------------------------------------------------

/** A server that wants `Bearer fresh`; anything else gets a 401 with a body too large to sit in socket buffers. */
const tokenServer = () =>
  Effect.suspend(() => {
    const seen: Array<string | undefined> = []
    return Effect.map(
      httpServer((req, res) => {
        seen.push(req.headers["authorization"])
        if (req.headers["authorization"] === "Bearer fresh") {
          res.end("granted")
        } else {
          res.writeHead(401, { "Content-Length": String(512 * 1024) })
          res.end(Buffer.alloc(512 * 1024, 46))
        }
      }),
      (server) => ({ server, seen })
    )
  })

const refreshing = (refreshes: { count: number }) =>
  Auth.make((request, send) =>
    Effect.gen(function*() {
      const stale = Headers.set(request.headers, "authorization", "Bearer stale")
      const response = yield* send({ ...request, headers: stale })
      if (response.status !== 401) return response
      refreshes.count++
      return yield* send({ ...request, headers: Headers.set(request.headers, "authorization", "Bearer fresh") })
    })
  )

describe("Client auth: custom flows", () => {
  it.scopedLive("Auth.make: a flow that retries after a 401 with a fresh token", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* tokenServer()
      const refreshes = { count: 0 }
      const client = yield* Client.make({ auth: refreshing(refreshes) })
      const response = yield* client.get(`${server.url}/private`)
      expect(response.status).toBe(200)
      expect(response.text).toBe("granted")
      expect(seen).toEqual(["Bearer stale", "Bearer fresh"])
      expect(refreshes.count).toBe(1)
    }))

  it.scopedLive("streaming with maxConnections 1: the first response's connection is released, not pinned", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* tokenServer()
      const client = yield* Client.make({ maxConnections: 1, timeout: { pool: 2_000 } })
      const refreshes = { count: 0 }
      for (let i = 0; i < 3; i++) {
        const text = yield* Effect.scoped(
          Effect.flatMap(
            client.stream("GET", `${server.url}/private`, { auth: refreshing(refreshes) }),
            (r) => Stream.mkString(r.text)
          )
        )
        expect(text).toBe("granted")
      }
      expect(refreshes.count).toBe(3)
      expect(seen.length).toBe(6)
      expect((yield* client.pool).filter((c) => c.state === "ACTIVE")).toEqual([])
    }))

  it.scopedLive("buffered with maxConnections 1 works the same", () =>
    Effect.gen(function*() {
      const { server } = yield* tokenServer()
      const client = yield* Client.make({ maxConnections: 1, timeout: { pool: 2_000 }, auth: refreshing({ count: 0 }) })
      for (let i = 0; i < 3; i++) expect((yield* client.get(`${server.url}/private`)).text).toBe("granted")
      expect((yield* client.pool).map((c) => c.state)).toEqual(["IDLE"])
    }))
})
