/**
 * Credentials never leak: userinfo in a URL is Basic auth and leaves the URL everywhere else (request line, a forward
 * proxy's absolute-form, Host, request.url, response.url, history, messages); Authorization, Proxy-Authorization and
 * Cookie values never appear in a message or in a printed request, response or error; a caller's Proxy-Authorization
 * does not follow a redirect to another origin; and a Retry-After past `retry.maxRetryAfter` is not waited for.
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, TestClock } from "effect"
import { Auth, Client, HttpError, Platform, Pool, Transport } from "httpfx"
import type * as http from "node:http"
import * as util from "node:util"
import { make as makeRequest } from "../../src/internal/message/request.js"
import { httpServer, rawServer } from "../utils/servers.js"

// ---- helpers -------------------------------------------------------------------------------------------------------

const SECRET = "s3cr3t-value"

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`

/** A raw server that records each request head as it came, and answers 200 with `ok`. */
const recordingServer = () =>
  Effect.suspend(() => {
    const heads: Array<string> = []
    return Effect.map(
      rawServer((socket) => {
        let buffered = ""
        socket.on("data", (data) => {
          buffered += data.toString("latin1")
          let end: number
          while ((end = buffered.indexOf("\r\n\r\n")) >= 0) {
            heads.push(buffered.slice(0, end))
            buffered = buffered.slice(end + 4)
            socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
          }
        })
      }),
      (server) => ({ server, heads })
    )
  })

const requestLine = (head: string) => head.split("\r\n")[0]
const field = (head: string, name: string): string | undefined => {
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":")
    if (line.slice(0, colon).toLowerCase() === name) return line.slice(colon + 1).trim()
  }
  return undefined
}

/** Every way a value may be printed: String, JSON.stringify, util.inspect (deep). */
const printed = (value: unknown): string =>
  [String(value), JSON.stringify(value), util.inspect(value, { depth: 10, getters: false })].join("\n")

// ---- userinfo ------------------------------------------------------------------------------------------------------

