/**
 * A randomized interruption test with a fixed seed: hundreds of requests of every kind (buffered GET, POST with a
 * streamed body, a stream read to the end, a stream read partially) go through one Client with a small pool to a
 * server that answers after a random delay with a random body size; about half of them are interrupted at a random
 * moment. Whatever moment that was, afterwards: no request failed with an error, nothing is ACTIVE or CONNECTING,
 * every socket the server still has open is an IDLE connection of the pool, the pool never held more connections
 * than its limit, the client still serves requests, and closing its scope closes every socket.
 *
 * The plan (kinds, delays, sizes, interrupt times) comes from a seeded PRNG, so every run is the same test; the
 * interleavings differ from run to run, which is the point, and every assertion holds for any interleaving.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Exit, Fiber, Schedule, Scope, Stream } from "effect"
import { Auth, Client, Pool } from "httpfx"
import type { HttpError, Response } from "httpfx"
import { eventually, httpServer } from "../utils/servers.js"
import { busy, interruptPromptly, leakFree, prng, trackProcessFaults } from "./helpers.js"

const faults = trackProcessFaults()

type Kind = "get" | "post" | "stream-full" | "stream-partial"

interface Plan {
  readonly id: number
  readonly kind: Kind
  /** the server first answers 302 to the same URL without this flag (a redirect hop) */
  readonly redirect: boolean
  /** the server first answers 401 with a Digest challenge (an auth retry) */
  readonly digest: boolean
  /** the server waits this long before answering */
  readonly delay: number
  readonly size: number
  /** interrupt the request this many ms after it starts; undefined: let it finish */
  readonly interruptAt: number | undefined
}

/** `layers`: plans may go through redirects and Digest retries (the Client's layers above the pool). */
const makePlans = (seed: number, count: number, layers: boolean): ReadonlyArray<Plan> => {
  const random = prng(seed)
  const kinds: ReadonlyArray<Kind> = ["get", "get", "post", "stream-full", "stream-partial", "stream-partial"]
  return Array.from({ length: count }, (_, id) => {
    const kind = kinds[random.int(0, kinds.length - 1)]!
    return {
      id,
      kind,
      redirect: layers && random.chance(0.25),
      // A POST's streamed body is sent once; Digest would need it twice.
      digest: layers && kind !== "post" && random.chance(0.25),
      delay: random.int(0, 30),
      // Mostly small bodies, some of several socket reads.
      size: random.chance(0.2) ? random.int(64 * 1024, 256 * 1024) : random.int(0, 4096),
      interruptAt: random.chance(0.5) ? random.int(0, 40) : undefined
    }
  })
}

/** The byte every body of request `id` is made of, so a body delivered to the wrong request shows. */
const fill = (id: number) => 97 + (id % 26)

/**
 * Answers `?id=&d=&n=` after `d` ms with `n` bytes, once it has read the whole request body. With `h=1` it first
 * redirects to the same URL without `h`; with `a=1` it first challenges a request without Authorization (the answer
 * itself is not checked: the test is about lifetimes, not Digest).
 */
const randomServer = () =>
  httpServer((req, res) => {
    const url = new URL(req.url!, "http://x")
    if (url.searchParams.get("h") === "1") {
      url.searchParams.delete("h")
      req.resume()
      res.writeHead(302, { Location: url.pathname + url.search })
      res.end("moved")
      return
    }
    if (url.searchParams.get("a") === "1" && req.headers.authorization === undefined) {
      req.resume()
      const challenge = `Digest realm="storm", qop="auth", nonce="n${Date.now()}", algorithm=MD5`
      res.writeHead(401, { "WWW-Authenticate": challenge })
      res.end("who are you?")
      return
    }
    const id = Number(url.searchParams.get("id"))
    const delay = Number(url.searchParams.get("d"))
    const size = Number(url.searchParams.get("n"))
    let timer: ReturnType<typeof setTimeout> | undefined
    // The client may go away at any moment; a timer must not outlive its request.
    res.on("close", () => clearTimeout(timer))
    req.resume()
    req.on("end", () => {
      timer = setTimeout(() => {
        res.writeHead(200, { "Content-Length": String(size), "Content-Type": "application/octet-stream" })
        res.end(Buffer.alloc(size, fill(id)))
      }, delay)
    })
  })

