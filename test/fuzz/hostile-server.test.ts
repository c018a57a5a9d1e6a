/**
 * The whole client against hostile servers, as a seeded property (API.md, "Limits and hostile input"): whatever a
 * server sends, a request ends in a Response or a typed HttpError within its timeouts, nothing escapes to the process,
 * no socket is left open, the pool hands its slot back, and a connection that saw a protocol violation is never used
 * again. Each case gets its own server and pool, so server-side counts belong to that case alone.
 *
 * The normal run is short and fixed; `npm run fuzz` runs many cases with a random seed. A failure prints the seed,
 * the path and the case; `FUZZ_SEED=… FUZZ_PATH=… npx vitest run test/fuzz/hostile-server.test.ts` replays it, and
 * `FUZZ_LOG=1` prints one line per case.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as zlib from "node:zlib"
import { Cause, Chunk, Effect, Exit, Option, Scope, Stream } from "effect"
import fc from "fast-check"
import { Client, HttpError, Pool } from "httpfx"
import type { Response } from "httpfx"
import { scriptedServer } from "../utils/servers.js"
import type { Body, Encoding, Mutation, Oracle, Plan, Script, Split } from "./hostileServer.js"
import { build, hostileServer, PROBE_BODY } from "./hostileServer.js"

// ---- run size, seed, and work that has not landed yet ---------------------------------------------------------------

const SEED = Number(process.env.FUZZ_SEED ?? 20261206)
const RUNS = Number(process.env.FUZZ_RUNS ?? 30)
const PATH = process.env.FUZZ_PATH
/** One line per case: what was sent and how the request ended. */
const LOG = process.env.FUZZ_LOG === "1"

/**
 * Contract behaviour not implemented on this branch yet. Each flag relaxes exactly one oracle (the case still has to
 * end in a Response or a typed error); set it to false once the work is merged.
 */
const pending = {
  /** `limits.maxBodySize`: a body over the limit fails with ResponseTooLarge */
  maxBodySize: false,
  /** `timeout.head`: a head still incomplete after it fails with ReadTimeout */
  headDeadline: false
}

/**
 * The read timeout of a case whose server may stall: short, so that the run stays short. Elsewhere a loaded machine
 * (CI, or a soak next to other work) must not turn a slow answer into a ReadTimeout, so the read timeout is long.
 */
const READ_MS = 300
const CALM_READ_MS = 2_000
const timeouts = (readMs: number) => ({ connect: 500, read: readMs, write: readMs, pool: 500, head: 1_000 })
/** Scheduling, zlib and a loaded CI machine, on top of what the script and the read timeout allow. */
const SLACK_MS = 1_500
/** How long a case may run before it counts as hung. */
const HANG_MS = 8_000

// ---- cases ----------------------------------------------------------------------------------------------------------

type Api = "pool.request" | "pool.stream" | "client.get" | "client.stream"

/** How a streamed body is taken: to its end, buffered with `read`, or one chunk and then the scope closes. */
type Read = "stream" | "read" | "abandon"

interface Case {
  readonly plan: Plan
  readonly api: Api
  readonly read: Read
  readonly limits: { readonly maxBodySize: number; readonly on: "pool" | "request" } | undefined
}

const then = <A extends string>(...values: Array<A>) => fc.constantFrom(...values)

const bodyArb: fc.Arbitrary<Body> = fc.record({
  size: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 2_048 }) }, {
    weight: 1,
    arbitrary: fc.integer({ min: 2_049, max: 200_000 })
  }),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
  kind: fc.constantFrom("random" as const, "text" as const, "zeros" as const)
})

const garbageArb = fc.uint8Array({ minLength: 1, maxLength: 48 })

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 8, arbitrary: fc.constant({ kind: "none" as const }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("cut" as const),
      permille: fc.integer({ min: 0, max: 999 }),
      then: then("end", "destroy", "reset", "silence")
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("garbageAfterHead" as const),
      garbage: garbageArb,
      then: then("keep", "end")
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("garbageHead" as const),
      garbage: garbageArb,
      then: then("keep", "end", "silence")
    })
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("hugeLength" as const), then: then("end", "silence") }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("hugeChunk" as const),
      size: fc.constantFrom("ffffffffffff", "7fffffffffffffff", "fffffffffffffffff"),
      then: then("end", "silence")
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("truncatedChunked" as const),
      permille: fc.integer({ min: 0, max: 1_000 }),
      then: then("end", "silence")
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("conflictingLengths" as const),
      variant: then("twoDifferent", "listDifferent", "twoSame", "lengthAndChunked", "negative", "notANumber")
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("badEncoding" as const),
      variant: then("gzipJunk", "truncated"),
      junk: garbageArb
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("trailingBytes" as const),
      bytes: garbageArb,
      gapMs: fc.constantFrom(0, 20)
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("badHead" as const),
      variant: then(
        "noColon",
        "spaceBeforeColon",
        "nul",
        "control",
        "obsFold",
        "bareLF",
        "badStatus",
        "noReason",
        "badVersion"
      )
    })
  },
  { weight: 1, arbitrary: fc.constant({ kind: "hugeHead" as const }) },
  // A trickled head takes over a second: rare, so that the normal run stays short.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("trickleHead" as const), gapMs: fc.constantFrom(150, 250) }) }
)