describe("credentials in the URL", () => {
  it.scoped("are sent as Basic auth (percent-decoded, UTF-8) and leave the request line, Host and response.url", () =>
    Effect.gen(function*() {
      const { heads, server } = yield* recordingServer()
      const client = yield* Client.make()
      const url = `http://alice:p%40ss%C3%BC@127.0.0.1:${server.port}/x?y=1`
      const response = yield* client.get(url)
      expect(field(heads[0]!, "authorization")).toBe(basic("alice", "p@ssü"))
      expect(requestLine(heads[0]!)).toBe("GET /x?y=1 HTTP/1.1")
      expect(field(heads[0]!, "host")).toBe(`127.0.0.1:${server.port}`)
      expect(response.url).toBe(`${server.url}/x?y=1`)
      expect(response.request.url).toBe(`${server.url}/x?y=1`)
    }))

  it.scoped("through a client with more features (the full request path), leave request.url too", () =>
    Effect.gen(function*() {
      const { heads, server } = yield* recordingServer()
      const client = yield* Client.make({ followRedirects: true, retry: 1 })
      const request = client.buildRequest("GET", `http://bob:${SECRET}@127.0.0.1:${server.port}/a`)
      expect(request.url).toBe(`${server.url}/a`)
      expect(request.headers.authorization).toBe(basic("bob", SECRET))
      const response = yield* client.send(request)
      expect(field(heads[0]!, "authorization")).toBe(basic("bob", SECRET))
      expect(response.url).toBe(`${server.url}/a`)
      expect(printed(response)).not.toContain(SECRET)
    }))

  it.scoped("a request given whole to send loses them from its URL as well", () =>
    Effect.gen(function*() {
      const { heads, server } = yield* recordingServer()
      const client = yield* Client.make({ followRedirects: true })
      const response = yield* client.send(
        makeRequest({ method: "GET", url: `http://bob:${SECRET}@127.0.0.1:${server.port}/plain` })
      )
      expect(field(heads[0]!, "authorization")).toBe(basic("bob", SECRET))
      expect(response.request.url).toBe(`${server.url}/plain`)
    }))

  it.scoped("are not used when the request has auth, nor when it sets Authorization itself", () =>
    Effect.gen(function*() {
      const { heads, server } = yield* recordingServer()
      const client = yield* Client.make()
      const url = `http://bob:${SECRET}@127.0.0.1:${server.port}/`
      const withAuth = yield* client.get(url, { auth: Auth.bearer("token") })
      const withHeader = yield* client.get(url, { headers: { Authorization: "Custom x" } })
      expect(field(heads[0]!, "authorization")).toBe("Bearer token")
      expect(field(heads[1]!, "authorization")).toBe("Custom x")
      expect(heads.join("\n")).not.toContain(Buffer.from(`bob:${SECRET}`).toString("base64"))
      expect([withAuth.url, withHeader.url]).toEqual([`${server.url}/`, `${server.url}/`])
    }))

  it.scoped("in baseUrl, are Basic auth for relative requests", () =>
    Effect.gen(function*() {
      const { heads, server } = yield* recordingServer()
      const client = yield* Client.make({ baseUrl: `http://carol:${SECRET}@127.0.0.1:${server.port}/api` })
      const response = yield* client.get("/users")
      expect(requestLine(heads[0]!)).toBe("GET /api/users HTTP/1.1")
      expect(field(heads[0]!, "authorization")).toBe(basic("carol", SECRET))
      expect(response.url).toBe(`${server.url}/api/users`)
    }))

  it.scoped("given to a pool directly, are an Authorization field, unless the caller sets one", () =>
    Effect.gen(function*() {
      const { heads, server } = yield* recordingServer()
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `http://dave:${SECRET}@127.0.0.1:${server.port}/p#frag`)
      yield* pool.request("GET", `http://dave:${SECRET}@127.0.0.1:${server.port}/q`, {
        headers: { authorization: "Bearer mine" }
      })
      expect(requestLine(heads[0]!)).toBe("GET /p HTTP/1.1")
      expect(field(heads[0]!, "authorization")).toBe(basic("dave", SECRET))
      expect(field(heads[1]!, "authorization")).toBe("Bearer mine")
      expect(response.url).toBe(`${server.url}/p#frag`)
      expect(printed(response.request)).not.toContain(SECRET)
    }))

  it.scoped("never reach a forward proxy's request line, which has no fragment either", () =>
    Effect.gen(function*() {
      const { heads, server } = yield* recordingServer()
      const client = yield* Client.make({ proxy: `http://proxyuser:pw@127.0.0.1:${server.port}` })
      const response = yield* client.get(`http://erin:${SECRET}@origin.test:8080/a?b=1#section`)
      expect(requestLine(heads[0]!)).toBe("GET http://origin.test:8080/a?b=1 HTTP/1.1")
      expect(field(heads[0]!, "host")).toBe("origin.test:8080")
      expect(field(heads[0]!, "authorization")).toBe(basic("erin", SECRET))
      expect(field(heads[0]!, "proxy-authorization")).toBe(basic("proxyuser", "pw"))
      expect(response.url).toBe("http://origin.test:8080/a?b=1#section")
    }))

  it.scoped("are in no error message nor request of a failure (connect, bad URL, scheme, control character)", () =>
    Effect.gen(function*() {
      const client = yield* Client.make()
      const pool = yield* Pool.make()
      const urls = [
        `http://frank:${SECRET}@127.0.0.1:1/`,
        `http://frank:${SECRET}@exa mple.test:99999/`,
        `ftp://frank:${SECRET}@example.test/`,
        `http://frank:${SECRET}@example.test/a\r\nb`,
        `frank:${SECRET}@example.test/`,
        // WHATWG URL parsing drops leading spaces and controls and every tab and line break: no place to hide them
        ` http://frank:${SECRET}@example.test/\n`,
        `ht\ttp://frank:${SECRET}@example.test/`,
        `\u0001http://frank:${SECRET}@[bad/`
      ]
      for (const url of urls) {
        for (const error of [yield* Effect.flip(client.get(url)), yield* Effect.flip(pool.request("GET", url))]) {
          expect(HttpError.isHttpError(error)).toBe(true)
          expect(error.message).not.toContain(SECRET)
          expect(error.request?.url).not.toContain(SECRET)
          expect(printed(error)).not.toContain(SECRET)
        }
      }
    }))

  it.scoped("are kept out of a redirect chain: history, and a Location's own credentials are not used", () =>
    Effect.gen(function*() {
      const seen: Array<http.IncomingHttpHeaders> = []
      const server = yield* httpServer((req, res) => {
        seen.push(req.headers)
        if (req.url === "/start") {
          res.writeHead(302, { Location: `http://mallory:${SECRET}@127.0.0.1:${(req.socket.localPort)}/end` })
          res.end()
        } else {
          res.end("end")
        }
      })
      const client = yield* Client.make({ followRedirects: true })
      const response = yield* client.get(`http://gina:pw@127.0.0.1:${server.port}/start`)
      expect(response.url).toBe(`${server.url}/end`)
      expect(response.history.map((hop) => hop.url)).toEqual([`${server.url}/start`])
      // Same origin: the caller's own credentials follow; the Location's are not sent.
      expect(seen[1]!.authorization).toBe(basic("gina", "pw"))
      expect(printed(response)).not.toContain(SECRET)
    }))
})

