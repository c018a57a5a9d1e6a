/**
 * The request pipeline (src/internal/pipeline/chain.ts): every entry point enters one chain of steps, the fast path
 * is that chain with nothing installed, and the total timeout is armed once.
 */
import { HttpClient } from "@effect/platform"
import type * as Headers from "@effect/platform/Headers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { Auth, Client, Platform, Transport } from "httpfx"
import { afterEach, vi } from "vitest"
import * as Chain from "../../src/internal/pipeline/chain.js"
import { resolve } from "../../src/internal/core/timeouts.js"
import { httpServer } from "../utils/servers.js"

interface Seen {
  readonly path: string
  readonly headers: Headers.Headers
}

/** A middleware that records each request it is given, then passes it on. */
const recorder = () => {
  const seen: Array<Seen> = []
  const middleware: Transport.Middleware = (next) =>
    Transport.make((request) => {
      seen.push({ path: new URL(request.url).pathname, headers: request.headers })
      return next.handle(request)
    })
  return { seen, middleware }
}

/**
 * /start redirects to /target and sets a cookie; /target answers 503 once (a retry), then asks for Digest auth
 * until it gets it. So one call is: /start, /target (503), /target (401), and, the flow's second try, /start and
 * /target again with Authorization.
 */
const redirectRetryAuthServer = () => {
  let targets = 0
  return httpServer((req, res) => {
    if (req.url === "/start") {
      res.writeHead(302, { location: "/target", "set-cookie": "s=1; Path=/" })
      return res.end()
    }
    targets++
    if (targets === 1) {
      res.writeHead(503)
      return res.end()
    }
    if (req.headers.authorization === undefined) {
      res.writeHead(401, { "www-authenticate": `Digest realm="r", qop="auth", nonce="n1", algorithm=MD5` })
      return res.end()
    }
    res.end("done")
  })
}

const options = (middleware: Transport.Middleware) => ({
  middleware: [middleware],
  followRedirects: true,
  retry: { times: 2, backoff: "1 millis" },
  auth: Auth.digest("ann", "pw"),
  cookies: true
} as const)

/** What the middleware must have seen for one call: every hop, the retry and the auth round trip, final headers. */
const expectEveryRoundTrip = (seen: ReadonlyArray<Seen>) => {
  expect(seen.map((s) => s.path)).toEqual(["/start", "/target", "/target", "/start", "/target"])
  expect(seen.map((s) => s.headers["cookie"])).toEqual([undefined, "s=1", "s=1", "s=1", "s=1"])
  expect(seen.map((s) => s.headers["authorization"]?.split(" ")[0])).toEqual([
    undefined,
    undefined,
    undefined,
    "Digest",
    "Digest"
  ])
}

describe("user middleware on every entry point", () => {
  const viaClient = (call: (client: Client.Client, url: string) => Effect.Effect<string, unknown, any>) =>
    Effect.gen(function*() {
      const server = yield* redirectRetryAuthServer()
      const { middleware, seen } = recorder()
      const client = yield* Client.make(options(middleware))
      expect(yield* call(client, `${server.url}/start`)).toBe("done")
      expectEveryRoundTrip(seen)
    })

  it.scopedLive("client.request: every hop, retry and auth round trip, with the final headers", () =>
    viaClient((client, url) => Effect.map(client.request("GET", url), (r) => r.text)))

  it.scopedLive("a verb: every hop, retry and auth round trip, with the final headers", () =>
    viaClient((client, url) => Effect.map(client.get(url), (r) => r.text)))

  it.scopedLive("client.stream: every hop, retry and auth round trip, with the final headers", () =>
    viaClient((client, url) =>
      Effect.flatMap(client.stream("GET", url), (r) => Effect.map(r.read, (whole) => whole.text))
    ))

  it.scopedLive("client.send: every hop, retry and auth round trip, with the final headers", () =>
    viaClient((client, url) => Effect.map(client.send(client.buildRequest("GET", url)), (r) => r.text)))

  it.scopedLive("Platform.layer: every hop, retry and auth round trip, with the final headers", () =>
    Effect.gen(function*() {
      const server = yield* redirectRetryAuthServer()
      const { middleware, seen } = recorder()
      const text = yield* HttpClient.get(`${server.url}/start`).pipe(
        Effect.flatMap((response) => response.text),
        Effect.provide(Layer.orDie(Platform.layer(options(middleware))))
      )
      expect(text).toBe("done")
      expectEveryRoundTrip(seen)
    }))
})