const splitArb: fc.Arbitrary<Split> = fc.record({
  permille: fc.integer({ min: 0, max: 1_000 }),
  delayMs: fc.constantFrom(0, 0, 1, 5, 20)
})

const planArb: fc.Arbitrary<Plan> = fc.record({
  version: fc.constantFrom("1.1" as const, "1.1" as const, "1.1" as const, "1.0" as const),
  interim: fc.array(fc.constantFrom(100 as const, 102 as const, 103 as const), { maxLength: 2 }),
  status: fc.constantFrom(200 as const, 200 as const, 201 as const, 204 as const, 404 as const, 500 as const),
  framing: fc.constantFrom("length" as const, "chunked" as const, "close" as const),
  encoding: fc.constantFrom<Encoding>("identity", "identity", "gzip", "deflate", "br"),
  keepAlive: fc.boolean(),
  body: bodyArb,
  chunks: fc.integer({ min: 1, max: 6 }),
  mutation: mutationArb,
  splits: fc.array(splitArb, { maxLength: 5 })
})

const caseArb: fc.Arbitrary<Case> = fc.record({
  plan: planArb,
  api: fc.constantFrom<Api>("pool.request", "pool.stream", "client.get", "client.stream"),
  read: fc.constantFrom<Read>("stream", "stream", "read", "abandon"),
  limits: fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.record({
        maxBodySize: fc.constantFrom(1, 100, 4_096, 65_536),
        on: fc.constantFrom("pool" as const, "request" as const)
      })
    }
  )
})

// ---- the client side: one pool or client per case, behind one small interface ---------------------------------------

interface Outcome {
  readonly status: number
  readonly content: Uint8Array
}

interface Target {
  /** the case's own request, through the case's API */
  readonly send: (url: string) => Effect.Effect<Outcome, HttpError.HttpError>
  /** a plain buffered request on the same pool, with a read timeout no loaded machine reaches */
  readonly probe: (url: string) => Effect.Effect<Outcome, HttpError.HttpError>
  readonly connections: Effect.Effect<ReadonlyArray<Pool.ConnectionInfo>>
}

const concat = (chunks: Chunk.Chunk<Uint8Array>): Uint8Array => Buffer.concat(Chunk.toReadonlyArray(chunks))

const readBody = (response: Response.StreamingResponse, read: Read): Effect.Effect<Outcome, HttpError.HttpError> => {
  switch (read) {
    case "stream":
      return Effect.map(Stream.runCollect(response.stream), (chunks) => ({
        status: response.status,
        content: concat(chunks)
      }))
    case "read":
      return Effect.map(response.read, (buffered) => ({ status: buffered.status, content: buffered.content }))
    case "abandon":
      return Effect.map(Stream.runHead(response.stream), (first) => ({
        status: response.status,
        content: Option.getOrElse(first, () => new Uint8Array(0))
      }))
  }
}

const buffered = (response: Response.Response): Outcome => ({ status: response.status, content: response.content })

const makeTarget = (c: Case, readMs: number): Effect.Effect<Target, never, Scope.Scope> => {
  const limits = c.limits === undefined ? undefined : { maxBodySize: c.limits.maxBodySize }
  const own = c.limits?.on === "pool" ? limits : undefined
  const perRequest = c.limits?.on === "request" ? { limits } : undefined
  // The probe is a request of its own: a case's small maxBodySize is not for it.
  const calm = { timeout: { read: CALM_READ_MS }, limits: { maxBodySize: 1 << 20 } }
  if (c.api === "pool.request" || c.api === "pool.stream") {
    return Effect.map(Effect.orDie(Pool.make({ timeout: timeouts(readMs), limits: own })), (pool) => ({
      connections: pool.connections,
      probe: (url) => Effect.map(pool.request("GET", url, calm), buffered),
      send: (url) =>
        c.api === "pool.request"
          ? Effect.map(pool.request("GET", url, perRequest), buffered)
          : Effect.scoped(Effect.flatMap(pool.stream("GET", url, perRequest), (r) => readBody(r, c.read)))
    }))
  }
  return Effect.map(Effect.orDie(Client.make({ timeout: timeouts(readMs), limits: own, trustEnv: false })), (client) => ({
    connections: client.pool,
    probe: (url) => Effect.map(client.get(url, calm), buffered),
    send: (url) =>
      c.api === "client.get"
        ? Effect.map(client.get(url, perRequest), buffered)
        : Effect.scoped(Effect.flatMap(client.stream("GET", url, perRequest), (r) => readBody(r, c.read)))
  }))
}