// ---- redaction -----------------------------------------------------------------------------------------------------

describe("secret header values", () => {
  it.scoped("an invalid Authorization or Cookie value is refused without quoting it", () =>
    Effect.gen(function*() {
      const { server } = yield* recordingServer()
      const client = yield* Client.make()
      const pool = yield* Pool.make()
      const bearer = yield* Effect.flip(client.get(`${server.url}/`, { auth: Auth.bearer(`${SECRET}\r\nX: 1`) }))
      const cookie = yield* Effect.flip(pool.request("GET", `${server.url}/`, { headers: { cookie: `a=${SECRET}\n` } }))
      const proxy = yield* Effect.flip(
        client.get(`${server.url}/`, { headers: { "proxy-authorization": `Basic ${SECRET}\n` } })
      )
      expect(bearer._tag).toBe("LocalProtocolError")
      expect(bearer.message).toContain(`"Bearer <redacted>"`)
      expect(cookie.message).toContain(`"<redacted>"`)
      expect(proxy.message).toContain(`"Basic <redacted>"`)
      for (const error of [bearer, cookie, proxy]) expect(printed(error)).not.toContain(SECRET)
    }))

  it.scoped("an invalid secret value refused by an in-process app's runtime is not quoted either", () =>
    Effect.gen(function*() {
      const client = yield* Client.make({ transport: Transport.handler(() => new Response("ok")) })
      const error = yield* Effect.flip(
        client.send(makeRequest({
          method: "GET",
          url: "http://app.test/",
          headers: Headers.unsafeFromRecord({ authorization: `Bearer ${SECRET}\nX: 1` })
        }))
      )
      expect(error.message).toContain("Bearer <redacted>")
      expect(printed(error)).not.toContain(SECRET)
    }))

  it.scoped("printed requests, responses and status errors show no Authorization, Proxy-Authorization, Cookie", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_, res) => {
        res.writeHead(500, { "Set-Cookie": `session=${SECRET}` })
        res.end("no")
      })
      const client = yield* Client.make({ auth: Auth.bearer(SECRET), followRedirects: true })
      const headers = { cookie: `sid=${SECRET}`, "proxy-authorization": `Basic ${SECRET}` }
      const response = yield* client.get(`${server.url}/`, { headers })
      expect(response.request.headers.authorization).toBe(`Bearer ${SECRET}`)
      const request = printed(response.request)
      expect(request).toContain("Bearer <redacted>")
      expect(request).toContain(`${server.url}/`)
      for (const text of [request, printed(response)]) expect(text).not.toContain(SECRET)
      const error = yield* Effect.flip(response.raiseForStatus)
      expect(printed(error)).not.toContain(SECRET)
      const streamed = yield* client.stream("GET", `${server.url}/`, { headers })
      expect(printed(streamed)).not.toContain(SECRET)
      const streamError = yield* Effect.flip(streamed.raiseForStatus)
      expect(printed(streamError)).not.toContain(SECRET)
    }))

  it.scoped("a platform response over httpfx is printed without them, outside any fiber", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_, res) => {
        res.writeHead(200, { "Set-Cookie": `session=${SECRET}` })
        res.end("ok")
      })
      const response = yield* HttpClient.get(`${server.url}/`, {
        headers: { authorization: `Bearer ${SECRET}`, cookie: `sid=${SECRET}` }
      }).pipe(Effect.provide(Platform.layer()))
      expect(response.request.headers.authorization).toBe(`Bearer ${SECRET}`)
      expect(printed(response)).not.toContain(SECRET)
    }))

  it.scoped("a request a custom auth flow spreads into a plain object is printed redacted once sent", () =>
    Effect.gen(function*() {
      const { server } = yield* recordingServer()
      const flow = Auth.make((request, send) =>
        send({ ...request, headers: Headers.set(request.headers, "authorization", `Token ${SECRET}`) })
      )
      const client = yield* Client.make({ auth: flow })
      const response = yield* client.get(`${server.url}/`)
      expect(printed(response.request)).not.toContain(SECRET)
      expect(printed(response)).not.toContain(SECRET)
    }))
})

// ---- Proxy-Authorization across redirects -------------------------------------------------------------------------

