// Measurement loop shared by all client processes, so that every client is
// timed, counted and reported in exactly the same way and only the code that
// issues one request differs.
import { constants as perfConstants, PerformanceObserver } from "node:perf_hooks"
import type { PerformanceEntry } from "node:perf_hooks"
import { parseArgs } from "node:util"
import { Effect, Stream } from "effect"
import { assertLoopback, isWorkloadName, workloads } from "../shared.js"
import type { BenchResult, Workload, WorkloadMode } from "../shared.js"

export interface ClientConfig {
  // Origin of the benchmark server, e.g. http://127.0.0.1:12345
  readonly origin: URL
  // Full URL of the workload's route.
  readonly url: URL
  readonly workload: Workload
  readonly concurrency: number
  // Each phase sends at least this many requests and lasts at least the given
  // time, whichever ends later, and never more than maxRequests: a fast client
  // is measured over as long a stretch as a slow one, not over fewer seconds.
  readonly warmup: number
  readonly warmupMs: number
  readonly requests: number
  readonly measureMs: number
  readonly maxRequests: number
  // Any extra, client-specific --variant value.
  readonly variant: string | undefined
  // Request body for workloads that upload (empty for GET).
  readonly payload: Uint8Array
}

const positiveInt = (name: string, raw: string | undefined, min: number): number => {
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min) {
    throw new Error(`--${name} must be an integer >= ${min}, got ${String(raw)}`)
  }
  return value
}

export const parseConfig = (argv: ReadonlyArray<string> = process.argv.slice(2)): ClientConfig => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      url: { type: "string" },
      workload: { type: "string" },
      concurrency: { type: "string" },
      warmup: { type: "string" },
      requests: { type: "string" },
      "warmup-ms": { type: "string" },
      "measure-ms": { type: "string" },
      "max-requests": { type: "string" },
      variant: { type: "string" }
    },
    strict: true
  })
  if (values.url === undefined) throw new Error("--url is required")
  const origin = new URL(values.url)
  assertLoopback(origin)
  const workloadName = values.workload ?? "get1k"
  if (!isWorkloadName(workloadName)) throw new Error(`unknown workload ${workloadName}`)
  const workload = workloads[workloadName]
  return {
    origin,
    url: new URL(workload.path, origin),
    workload,
    concurrency: positiveInt("concurrency", values.concurrency ?? "1", 1),
    warmup: positiveInt("warmup", values.warmup ?? "0", 0),
    warmupMs: positiveInt("warmup-ms", values["warmup-ms"] ?? "0", 0),
    requests: positiveInt("requests", values.requests ?? "1000", 1),
    measureMs: positiveInt("measure-ms", values["measure-ms"] ?? "0", 0),
    maxRequests: positiveInt("max-requests", values["max-requests"] ?? "200000", 1),
    variant: values.variant,
    // Non-zero bytes so nothing can shortcut an all-zero buffer.
    payload: new Uint8Array(workload.requestBytes).fill(0x78)
  }
}

// Hands out request indices to the C workers until the phase is over: at least
// `min` requests and at least `minMs` of wall time, at most `max` requests. A
// burst issues exactly `min` at once. Every loop is bounded by `max`, however
// the work is split.
class Budget {
  private next = 0
  private readonly deadline: number
  readonly latencies: Float64Array
  constructor(readonly min: number, minMs: number, readonly max: number) {
    this.deadline = performance.now() + minMs
    this.latencies = new Float64Array(Math.max(min, max))
  }
  take(): number {
    const next = this.next
    if (next >= this.min && (next >= this.max || performance.now() >= this.deadline)) return -1
    this.next = next + 1
    return next
  }
  /** A burst: every request of the phase handed out at once. */
  takeAll(): number {
    this.next = this.min
    return this.min
  }
  /** Requests handed out so far; once the phase is over, the requests it measured. */
  get total(): number {
    return this.next
  }
}

/**
 * A client's --variant values, each with the one workload mode it measures. Returns the name the result goes under
 * (`client-variant`, or `client` without a variant); throws for a variant the client does not have, so a typo cannot
 * pass for the plain client, and for a workload the variant does not measure.
 */