/** What went wrong with a body, or undefined. */
const checkBody = (plan: Plan, body: Uint8Array, partial: boolean): string | undefined => {
  if (!partial && body.length !== plan.size) return `request ${plan.id}: ${body.length} bytes instead of ${plan.size}`
  if (partial && body.length > plan.size) return `request ${plan.id}: ${body.length} bytes, more than ${plan.size}`
  const expected = fill(plan.id)
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== expected) return `request ${plan.id}: byte ${i} is ${body[i]}, not ${expected}`
  }
  return undefined
}

const failWith = (problem: string | undefined) => problem === undefined ? Effect.void : Effect.dieMessage(problem)

/** The Client or the Pool, as the plan uses them. `digest`: answer a Digest challenge (Client only). */
interface Subject {
  readonly layers: boolean
  readonly get: (url: string, digest: boolean) => Effect.Effect<Response.Response, HttpError.HttpError>
  readonly post: (
    url: string,
    content: Stream.Stream<Uint8Array>
  ) => Effect.Effect<Response.Response, HttpError.HttpError>
  readonly stream: (
    url: string,
    digest: boolean
  ) => Effect.Effect<Response.StreamingResponse, HttpError.HttpError, Scope.Scope>
  readonly connections: Effect.Effect<ReadonlyArray<Pool.ConnectionInfo>>
}

// A fresh Digest auth per request: a shared one would answer the remembered challenge up front, and most requests
// would then never see a 401.
const authFor = (digest: boolean) => digest ? { auth: Auth.digest("u", "p") } : undefined

const clientSubject = (client: Client.Client): Subject => ({
  layers: true,
  get: (url, digest) => client.get(url, authFor(digest)),
  post: (url, content) => client.post(url, { content }),
  stream: (url, digest) => client.stream("GET", url, authFor(digest)),
  connections: client.pool
})

const poolSubject = (pool: Pool.Pool): Subject => ({
  layers: false,
  get: (url) => pool.request("GET", url),
  post: (url, content) => pool.request("POST", url, { content }),
  stream: (url) => pool.stream("GET", url),
  connections: pool.connections
})

/** One planned request; fails (dies) when what came back is wrong. */
const perform = (client: Subject, url: string, plan: Plan): Effect.Effect<void, unknown> => {
  const flags = (plan.redirect ? "&h=1" : "") + (plan.digest ? "&a=1" : "")
  const target = `${url}/r?id=${plan.id}&d=${plan.delay}&n=${plan.size}${flags}`
  const checkStatus = (response: Response.Response | Response.StreamingResponse) =>
    failWith(response.status === 200 ? undefined : `request ${plan.id}: status ${response.status}`)
  switch (plan.kind) {
    case "get":
      return Effect.flatMap(client.get(target, plan.digest), (response) =>
        Effect.zipRight(checkStatus(response), failWith(checkBody(plan, response.content, false))))
    case "post": {
      const piece = new Uint8Array(1024).fill(120)
      const content = Stream.make(piece, piece, piece)
      return Effect.flatMap(client.post(target, content), (response) =>
        Effect.zipRight(checkStatus(response), failWith(checkBody(plan, response.content, false))))
    }
    case "stream-full":
      return Effect.scoped(Effect.gen(function*() {
        const response = yield* client.stream(target, plan.digest)
        yield* checkStatus(response)
        const read = yield* response.read
        yield* failWith(checkBody(plan, read.content, false))
      }))
    case "stream-partial":
      return Effect.scoped(Effect.gen(function*() {
        const response = yield* client.stream(target, plan.digest)
        yield* checkStatus(response)
        // One chunk (or none for an empty body), then the scope closes with the rest unread.
        const first = yield* Stream.runCollect(Stream.take(response.stream, 1))
        yield* failWith(checkBody(plan, Buffer.concat(Chunk.toArray(first)), true))
      }))
  }
}

/** Run the plan; an interrupted request may also have finished first, but it may never fail. */
const runPlan = (client: Subject, url: string, plan: Plan) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(perform(client, url, plan))
    if (plan.interruptAt !== undefined) {
      yield* Effect.sleep(Duration.millis(plan.interruptAt))
      const exit = yield* interruptPromptly(fiber)
      return { plan, exit, interrupted: Exit.isInterrupted(exit) }
    }
    const exit = yield* Fiber.await(fiber)
    return { plan, exit, interrupted: false }
  })

