/**
 * `Client.Options.middleware`: steps of the user's own between the client and its transport. They see every request
 * the client sends (redirect hops, retries, auth round trips) with its final headers, on every entry point, and what
 * they change goes on the wire.
 */
import { HttpClient } from "@effect/platform"
import * as Headers from "@effect/platform/Headers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Auth, Client, HttpError, Platform, Transport } from "httpfx"
import type * as http from "node:http"
import { httpServer } from "../utils/servers.js"

interface Seen {
  readonly method: string
  readonly path: string
  readonly headers: Headers.Headers
}

/** A middleware that records each request it is given, then passes it on. */
const recorder = () => {
  const seen: Array<Seen> = []
  const middleware: Transport.Middleware = (next) =>
    Transport.make((request) => {
      seen.push({ method: request.method, path: new URL(request.url).pathname, headers: request.headers })
      return next.handle(request)
    })
  return { seen, middleware }
}

/** The server's side: what reached the wire. */
const serverLog = () => {
  const wire: Array<{ path: string; headers: http.IncomingHttpHeaders }> = []
  return { wire, record: (req: http.IncomingMessage) => wire.push({ path: req.url ?? "", headers: req.headers }) }
}

describe("Client.Options.middleware", () => {
  it.scopedLive("sees every hop of a redirect chain, with the cookie and auth the client added", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        if (req.url === "/start") {
          res.writeHead(302, { location: "/next", "set-cookie": "session=abc; Path=/" })
          return res.end()
        }
        res.end("done")
      })
      const { middleware, seen } = recorder()
      const client = yield* Client.make({ middleware: [middleware], followRedirects: true, auth: ["ann", "pw"] })
      const response = yield* client.get(`${server.url}/start`)
      expect(response.text).toBe("done")
      expect(seen.map((s) => s.path)).toEqual(["/start", "/next"])
      expect(seen[1].headers["cookie"]).toBe("session=abc")
      expect(seen.every((s) => s.headers["authorization"]?.startsWith("Basic "))).toBe(true)
      expect(seen[0].headers["user-agent"]).toMatch(/^httpfx\//)
    }))

  it.scopedLive("sees every retry", () =>
    Effect.gen(function*() {
      let calls = 0
      const server = yield* httpServer((_req, res) => {
        calls++
        res.writeHead(calls < 3 ? 503 : 200)
        res.end(String(calls))
      })
      const { middleware, seen } = recorder()
      const client = yield* Client.make({ middleware: [middleware], retry: { times: 3, backoff: "1 millis" } })
      expect((yield* client.get(server.url)).text).toBe("3")
      expect(seen.length).toBe(3)
    }))

  it.scopedLive("sees each auth round trip, the answer with its Authorization", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        if (req.headers.authorization === undefined) {
          res.writeHead(401, { "www-authenticate": `Digest realm="r", qop="auth", nonce="n1", algorithm=MD5` })
          return res.end()
        }
        res.end("in")
      })
      const { middleware, seen } = recorder()
      const client = yield* Client.make({ middleware: [middleware], auth: Auth.digest("ann", "pw") })
      expect((yield* client.get(`${server.url}/secret`)).text).toBe("in")
      expect(seen.map((s) => s.headers["authorization"]?.split(" ")[0])).toEqual([undefined, "Digest"])
    }))

  it.scopedLive("what a middleware changes reaches the wire, and the first given wraps the rest", () =>
    Effect.gen(function*() {
      const { record, wire } = serverLog()
      const server = yield* httpServer((req, res) => {
        record(req)
        res.end("ok")
      })
      const order: Array<string> = []
      const tag = (name: string): Transport.Middleware => (next) =>
        Transport.make((request) => {
          order.push(name)
          const previous = request.headers["x-steps"]
          const steps = previous === undefined ? name : `${previous},${name}`
          return next.handle({ ...request, headers: Headers.set(request.headers, "x-steps", steps) })
        })
      const client = yield* Client.make({ middleware: [tag("outer"), tag("inner")] })
      yield* client.get(server.url)
      expect(order).toEqual(["outer", "inner"])
      expect(wire[0].headers["x-steps"]).toBe("outer,inner")
    }))

  it.scopedLive("runs on every entry point: request, the verbs, stream, send, and a plain client's fast path", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("ok"))
      const { middleware, seen } = recorder()
      // No other feature in use: without middleware this client would take the pool's direct path.
      const client = yield* Client.make({ middleware: [middleware], cookies: false })
      yield* client.get(server.url)
      yield* client.post(server.url, { content: "x" })
      yield* client.request("PUT", server.url)
      const streamed = yield* client.stream("GET", server.url)
      yield* streamed.read
      yield* client.send(client.buildRequest("DELETE", server.url))
      expect(seen.map((s) => s.method)).toEqual(["GET", "POST", "PUT", "GET", "DELETE"])
    }))

  it.scopedLive("runs under Platform.layer, for platform's own requests", () =>
    Effect.gen(function*() {
      const { record, wire } = serverLog()
      const server = yield* httpServer((req, res) => {
        record(req)
        res.end("ok")
      })
      const { middleware, seen } = recorder()
      const added: Transport.Middleware = (next) =>
        Transport.make((request) =>
          next.handle({ ...request, headers: Headers.set(request.headers, "x-from-middleware", "yes") })
        )
      const text = yield* HttpClient.get(`${server.url}/p`).pipe(
        Effect.flatMap((response) => response.text),
        Effect.provide(Layer.orDie(Platform.layer({ middleware: [middleware, added] })))
      )
      expect(text).toBe("ok")
      expect(seen.map((s) => s.path)).toEqual(["/p"])
      expect(wire[0].headers["x-from-middleware"]).toBe("yes")
    }))

  it.scoped("a middleware that fails with an HttpError fails the request with it, typed", () =>
    Effect.gen(function*() {
      const refuse: Transport.Middleware = () =>
        Transport.make(() => Effect.fail(new HttpError.ConnectError({ message: "blocked by policy" })))
      const client = yield* Client.make({
        middleware: [refuse],
        transport: Transport.mock(() => new globalThis.Response("never"))
      })
      const error = yield* Effect.flip(client.get("http://api.test/"))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toContain("blocked by policy")
    }))

  it.scoped("the client still lists the connections of its pool", () =>
    Effect.gen(function*() {
      const client = yield* Client.make({ middleware: [(next) => next] })
      expect(yield* client.pool).toEqual([])
      expect(JSON.stringify(client)).toContain('"transport":{')
    }))
})