export const variantName = (
  client: string,
  config: ClientConfig,
  modes: Readonly<Record<string, WorkloadMode>>
): string => {
  const variant = config.variant
  if (variant === undefined) return client
  const mode = modes[variant]
  if (mode === undefined) {
    throw new Error(`${client} has no --variant ${variant} (it has: ${Object.keys(modes).join(", ")})`)
  }
  if (config.workload.mode !== mode) {
    throw new Error(`n/a: --variant ${variant} measures ${mode === "burst" ? "the queue workload" : `the ${mode}`} only`)
  }
  return `${client}-${variant}`
}

// Throws unless a response looks exactly as the server sends it.
export const checkResponse = (config: ClientConfig, status: number, bodyBytes: number): void => {
  if (status !== 200) throw new Error(`unexpected status ${status}`)
  if (bodyBytes !== config.workload.responseBytes) {
    throw new Error(`body has ${bodyBytes} bytes, expected ${config.workload.responseBytes}`)
  }
}

// Throws unless a WebSocket echo came back as long as the message sent (-1: it came back as text).
export const checkEcho = (config: ClientConfig, bytes: number): void => {
  if (bytes !== config.workload.responseBytes) {
    throw new Error(`the echo has ${bytes} bytes, expected ${config.workload.responseBytes}`)
  }
}

// The ws:// URL of the workload's route on the (loopback, checked) server.
export const webSocketUrl = (config: ClientConfig): string => "ws" + config.url.href.slice("http".length)

const warmupBudget = (config: ClientConfig): Budget =>
  new Budget(config.warmup, config.warmupMs, Math.max(config.warmup, config.maxRequests))

/** How long the second warm-up lasts at least, after the forced GC. */
const REWARM_MS = 1000

/**
 * The second warm-up, after the forced GC: as many requests as the first at least, and at least REWARM_MS. A full
 * GC throws away optimised code that holds objects it collected (V8's "weak objects" and "code dependencies"
 * deoptimisations): without this, a client would re-optimise a hundred functions or more inside its measured phase,
 * and the client with the most code per request would pay the most for it.
 */
const rewarmBudget = (config: ClientConfig): Budget =>
  new Budget(config.warmup, Math.min(config.warmupMs, REWARM_MS), Math.max(config.warmup, config.maxRequests))

/**
 * A forced GC (clients run with --expose-gc) between the two warm-ups, so that garbage left by the warm-up does not
 * count as RSS baseline the measured phase can reuse.
 */
const collectGarbage = (): void => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc !== undefined) gc()
}
const measuredBudget = (config: ClientConfig): Budget =>
  new Budget(config.requests, config.measureMs, Math.max(config.requests, config.maxRequests))

const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))]!

const round = (value: number, digits: number): number => Number(value.toFixed(digits))

// Peak resident memory while the measured requests run, sampled every 10 ms,
// and the baseline right before them. Not maxRSS: the process may peak while
// loading modules (under tsx, its loader alone adds ~100 MB), which would hide
// what the client itself holds during the run. memoryUsage.rss() is the cheap form of
// memoryUsage().rss: it skips the V8 heap statistics.
class RssSampler {
  readonly baseline: number
  private peak: number
  private readonly timer: NodeJS.Timeout
  constructor() {
    this.baseline = process.memoryUsage.rss()
    this.peak = this.baseline
    this.timer = setInterval(() => this.sample(), 10).unref()
  }
  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss())
  }
  stop(): { readonly peak: number; readonly baseline: number } {
    clearInterval(this.timer)
    this.sample()
    return { peak: this.peak, baseline: this.baseline }
  }
}

// V8's collections during the measured phase, from Node's `gc` performance entries. A client's GC work is part of
// its CPU time; the count of mark-compacts says how much of it went to the whole heap, which is what a body's
// chunks cost when they outlive a scavenge.
class GcRecorder {
  private readonly observer: PerformanceObserver
  private major = 0
  private minor = 0
  private pauseMs = 0
  constructor() {
    this.observer = new PerformanceObserver((list) => this.add(list.getEntries()))
    this.observer.observe({ entryTypes: ["gc"] })
  }
  private add(entries: ReadonlyArray<PerformanceEntry>): void {
    for (const entry of entries) {
      const kind = (entry as { readonly detail?: { readonly kind?: number } }).detail?.kind
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) this.major++
      else if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) this.minor++
      this.pauseMs += entry.duration
    }
  }
  stop(): { readonly major: number; readonly minor: number; readonly pauseMs: number } {
    this.add(this.observer.takeRecords())
    this.observer.disconnect()
    return { major: this.major, minor: this.minor, pauseMs: this.pauseMs }
  }
}