/** Whether the server may leave the client waiting: only then does the case need the short read timeout. */
const mayStall = (script: Script, oracle: Oracle) =>
  script.ending === "silence" || (script.ending === "keep" && oracle.outcome !== "success") || oracle.headAfterMs > 0

// ---- what escapes to the process ------------------------------------------------------------------------------------

const escaped: Array<unknown> = []
const onEscape = (error: unknown) => {
  escaped.push(error)
}

beforeAll(() => {
  process.on("uncaughtException", onEscape)
  process.on("unhandledRejection", onEscape)
})

afterAll(() => {
  process.off("uncaughtException", onEscape)
  process.off("unhandledRejection", onEscape)
})

// ---- the property ---------------------------------------------------------------------------------------------------

/** The oracle of the plan, adjusted for the case's body limit and for work that has not landed. */
const expectationOf = (c: Case, oracle: Oracle): Oracle => {
  let expected = oracle
  const limit = c.limits?.maxBodySize
  if (limit !== undefined && oracle.outcome !== "failure" && oracle.decodedSize > limit) {
    // An uncertain outcome ("either": refused for its head, or cut short) stays uncertain, with one more way to fail.
    expected = pending.maxBodySize
      ? { ...expected, outcome: "either" }
      : oracle.outcome === "success"
      ? { ...expected, outcome: "failure", tags: ["ResponseTooLarge"] }
      : { ...expected, tags: oracle.tags && [...oracle.tags, "ResponseTooLarge"] }
  } else if (limit !== undefined && oracle.outcome === "success" && oracle.encodedSize > limit) {
    // Coded bytes over the limit, decoded ones under it: the contract counts decoded bytes, but a Content-Length over
    // the limit may fail as soon as the head is read.
    expected = { ...expected, outcome: "either" }
  }
  if (limit !== undefined && c.plan.mutation.kind === "hugeLength" && c.plan.status !== 204 && !pending.maxBodySize) {
    // A Content-Length above the limit fails as soon as the head is read.
    expected = { ...expected, outcome: "failure", tags: ["ResponseTooLarge"] }
  }
  if (limit !== undefined && expected.tags !== undefined && !expected.tags.includes("ResponseTooLarge")) {
    expected = { ...expected, tags: [...expected.tags, "ResponseTooLarge"] }
  }
  if (oracle.headAfterMs > 0 && pending.headDeadline) expected = { ...expected, outcome: "either", tags: undefined }
  if (c.read === "abandon" && (c.api === "pool.stream" || c.api === "client.stream")) {
    // One chunk, then the scope closes: a body broken further on is never seen, and the connection is not kept.
    expected = {
      ...expected,
      outcome: expected.outcome === "failure" ? "either" : expected.outcome,
      content: undefined,
      reusable: false
    }
  }
  return expected
}

class Violated extends Error {}
const violated = (what: string): never => {
  throw new Violated(what)
}

const checkEscaped = (): void => {
  if (escaped.length > 0) {
    violated(`something escaped to the process: ${escaped.splice(0).map((e) => String(e)).join("; ")}`)
  }
}

/** A request's end: its Response, its typed error, or what should never happen (a defect, a hang). */
type Ending =
  | { readonly _tag: "Response"; readonly outcome: Outcome }
  | { readonly _tag: "HttpError"; readonly error: HttpError.HttpError }

const ending = (exit: Exit.Exit<Option.Option<Outcome>, HttpError.HttpError>): Ending => {
  if (Exit.isSuccess(exit)) {
    if (Option.isNone(exit.value)) return violated(`the request did not end within ${HANG_MS} ms`)
    return { _tag: "Response", outcome: exit.value.value }
  }
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure) || Cause.isDie(exit.cause) || !HttpError.isHttpError(failure.value)) {
    return violated(`the request ended in something other than a typed HttpError:\n${Cause.pretty(exit.cause)}`)
  }
  return { _tag: "HttpError", error: failure.value }
}