describe("a caller's Proxy-Authorization and redirects", () => {
  /** Records each request's headers; `/go` redirects to `/hop`, `/hop` to the URL in its `next` parameter. */
  const redirecting = () =>
    Effect.suspend(() => {
      const seen: Array<http.IncomingHttpHeaders> = []
      return Effect.map(
        httpServer((req, res) => {
          seen.push(req.headers)
          const url = new URL(req.url!, "http://x")
          if (url.pathname === "/go") {
            res.writeHead(302, { Location: `/hop${url.search}` })
            res.end()
          } else if (url.pathname === "/hop") {
            res.writeHead(302, { Location: `${url.searchParams.get("next")}/landed` })
            res.end()
          } else {
            res.end("here")
          }
        }),
        (server) => ({ server, seen })
      )
    })

  it.scoped("follows a redirect within the origin and is dropped on one to another origin", () =>
    Effect.gen(function*() {
      const other = yield* redirecting()
      const first = yield* redirecting()
      const client = yield* Client.make({ followRedirects: true })
      // /go → /hop on the same origin → /landed on another (another port)
      yield* client.get(`${first.server.url}/go`, {
        headers: { "Proxy-Authorization": `Basic ${SECRET}` },
        params: { next: other.server.url }
      })
      const sent = first.seen.map((headers) => headers["proxy-authorization"])
      expect(sent).toEqual([`Basic ${SECRET}`, `Basic ${SECRET}`])
      expect(other.seen[0]!["proxy-authorization"]).toBeUndefined()
    }))
})

// ---- Retry-After cap -----------------------------------------------------------------------------------------------

describe("retry.maxRetryAfter", () => {
  /** Answers 503 with `retryAfter` to the first request, then 200; counts requests. */
  const busyOnce = (retryAfter: string) => {
    let count = 0
    const transport = Transport.mock(() =>
      count++ === 0
        ? new Response("busy", { status: 503, headers: { "retry-after": retryAfter } })
        : new Response("done")
    )
    return { transport, count: () => count }
  }

  it.effect("a 503 asking for a day is returned at once, without sleeping (default cap 60 s)", () =>
    Effect.gen(function*() {
      const { count, transport } = busyOnce("86400")
      const client = yield* Client.make({ transport, retry: { times: 3, backoff: "1 millis" } })
      const fiber = yield* Effect.fork(client.get("http://api.test/"))
      yield* TestClock.adjust("0 millis")
      const response = yield* Fiber.join(fiber)
      expect(response.status).toBe(503)
      expect(response.text).toBe("busy")
      expect(count()).toBe(1)
    }).pipe(Effect.scoped))

  it.effect("a Retry-After under the cap is waited for", () =>
    Effect.gen(function*() {
      const { count, transport } = busyOnce("60")
      const client = yield* Client.make({ transport, retry: { times: 3, backoff: "1 millis" } })
      const fiber = yield* Effect.fork(client.get("http://api.test/"))
      yield* TestClock.adjust("59999 millis")
      expect(count()).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(fiber)).text).toBe("done")
      expect(count()).toBe(2)
    }).pipe(Effect.scoped))

  it.effect("the cap is configurable: lower refuses 30 s, higher waits 90 s", () =>
    Effect.gen(function*() {
      const low = busyOnce("30")
      const lowClient = yield* Client.make({
        transport: low.transport,
        retry: { times: 3, backoff: "1 millis", maxRetryAfter: "10 seconds" }
      })
      const lowFiber = yield* Effect.fork(lowClient.get("http://api.test/"))
      yield* TestClock.adjust("0 millis")
      expect((yield* Fiber.join(lowFiber)).status).toBe(503)
      expect(low.count()).toBe(1)

      const high = busyOnce("90")
      const highClient = yield* Client.make({
        transport: high.transport,
        retry: { times: 3, backoff: "1 millis", maxRetryAfter: "2 minutes" }
      })
      const highFiber = yield* Effect.fork(highClient.get("http://api.test/"))
      yield* TestClock.adjust("89999 millis")
      expect(high.count()).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(highFiber)).status).toBe(200)
    }).pipe(Effect.scoped))
})

describe("printing a client or a pool", () => {
  it.scoped("shows no credential of the base URL, the default headers or the proxy", () =>
    Effect.gen(function*() {
      const client = yield* Client.make({
        baseUrl: `http://alice:${SECRET}@127.0.0.1:8080/api`,
        headers: { authorization: `Bearer ${SECRET}`, "x-trace": "visible" },
        proxy: `http://bob:${SECRET}@127.0.0.1:3128`
      })
      const pool = yield* Pool.make({ proxy: `socks5://bob:${SECRET}@127.0.0.1:1080` })
      const printed = [
        JSON.stringify(client),
        util.inspect(client, { depth: 10 }),
        JSON.stringify(pool),
        util.inspect(pool, { depth: 10 })
      ]
      for (const text of printed) {
        expect(text).not.toContain(SECRET)
      }
      expect(util.inspect(client, { depth: 10 })).toContain("visible")
      expect(JSON.stringify(client)).toContain("http://127.0.0.1:8080/api/")
      expect(JSON.stringify(pool)).toContain("socks5://127.0.0.1:1080")
    }))
})