const MB = 1024 * 1024

const summarize = (
  client: string,
  config: ClientConfig,
  warmupRequests: number,
  budget: Budget,
  wallMs: number,
  cpu: NodeJS.CpuUsage,
  rss: { readonly peak: number; readonly baseline: number },
  gc: { readonly major: number; readonly minor: number; readonly pauseMs: number }
): BenchResult => {
  const sorted = budget.latencies.slice(0, budget.total).sort()
  const seconds = wallMs / 1000
  return {
    client,
    workload: config.workload.name,
    concurrency: config.concurrency,
    requests: budget.total,
    warmupRequests,
    wallMs: round(wallMs, 1),
    cpuMicrosPerRequest: round((cpu.user + cpu.system) / budget.total, 2),
    requestsPerSecond: round(budget.total / seconds, 0),
    mbPerSecond: round((budget.total * config.workload.responseBytes) / 1e6 / seconds, 1),
    p50Ms: round(percentile(sorted, 0.5), 3),
    p99Ms: round(percentile(sorted, 0.99), 3),
    rssMb: round(rss.peak / MB, 1),
    rssBaselineMb: round(rss.baseline / MB, 1),
    rssDeltaMb: round((rss.peak - rss.baseline) / MB, 1),
    gcMajor: gc.major,
    gcMinor: gc.minor,
    gcPauseMs: round(gc.pauseMs, 1)
  }
}

// For Promise-based clients. "loop" and "download": C async loops, each
// issuing one request at a time; "burst": every request at once, queued by the
// client for its C connections.
export const measurePromise = async (
  client: string,
  config: ClientConfig,
  send: () => Promise<void>
): Promise<BenchResult> => {
  const timed = async (budget: Budget, i: number): Promise<void> => {
    const start = performance.now()
    await send()
    budget.latencies[i] = performance.now() - start
  }
  const phase = async (budget: Budget): Promise<void> => {
    if (config.workload.mode === "burst") {
      await Promise.all(Array.from({ length: budget.takeAll() }, (_, i) => timed(budget, i)))
      return
    }
    const worker = async (): Promise<void> => {
      for (let i = budget.take(); i >= 0; i = budget.take()) await timed(budget, i)
    }
    await Promise.all(Array.from({ length: config.concurrency }, worker))
  }
  const warmup = warmupBudget(config)
  await phase(warmup)
  collectGarbage()
  const rewarm = rewarmBudget(config)
  await phase(rewarm)
  const measured = measuredBudget(config)
  const rss = new RssSampler()
  const gc = new GcRecorder()
  const cpuStart = process.cpuUsage()
  const wallStart = performance.now()
  await phase(measured)
  const wallMs = performance.now() - wallStart
  const cpu = process.cpuUsage(cpuStart)
  return summarize(client, config, warmup.total + rewarm.total, measured, wallMs, cpu, rss.stop(), gc.stop())
}