/** Poll `check` until it returns undefined (fine) or `timeoutMs` passes (then the last complaint is the failure). */
const settle = (check: Effect.Effect<string | undefined>, timeoutMs: number): Effect.Effect<void> =>
  Effect.gen(function*() {
    const started = performance.now()
    for (;;) {
      const complaint = yield* check
      if (complaint === undefined) return
      if (performance.now() - started > timeoutMs) return violated(complaint)
      yield* Effect.sleep(10)
    }
  })

/** Failures after which the connection is still sound: the framing was read to its end. */
const framingIntact = new Set(["DecodingError", "ResponseTooLarge"])

const runCase = (c: Case) =>
  Effect.scoped(Effect.gen(function*() {
    // A case that failed early may have left an escape behind: it was reported with that case, not this one.
    escaped.length = 0
    const { oracle, script } = build(c.plan)
    const expected = expectationOf(c, oracle)
    const server = yield* hostileServer(script)
    const clientScope = yield* Scope.make()
    const readMs = mayStall(script, oracle) ? READ_MS : CALM_READ_MS
    const target = yield* Scope.extend(makeTarget(c, readMs), clientScope)

    // (1) a Response or a typed HttpError, within the timeouts plus slack
    const started = performance.now()
    const exit = yield* Effect.exit(Effect.timeoutOption(target.send(`${server.url}/case`), HANG_MS))
    const elapsed = performance.now() - started
    checkEscaped()
    const end = ending(exit)
    const scripted = script.writes.reduce((sum, write) => sum + write.delayMs, 0)
    if (elapsed > scripted + readMs + SLACK_MS) {
      violated(`the request took ${Math.round(elapsed)} ms, more than the script and the timeouts allow`)
    }
    const what = end._tag === "Response"
      ? `a ${end.outcome.status} response of ${end.outcome.content.length} bytes`
      : `${end.error._tag}: ${end.error.message}`
    if (LOG) {
      const m = c.plan.mutation
      const detail = "then" in m ? `/${m.then}` : "variant" in m ? `/${m.variant}` : ""
      const sent = `${m.kind}${detail} ${c.plan.framing} ${c.plan.encoding}`
      console.log(`${c.api} ${sent} ${Math.round(elapsed)}ms -> ${what.slice(0, 160)}`)
    }
    if (end._tag === "Response" && expected.outcome === "failure") violated(`expected a failure, got ${what}`)
    if (end._tag === "HttpError" && expected.outcome === "success") violated(`expected a response, got ${what}`)
    if (end._tag === "HttpError" && expected.tags !== undefined && !expected.tags.includes(end.error._tag)) {
      violated(`expected ${expected.tags.join(" or ")}, got ${what}`)
    }
    if (end._tag === "Response" && expected.content !== undefined) {
      if (end.outcome.status !== c.plan.status) violated(`expected status ${c.plan.status}, got ${what}`)
      if (!Buffer.from(expected.content).equals(end.outcome.content)) {
        violated(`the body differs from the one sent (${expected.content.length} bytes), got ${what}`)
      }
    }

    // (2) every socket the server still holds is one the pool keeps idle; the script has played out by then
    yield* settle(Effect.sync(() => server.idle() ? undefined : "the server script never finished"), 3_000)
    yield* Effect.sleep(25)
    yield* settle(
      Effect.map(target.connections, (connections) => {
        const idle = connections.filter((connection) => connection.state === "IDLE").length
        const busy = connections.filter((info) => info.state === "ACTIVE" || info.state === "CONNECTING")
        if (busy.length > 0) return `after ${what}, the pool still has ${busy.map(String).join(", ")}`
        return server.openSockets() > idle
          ? `after ${what}, the server has ${server.openSockets()} open socket(s), the pool ${idle} idle connection(s)`
          : undefined
      }),
      1_500
    )

    // (3) the same pool serves a fresh request
    const probe = ending(yield* Effect.exit(Effect.timeoutOption(target.probe(`${server.url}/probe`), HANG_MS)))
    if (probe._tag === "HttpError") violated(`after ${what}, a fresh request failed: ${probe.error.message}`)
    if (probe._tag === "Response" && Buffer.from(probe.outcome.content).toString() !== PROBE_BODY) {
      violated(`after ${what}, a fresh request read the wrong body`)
    }

    // (4) a connection that saw a violation is not used again; a clean keep-alive one is
    const requests = server.requests()
    const caseSockets = new Set(requests.filter((r) => r.path === "/case").map((r) => r.socket))
    const probeSocket = requests.filter((r) => r.path === "/probe").at(-1)?.socket
    const spoiled = expected.violation || (end._tag === "HttpError" && !framingIntact.has(end.error._tag))
    if (spoiled && probeSocket !== undefined && caseSockets.has(probeSocket)) {
      violated(`after ${what}, the next request went out on the same connection`)
    }
    const clean = end._tag === "Response" && expected.reusable && expected.outcome === "success"
    if (clean && !caseSockets.has(probeSocket!)) {
      violated(`after ${what} on a keep-alive connection, the next request opened a new one`)
    }

    // closing the pool's scope closes what it kept
    yield* Scope.close(clientScope, Exit.void)
    yield* settle(
      Effect.sync(() =>
        server.openSockets() === 0 ? undefined : `${server.openSockets()} socket(s) open after the pool's scope closed`
      ),
      1_500
    )
    checkEscaped()
  }))