describe("a step added to the pipeline", () => {
  /** An internal step that counts what passes through it and marks it on the wire. */
  const counting = () => {
    const paths: Array<string> = []
    const step: Chain.Step = (next) =>
      Transport.make((request) => {
        paths.push(new URL(request.url).pathname)
        return next.handle({ ...request, headers: { ...request.headers, "x-step": "1" } })
      })
    return { paths, step }
  }

  const markingServer = () => {
    const marks: Array<string | undefined> = []
    return Effect.map(
      httpServer((req, res) => {
        marks.push(req.headers["x-step"] as string | undefined)
        res.end("ok")
      }),
      (server) => ({ ...server, marks })
    )
  }

  it.scopedLive("runs for a plain client's get and stream, the requests that take the fast path", () =>
    Effect.gen(function*() {
      const server = yield* markingServer()
      const { paths, step } = counting()
      const client = yield* Client.make(Chain.withSteps({}, [step]))
      expect((yield* client.get(`${server.url}/get`)).text).toBe("ok")
      const streamed = yield* client.stream("GET", `${server.url}/stream`)
      expect((yield* streamed.read).text).toBe("ok")
      const plain = yield* Client.make(Chain.withSteps({ cookies: false }, [step]))
      yield* plain.get(`${server.url}/plain`)
      expect(paths).toEqual(["/get", "/stream", "/plain"])
      expect(server.marks).toEqual(["1", "1", "1"])
    }))

  it.scopedLive("runs for Platform.layer's requests", () =>
    Effect.gen(function*() {
      const server = yield* markingServer()
      const { paths, step } = counting()
      const text = yield* HttpClient.get(`${server.url}/p`).pipe(
        Effect.flatMap((response) => response.text),
        Effect.provide(Layer.orDie(Platform.layer(Chain.withSteps({}, [step]))))
      )
      expect(text).toBe("ok")
      expect(paths).toEqual(["/p"])
      expect(server.marks).toEqual(["1"])
    }))

  it.scoped("with nothing installed, the chain is the bare transport; a step installed is in it", () =>
    Effect.gen(function*() {
      const pool = yield* Transport.pool()
      const nothing = {
        timeouts: resolve(undefined),
        auth: undefined,
        followRedirects: false,
        maxRedirects: 20,
        retry: undefined,
        requestHooks: [],
        responseHooks: [],
        jar: undefined,
        bodiesAsSent: false,
        middleware: undefined,
        steps: []
      }
      expect(Chain.compose(pool, [])).toBe(pool)
      expect(Chain.make(nothing, pool).plain).toBe(pool)
      const { step } = counting()
      expect(Chain.make({ ...nothing, steps: [step] }, pool).plain).not.toBe(pool)
    }))
})

describe("the total timeout of a client request on its own pool", () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  it.scopedLive("is armed once, by the pipeline, not again by the exchange", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("ok"))
      const spy = vi.spyOn(globalThis, "setTimeout")
      const client = yield* Client.make({ timeout: { total: 12_345 } })
      expect((yield* client.get(server.url)).text).toBe("ok")
      const own = yield* Client.make()
      expect((yield* own.get(server.url, { timeout: { total: 12_346 } })).text).toBe("ok")
      const delays = spy.mock.calls.map((call) => call[1])
      expect(delays.filter((delay) => delay === 12_345).length).toBe(1)
      expect(delays.filter((delay) => delay === 12_346).length).toBe(1)
    }))

  it.scopedLive("fires once, with one RequestTimeout, from the one timer armed", () =>
    Effect.gen(function*() {
      const server = yield* httpServer(() => {})
      const spy = vi.spyOn(globalThis, "setTimeout")
      const client = yield* Client.make({ timeout: { total: 201 } })
      const exit = yield* Effect.exit(client.get(`${server.url}/silent`))
      expect(spy.mock.calls.filter((call) => call[1] === 201).length).toBe(1)
      expect(exit._tag === "Failure" && exit.cause._tag).toBe("Fail")
      if (exit._tag === "Failure" && exit.cause._tag === "Fail") {
        expect(exit.cause.error._tag).toBe("RequestTimeout")
        expect(exit.cause.error.message).toContain("within the total timeout of 201 ms")
      }
    }))
})