/**
 * Run the plan through a subject made in its own scope, then check what is left. The whole scenario: see the header.
 */
const storm = (
  makeSubject: Effect.Effect<Subject, never, Scope.Scope>,
  seed: number,
  count: number,
  maxConnections: number
) =>
  leakFree(Effect.gen(function*() {
    const server = yield* randomServer()
    const subjectScope = yield* Scope.make()
    const subject = yield* Scope.extend(makeSubject, subjectScope)
    const plans = makePlans(seed, count, subject.layers)

    // The pool's own view, sampled while the storm runs: never more live connections than the limit.
    let maxLive = 0
    const sampler = yield* Effect.fork(
      Effect.repeat(
        Effect.map(subject.connections, (connections) => {
          maxLive = Math.max(maxLive, connections.filter((c) => c.state !== "CLOSED").length)
        }),
        Schedule.spaced("5 millis")
      )
    )
    const results = yield* Effect.forEach(plans, (plan) => runPlan(subject, server.url, plan), { concurrency: 24 })
    yield* Fiber.interrupt(sampler)

    const problems = results.filter((r) => Exit.isFailure(r.exit) && !r.interrupted).map((r) =>
      `${r.plan.kind} #${r.plan.id}: ${String(r.exit)}`
    )
    expect(problems).toEqual([])
    // Every request left alone succeeded; of those interrupted, how many finished first depends on the run, but
    // some (those interrupted before the server's delay was up) were surely cut off mid-flight.
    const planned = plans.filter((plan) => plan.interruptAt === undefined).length
    expect(results.filter((r) => Exit.isSuccess(r.exit)).length).toBeGreaterThanOrEqual(planned)
    expect(results.filter((r) => r.interrupted).length).toBeGreaterThan(0)
    expect(maxLive).toBeLessThanOrEqual(maxConnections)

    expect(yield* busy(subject.connections)).toEqual([])
    // Every socket the server still sees open belongs to an IDLE connection of the pool (closing is
    // asynchronous, hence eventually; the pool is looked at in the same instant).
    let idle = -1
    yield* eventually(
      () => {
        idle = Effect.runSync(subject.connections).filter((c) => c.state === "IDLE").length
        return server.openSockets() === idle
      },
      2_000,
      "the server's open sockets to match the pool's IDLE connections"
    ).pipe(Effect.mapError((e) => new Error(`${e.message}: server ${server.openSockets()}, IDLE ${idle}`)))
    expect(idle).toBeLessThanOrEqual(maxConnections)

    // Still healthy: 20 more requests, all fine.
    const after = yield* Effect.forEach(
      Array.from({ length: 20 }, (_, i): Plan => ({
        id: 1000 + i,
        kind: "get",
        redirect: false,
        digest: false,
        delay: 0,
        size: 100 + i,
        interruptAt: undefined
      })),
      (plan) =>
        Effect.map(
          subject.get(`${server.url}/r?id=${plan.id}&d=0&n=${plan.size}`, false),
          (response) => checkBody(plan, response.content, false)
        ),
      { concurrency: 10 }
    )
    expect(after).toEqual(Array.from({ length: 20 }, () => undefined))
    expect(yield* busy(subject.connections)).toEqual([])

    yield* Scope.close(subjectScope, Exit.void)
    yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see every socket close")
  }))

describe("randomized interruption (fixed seeds)", () => {
  it.live("Client, maxConnections 8, with redirects and Digest retries: 300 requests, half interrupted", () =>
    storm(Effect.map(Effect.orDie(Client.make({ maxConnections: 8, followRedirects: true })), clientSubject), 0x5eed, 300, 8))

  it.live("Pool, maxConnections 3: 300 requests, half interrupted", () =>
    storm(Effect.map(Effect.orDie(Pool.make({ maxConnections: 3 })), poolSubject), 0xc0ffee, 300, 3))

  it.live("no unhandled rejection or uncaught exception escaped during this file", () =>
    Effect.gen(function*() {
      yield* Effect.sleep(Duration.millis(100))
      expect(faults).toEqual([])
    }))
})