// ---- the test -------------------------------------------------------------------------------------------------------

describe("hostile servers", () => {
  it(
    `every request ends in a Response or a typed HttpError and leaves the pool sound (seed ${SEED}, ${RUNS} runs)`,
    async () => {
      const details = await fc.check(
        fc.asyncProperty(caseArb, (c) => Effect.runPromise(runCase(c))),
        { seed: SEED, numRuns: RUNS, path: PATH, endOnFailure: PATH !== undefined }
      )
      if (details.failed) {
        const replay = `FUZZ_SEED=${SEED} FUZZ_PATH=${details.counterexamplePath} ` +
          `npx vitest run test/fuzz/hostile-server.test.ts`
        const error = details.errorInstance
        const cause = error instanceof Error ? error.message : String(error)
        throw new Error(`${fc.defaultReportMessage(details)}\n\nWhat went wrong: ${cause}\n\nReplay with: ${replay}`)
      }
      expect(escaped).toEqual([])
    },
    Math.max(60_000, RUNS * 3_000)
  )
})

// ---- what the fuzz found --------------------------------------------------------------------------------------------

describe("found by the fuzz", () => {
  // Seed 3 (badEncoding/truncated, gzip): the same bytes give two outcomes. Buffered decoding (decodeAll) runs
  // gunzipSync with finishFlush Z_SYNC_FLUSH and accepts a gzip body without its CRC32/ISIZE trailer; the
  // streaming decoder (createGunzip with the default Z_FINISH) fails it with DecodingError "unexpected end of file".
  // Both now decode with Z_SYNC_FLUSH, as browsers and curl do: what the body holds is read.
  // Seed 11 (trailingBytes with gapMs 20, client.stream, a 65536-byte body): a streamed body whose last bytes arrived in
  // one read of 64 KiB or more completed while the exchange had paused the socket (Exchange.queue reached
  // HIGH_WATER_MARK before the reader asked), and the connection went IDLE still paused: stray bytes and a FIN went
  // unnoticed, and the next request read the server's garbage as its response.
  it.scopedLive("bytes that arrive on an idle connection after a streamed body close it", () =>
    Effect.gen(function*() {
      const server = yield* scriptedServer((index, socket) => {
        if (index > 0) return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        setTimeout(() => socket.write("\0"), 20)
        return Buffer.concat([Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 65536\r\n\r\n"), Buffer.alloc(65536, 97)])
      })
      const pool = yield* Pool.make()
      yield* Effect.scoped(Effect.flatMap(pool.stream("GET", server.url), (r) => Stream.runDrain(r.stream)))
      yield* Effect.sleep(60)
      const next = yield* pool.request("GET", server.url)
      expect(next.status).toBe(200)
      expect(server.acceptedSockets()).toBe(2)
    }))

  it.scopedLive("a gzip body without its trailer reads the same buffered and streamed", () =>
    Effect.gen(function*() {
      const gzipped = zlib.gzipSync(Buffer.from("hello, hello, hello"))
      const body = gzipped.subarray(0, gzipped.length - 8)
      const server = yield* scriptedServer(Buffer.concat([
        Buffer.from(`HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: ${body.length}\r\n\r\n`, "latin1"),
        body
      ]))
      const pool = yield* Pool.make()
      const buffered = yield* Effect.either(Effect.map(pool.request("GET", server.url), (r) => Buffer.from(r.content)))
      const streamed = yield* Effect.either(Effect.scoped(Effect.flatMap(pool.stream("GET", server.url), (r) =>
        Effect.map(Stream.runCollect(r.stream), concat))))
      expect(streamed._tag).toBe(buffered._tag)
      if (buffered._tag === "Right" && streamed._tag === "Right") {
        expect(Buffer.from(streamed.right).equals(buffered.right)).toBe(true)
      }
    }))
})