// For Effect-based clients: C fibers, each issuing one request at a time (or,
// for "burst", one fiber per request, all forked at once by
// Effect.all(…, { concurrency: "unbounded" }); with --variant bounded, the
// burst goes through Effect.forEach with a concurrency of C instead), so the
// cost of the fiber runtime is part of what gets measured. `send` builds a
// fresh Effect per request, as application code calling `pool.request(...)`
// does, so building the request description is measured too.
export const measureEffect = <E, R>(
  client: string,
  config: ClientConfig,
  send: () => Effect.Effect<void, E, R>
): Effect.Effect<BenchResult, E, R> => {
  const timedFrom = (budget: Budget, i: number, start: number) =>
    Effect.map(send(), () => {
      budget.latencies[i] = performance.now() - start
    })
  const timed = (budget: Budget, i: number) => Effect.suspend(() => timedFrom(budget, i, performance.now()))
  const phase = (budget: Budget) => {
    if (config.workload.mode === "burst" && config.variant === "bounded") {
      // The same burst with one fiber per connection rather than per request: Effect.forEach's C workers take the
      // requests in order. Latency still counts from the moment the burst was issued, as it does for the others.
      return Effect.suspend(() => {
        const issued = performance.now()
        return Effect.forEach(Array.from({ length: budget.takeAll() }, (_, i) => i), (i) =>
          timedFrom(budget, i, issued), { concurrency: config.concurrency, discard: true })
      })
    }
    if (config.workload.mode === "burst") {
      return Effect.all(Array.from({ length: budget.takeAll() }, (_, i) => timed(budget, i)), {
        concurrency: "unbounded",
        discard: true
      })
    }
    const worker = Effect.gen(function*() {
      for (let i = budget.take(); i >= 0; i = budget.take()) yield* timed(budget, i)
    })
    return Effect.all(Array.from({ length: config.concurrency }, () => worker), {
      concurrency: "unbounded",
      discard: true
    })
  }
  return Effect.gen(function*() {
    const warmup = warmupBudget(config)
    yield* phase(warmup)
    collectGarbage()
    const rewarm = rewarmBudget(config)
    yield* phase(rewarm)
    const measured = measuredBudget(config)
    const rss = new RssSampler()
    const gc = new GcRecorder()
    const cpuStart = process.cpuUsage()
    const wallStart = performance.now()
    yield* phase(measured)
    const wallMs = performance.now() - wallStart
    const cpu = process.cpuUsage(cpuStart)
    return summarize(client, config, warmup.total + rewarm.total, measured, wallMs, cpu, rss.stop(), gc.stop())
  })
}

const firstLine = (error: unknown): string => {
  const text = error instanceof Error ? error.message : String(error)
  return text.split("\n").find((line) => line.trim() !== "")?.trim() ?? "unknown error"
}

// Entry point of every client process. Prints the result as one JSON line, or
// a one-line error first on stderr (the runner shows that line in the table),
// then exits explicitly: an agent left with an idle keep-alive socket must not
// keep the process alive.
export const main = (client: string, run: (config: ClientConfig) => Promise<BenchResult>): void => {
  let settled = false
  // A client whose pending work holds no timer or socket lets the event loop
  // drain and Node exits with code 0 and no output; say so instead.
  process.on("exit", () => {
    if (!settled) {
      process.stderr.write(`${client}: exited before finishing (requests still pending, nothing left to wake them)\n`)
      process.exitCode = 1
    }
  })
  // An exception thrown from a socket callback never reaches the promise
  // chain below; report it the same way, with its own message first.
  process.on("uncaughtException", (error) => {
    settled = true
    process.stderr.write(`${client}: uncaught ${firstLine(error)}\n`)
    if (error.stack !== undefined) process.stderr.write(error.stack + "\n")
    process.exit(1)
  })
  const finish = (code: number): void => {
    settled = true
    // Exit only once stdout/stderr have been handed to the OS.
    process.stdout.write("", () => process.stderr.write("", () => process.exit(code)))
  }
  Promise.resolve()
    .then(() => run(parseConfig()))
    .then(
      (result) => {
        process.stdout.write(JSON.stringify(result) + "\n")
        finish(0)
      },
      (error: unknown) => {
        process.stderr.write(`${client}: ${firstLine(error)}\n`)
        if (error instanceof Error && error.stack !== undefined) process.stderr.write(error.stack + "\n")
        finish(1)
      }
    )
}

// Counts a streamed body chunk by chunk, holding no more than one chunk: what
// the "download" workload asks of every client that takes part in it.
export const countBytes = async (body: AsyncIterable<Uint8Array>): Promise<number> => {
  let bytes = 0
  for await (const chunk of body) bytes += chunk.byteLength
  return bytes
}

// The same for a body that is an Effect Stream, read the way an application
// would: Stream.runForEach, one Effect per chunk. Checks the status and length.
export const countStream = <E>(
  config: ClientConfig,
  status: number,
  body: Stream.Stream<Uint8Array, E>
): Effect.Effect<void, E | Error> => {
  let bytes = 0
  return Effect.flatMap(
    Stream.runForEach(body, (chunk) =>
      Effect.sync(() => {
        bytes += chunk.byteLength
      })),
    () => Effect.try({ try: () => checkResponse(config, status, bytes), catch: (error) => error as Error })
  )
}
