// Turns the runs of a benchmark into tables, BENCHMARKS.md and
// bench/results.svg. The runner calls it; it also runs on its own to redraw
// both files from a saved run without measuring again:
//
//   npx tsx bench/report.ts                      # from bench/.out/last.json
//   npx tsx bench/report.ts path/to/run.json
//
// Runs of the clients under other Node versions (`--node … --write`) are kept
// in bench/versions/ and get a section of their own in BENCHMARKS.md; given
// such a run (bench/.out/last-node-*.json), this redraws that section only.
//
// The chart is drawn here as plain SVG text: no charting library, no service.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { BASELINE, baselineOf, clientSpecs, labelOf, MAX_REQUESTS, workloadPlans } from "./catalog.js"
import { workloads } from "./shared.js"
import type { BenchResult, WorkloadName } from "./shared.js"

const benchDir = dirname(fileURLToPath(import.meta.url))
const rootDir = dirname(benchDir)
/** Saved runs with the clients under other Node versions, one file per major version. */
const versionsDir = join(benchDir, "versions")

// ---- the saved form of a run ---------------------------------------------------------------------------------------

export type Outcome =
  | { readonly _tag: "ok"; readonly result: BenchResult; readonly connections: number; readonly seconds: number }
  | { readonly _tag: "failed" | "timed out"; readonly message: string }

export interface Run {
  readonly client: string
  readonly round: number
  readonly outcome: Outcome
}

export interface Group {
  readonly workload: WorkloadName
  readonly concurrency: number
  // A phase runs for at least its count and at least its time (0: count only).
  readonly requests: number
  readonly measureMs?: number
  readonly warmup: number
  readonly warmupMs?: number
  // Clients that sit this workload out, with the reason.
  readonly skipped: Record<string, string>
  readonly runs: Array<Run>
}

export interface Machine {
  readonly node: string
  readonly platform: string
  readonly os: string
  readonly cpus: number
  readonly cpuModel: string
  readonly memoryGiB: number
  readonly loadavgStart: ReadonlyArray<number>
  loadavgEnd: ReadonlyArray<number>
}

export interface Report {
  readonly startedAt: string
  finishedAt: string
  readonly machine: Machine
  readonly server: { readonly kind: "node" | "nginx"; readonly version: string }
  readonly rounds: number
  readonly quick: boolean
  // How the client processes ran: bundled by esbuild (the default) or from
  // source under tsx (--tsx).
  readonly loader: "bundle" | "tsx"
  // The clients ran under another Node than the runner's (--node): such a run
  // belongs to the section of other versions, not to the main tables.
  readonly otherNode?: boolean
  readonly clients: ReadonlyArray<string>
  readonly baseline: string
  readonly groups: Array<Group>
}

// ---- statistics ----------------------------------------------------------------------------------------------------

interface Stat {
  readonly median: number
  readonly min: number
  readonly max: number
}

interface Summary {
  readonly client: string
  readonly label: string
  readonly runs: number
  readonly skipped: string | undefined
  readonly failures: ReadonlyArray<string>
  // Undefined when no run succeeded.
  readonly stats: {
    readonly cpu: Stat
    readonly rps: Stat
    readonly requests: Stat
    readonly mbps: Stat
    readonly wallMs: Stat
    readonly p50: Stat
    readonly p99: Stat
    readonly rssPeak: Stat
    readonly rssDelta: Stat
    // Per request (per download for the download): mark-compacts, and the main thread's GC pause in µs.
    readonly gcMajor: Stat
    readonly gcPause: Stat
    readonly connections: number
  } | undefined
  // CPU per request (per download for the download) relative to the baseline.
  readonly cpuRatio: number | undefined
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const stat = (values: ReadonlyArray<number>): Stat => ({
  median: median(values),
  min: Math.min(...values),
  max: Math.max(...values)
})

const summarize = (group: Group, clients: ReadonlyArray<string>): ReadonlyArray<Summary> => {
  const rows = clients.map((client): Summary => {
    const runs = group.runs.filter((run) => run.client === client)
    const ok: Array<{ readonly result: BenchResult; readonly connections: number }> = []
    const failures: Array<string> = []
    for (const run of runs) {
      if (run.outcome._tag === "ok") ok.push(run.outcome)
      else {
        const text = run.outcome._tag === "failed" ? `failed: ${run.outcome.message}` : run.outcome.message
        failures.push(`${text} (round ${run.round})`)
      }
    }
    const pick = (f: (result: BenchResult) => number) => stat(ok.map((entry) => f(entry.result)))
    return {
      client,
      label: labelOf(client),
      runs: ok.length,
      skipped: group.skipped[client],
      failures,
      stats: ok.length === 0 ? undefined : {
        cpu: pick((result) => result.cpuMicrosPerRequest),
        rps: pick((result) => result.requestsPerSecond),
        requests: pick((result) => result.requests),
        mbps: pick((result) => result.mbPerSecond),
        wallMs: pick((result) => result.wallMs),
        p50: pick((result) => result.p50Ms),
        p99: pick((result) => result.p99Ms),
        rssPeak: pick((result) => result.rssMb),
        rssDelta: pick((result) => result.rssDeltaMb),
        // Results saved before GC was recorded have no figures: NaN, shown as a dash.
        gcMajor: pick((result) => (result.gcMajor ?? NaN) / result.requests),
        gcPause: pick((result) => (result.gcPauseMs ?? NaN) * 1000 / result.requests),
        connections: Math.max(...ok.map((entry) => entry.connections))
      },
      cpuRatio: undefined
    }
  })
  const baseline = rows.find((row) => row.client === baselineOf(group.workload))?.stats?.cpu.median
  return rows.map((row) => ({
    ...row,
    cpuRatio: baseline !== undefined && row.stats !== undefined ? row.stats.cpu.median / baseline : undefined
  }))
}

// ---- tables --------------------------------------------------------------------------------------------------------

const thousands = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 })

const fixed = (value: number, digits: number): string => value.toFixed(digits)

const cell = (text: string): string => text.replace(/\|/g, "\\|").replace(/\n/g, " ")

const orDash = (value: number, digits: number): string => Number.isNaN(value) ? "–" : value.toFixed(digits)

const ratio = (value: number | undefined): string => value === undefined ? "–" : `${value.toFixed(2)}×`

const spread = (value: Stat, digits: number, format: (n: number, d: number) => string = fixed): string =>
  `${format(value.min, digits)}–${format(value.max, digits)}`

const grouped = (n: number, digits: number): string =>
  new Intl.NumberFormat("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(n)

const groupTitle = (group: Group): string => {
  const plan = workloadPlans[group.workload]
  switch (workloads[group.workload].mode) {
    case "loop":
      return `${plan.title}, concurrency ${group.concurrency}`
    case "download":
      return plan.title
    case "burst":
      return plan.title.replace("100 connections", `${group.concurrency} connections`)
  }
}

// "at least 4,000 requests and 2 s", or "4,000 requests" for a phase sized by count alone.
const phaseText = (count: number, ms: number | undefined): string =>
  ms !== undefined && ms > 0
    ? `at least ${thousands.format(count)} requests and ${(ms / 1000).toLocaleString("en-US")} s`
    : `${thousands.format(count)} requests`

const downloadText = (count: number, ms: number | undefined): string =>
  ms !== undefined && ms > 0
    ? `at least ${count} downloads and ${(ms / 1000).toLocaleString("en-US")} s`
    : `${count} downloads`

const groupSubtitle = (group: Group, rounds: number): string => {
  const times = `median of ${rounds} round${rounds === 1 ? "" : "s"}`
  switch (workloads[group.workload].mode) {
    case "loop":
      return `${phaseText(group.requests, group.measureMs)} measured after ${
        phaseText(group.warmup, group.warmupMs)
      } of warm-up, ${times}; ` +
        `${group.concurrency} request${group.concurrency === 1 ? "" : "s"} in flight on as many connections. ` +
        "**requests** is how many one run measured (median)."
    case "download":
      return `${downloadText(group.requests, group.measureMs)} one after another after ${
        downloadText(group.warmup, group.warmupMs)
      } of warm-up, ${times}; the body is ` +
        "counted chunk by chunk as it streams and never held whole. MB = 10^6 bytes. Three floors: the raw socket " +
        "counts the bytes where they arrive, in a fresh buffer for every read (as Node gives them); the raw socket + " +
        "Effect Stream hands the same reads on as an Effect Stream read with `Stream.runForEach`, as the httpfx " +
        "Client.get, Pool.request and Platform.layer rows read their bodies; the raw socket with one reused buffer " +
        "has every read land in the same 256 KiB. What lies between the first two is the price of a body as an " +
        "Effect Stream (its per-chunk work and what it leaves to V8's GC), paid by any client that offers one. The " +
        "two httpfx rows with runForEach read the same body with the response's own `runForEach(f)`, which does not " +
        "build a Stream; the two \"into a buffer\" rows with `runForEach(f, { buffer })`, the socket reading into " +
        "one 256 KiB buffer as the third floor's does."
    case "burst":
      return `${thousands.format(group.requests)} requests issued at once after a burst of ` +
        `${thousands.format(group.warmup)} to warm up, ${times}; ${group.concurrency} connections at most. ` +
        "Latency counts from issue to the end of the body, so it includes the wait in the queue. The floor is the " +
        "raw socket with every request a fiber (one `Effect.all(…, { concurrency: \"unbounded\" })`, as the " +
        "httpfx Client.get and Pool.request rows issue theirs), those beyond the C sockets waiting in a plain FIFO: " +
        "what lies between undici and the floor is the price of a fiber per request, paid by any Effect client " +
        "used that way. The two \"concurrency C\" rows issue the same burst through `Effect.forEach` with C " +
        "workers instead."
  }
}

const headers = (group: Group): { readonly head: ReadonlyArray<string>; readonly align: string } => {
  const vs = `CPU vs ${labelOf(baselineOf(group.workload))}`
  switch (workloads[group.workload].mode) {
    case "loop":
      return {
        head: [
          "client",
          "CPU µs/req",
          "min–max",
          "req/s",
          "requests",
          "p50 ms",
          "p99 ms",
          "peak RSS MB",
          "RSS Δ MB",
          "GC pause µs/req",
          "conns",
          vs
        ],
        align: "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
      }
    case "download":
      return {
        head: [
          "client",
          "MB/s",
          "min–max",
          "CPU ms/download",
          "peak RSS MB",
          "RSS Δ MB",
          "mark-compacts/download",
          "GC pause ms/download",
          "conns",
          vs
        ],
        align: "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
      }
    case "burst":
      return {
        head: [
          "client",
          "total ms",
          "min–max",
          "req/s",
          "CPU µs/req",
          "p50 ms",
          "p99 ms",
          "peak RSS MB",
          "RSS Δ MB",
          "GC pause µs/req",
          "mark-compacts",
          "conns",
          vs
        ],
        align: "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
      }
  }
}

const rowCells = (group: Group, row: Summary): ReadonlyArray<string> | undefined => {
  const s = row.stats
  if (s === undefined) return undefined
  const rss = [fixed(s.rssPeak.median, 0), fixed(s.rssDelta.median, 1)]
  const tail = [String(s.connections), ratio(row.cpuRatio)]
  switch (workloads[group.workload].mode) {
    case "loop":
      return [
        fixed(s.cpu.median, 1),
        spread(s.cpu, 1),
        thousands.format(s.rps.median),
        thousands.format(s.requests.median),
        fixed(s.p50.median, 2),
        fixed(s.p99.median, 2),
        ...rss,
        orDash(s.gcPause.median, 1),
        ...tail
      ]
    case "download":
      return [
        fixed(s.mbps.median, 0),
        spread(s.mbps, 0),
        fixed(s.cpu.median / 1000, 1),
        ...rss,
        orDash(s.gcMajor.median, 2),
        orDash(s.gcPause.median / 1000, 1),
        ...tail
      ]
    case "burst":
      return [
        thousands.format(s.wallMs.median),
        spread(s.wallMs, 0, grouped),
        thousands.format(s.rps.median),
        fixed(s.cpu.median, 1),
        fixed(s.p50.median, 1),
        fixed(s.p99.median, 1),
        ...rss,
        orDash(s.gcPause.median, 1),
        orDash(s.gcMajor.median * s.requests.median, 0),
        ...tail
      ]
  }
}

// One table in Markdown; the same text goes to the console as each group ends.
export const renderTable = (group: Group, report: Pick<Report, "rounds" | "clients">, heading = "###"): string => {
  const { head, align } = headers(group)
  const lines = [
    `${heading} ${groupTitle(group)}`,
    "",
    groupSubtitle(group, report.rounds),
    "",
    `| ${head.join(" | ")} |`,
    align
  ]
  const notes: Array<string> = []
  const blanks = " |".repeat(head.length - 2)
  for (const row of summarize(group, report.clients)) {
    const name = row.client === baselineOf(group.workload) ? `**${row.label}**` : row.label
    const cells = rowCells(group, row)
    if (row.skipped !== undefined) {
      lines.push(`| ${name} | ${cell(row.skipped)} |${blanks}`)
    } else if (cells === undefined) {
      lines.push(`| ${name} | ${cell(row.failures[0] ?? "not run")} |${blanks}`)
    } else {
      lines.push(`| ${name} | ${cells.join(" | ")} |`)
      for (const failure of row.failures) notes.push(`- ${row.label}: ${cell(failure)}`)
    }
  }
  return [...lines, ...(notes.length > 0 ? ["", ...notes] : [])].join("\n")
}

// One line per client, one column per group: CPU per request relative to the
// baseline, the number the tables all end with.
const renderOverview = (report: Report): string => {
  const columns = report.groups.map((group) => ({ group, rows: summarize(group, report.clients) }))
  const short = (group: Group): string => {
    switch (workloads[group.workload].mode) {
      case "loop":
        return `${group.workload} c=${group.concurrency}`
      case "download":
        return group.workload
      case "burst":
        return `${group.workload} (${group.concurrency} conns)`
    }
  }
  const lines = [
    `| client | ${columns.map(({ group }) => short(group)).join(" | ")} |`,
    `|---|${columns.map(() => "--:").join("|")}|`
  ]
  for (const client of report.clients) {
    const cells = columns.map(({ rows }) => {
      const row = rows.find((candidate) => candidate.client === client)
      if (row === undefined || row.skipped !== undefined) return "n/a"
      if (row.stats === undefined) return "failed"
      return ratio(row.cpuRatio)
    })
    const name = client === BASELINE ? `**${labelOf(client)}**` : labelOf(client)
    lines.push(`| ${name} | ${cells.join(" | ")} |`)
  }
  return lines.join("\n")
}

const failureList = (report: Report): ReadonlyArray<string> => {
  const seen = new Map<string, Array<string>>()
  for (const group of report.groups) {
    for (const run of group.runs) {
      if (run.outcome._tag === "ok") continue
      const text = run.outcome._tag === "failed" ? `failed: ${run.outcome.message}` : run.outcome.message
      const list = seen.get(run.client) ?? []
      list.push(`${groupTitle(group)}, round ${run.round}: ${text}`)
      seen.set(run.client, list)
    }
  }
  return [...seen].map(([client, list]) => `- ${labelOf(client)}: ${list.map(cell).join("; ")}`)
}

const serverLine = (report: Report): string =>
  report.server.kind === "nginx"
    ? `${report.server.version} (\`--server nginx\`), one process, static files, keep-alive`
    : `Node ${report.machine.node} \`node:http\` (bench/server.ts), one process, bodies preallocated, keep-alive`

const nodeMajor = (version: string): number => Number(/^v?(\d+)/.exec(version)?.[1] ?? 0)

/** The saved runs under other Node versions, oldest version first; none when the directory is missing. */
const loadVersionReports = (): ReadonlyArray<Report> => {
  if (!existsSync(versionsDir)) return []
  return readdirSync(versionsDir)
    .filter((name) => name.endsWith(".json"))
    .map((name) => JSON.parse(readFileSync(join(versionsDir, name), "utf8")) as Report)
    .sort((a, b) => nodeMajor(a.machine.node) - nodeMajor(b.machine.node))
}

// The section between these markers is rewritten on its own when a run under another Node version is saved.
const VERSIONS_START = "<!-- other Node versions: start -->"
const VERSIONS_END = "<!-- other Node versions: end -->"

const renderVersions = (main: Pick<Report, "machine">, others: ReadonlyArray<Report>): string => {
  const shown = others.filter((other) => other.machine.node !== main.machine.node)
  const body = shown.length === 0
    ? ""
    : `## Other Node versions

The tables above ran the clients under Node ${main.machine.node}. Most applications run a newer Node, and V8 differs
between them, above all in when it collects: the download in particular can rank clients differently. These runs
put only the clients under another Node (\`npm run bench -- --node PATH --write\`); the server stays on the
runner's Node, and the method is the one above, with fewer workloads.

${
      shown.map((other) => {
        const m = other.machine
        const busy = (m.loadavgStart[0] ?? 0) > m.cpus / 2 ? " **The machine was busy when it started.**" : ""
        return `### Node ${m.node}

Run on ${other.startedAt.slice(0, 10)}, ${other.rounds} round${other.rounds === 1 ? "" : "s"}${
          other.quick ? " (`--quick`: a smoke test, not a measurement)" : ""
        }, load average ${(m.loadavgStart[0] ?? 0).toFixed(2)} at the start.${busy}

${other.groups.map((group) => renderTable(group, other, "####")).join("\n\n")}
`
      }).join("\n")
    }`
  return `${VERSIONS_START}\n${body}${VERSIONS_END}\n`
}

const renderMarkdown = (report: Report): string => {
  const m = report.machine
  const date = report.startedAt.slice(0, 10)
  const minutes = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 60_000
  const load = (values: ReadonlyArray<number>) => values.map((value) => value.toFixed(2)).join(" ")
  const plans = [...new Set(report.groups.map((group) => group.workload))].map((name) => {
    const group = report.groups.find((candidate) => candidate.workload === name)!
    const levels = report.groups.filter((candidate) => candidate.workload === name).map((candidate) => candidate.concurrency)
    const shape = workloads[name].mode === "burst"
      ? `${thousands.format(group.requests)} requests at once, ${levels.join(", ")} connections`
      : workloads[name].mode === "download"
      ? `${downloadText(group.requests, group.measureMs)}, one at a time`
      : `${phaseText(group.requests, group.measureMs)}, concurrency ${levels.join(", ")}`
    const warmup = workloads[name].mode === "loop"
      ? phaseText(group.warmup, group.warmupMs)
      : workloads[name].mode === "download"
      ? downloadText(group.warmup, group.warmupMs)
      : thousands.format(group.warmup)
    return `| ${name} | ${workloadPlans[name].title} | ${shape} | ${warmup} |`
  })
  const failures = failureList(report)
  // The load before the run started is other work only; at the end it
  // includes the benchmark's own two busy processes.
  const busy = (m.loadavgStart[0] ?? 0) > m.cpus / 2
    ? `\n\n**The machine was busy before this run started** (load average ${
      (m.loadavgStart[0] ?? 0).toFixed(1)
    } on ${m.cpus} cores): other processes\ncompeted for the CPUs, so wall-clock numbers (req/s, MB/s, latency, total ms) are depressed and spreads\nwider. CPU per request, and ratios between clients run interleaved, suffer least.`
    : ""
  return `# Benchmarks

Generated by \`npm run bench -- --write\` on ${date}; do not edit by hand: run it again. The run took
${minutes.toFixed(1)} minutes.${
    report.quick
      ? "\n\n**This is a `--quick` run: one round and too few warm-up requests for V8 to finish optimising; its numbers\nare a smoke test, not a measurement.**"
      : ""
  }${busy}

What is measured is the **client**: how much CPU one request costs it, how fast it goes and what memory it holds,
against one loopback server, with every client doing the same work. The table that matters most is CPU per request
relative to undici's \`Pool.request\` (1.00×, lower is better), because on a machine with two cores shared by
client and server, requests per second say as much about the server and the scheduler as about the client.

![Client CPU per request, GET 1 KiB](bench/results.svg)

## Overview: CPU per request relative to ${labelOf(BASELINE)}

Median CPU time (user + system) of the client process per request (per download for download64m), divided by
${labelOf(BASELINE)}'s in the same workload (in the WebSocket echo, per round trip, divided by the ${labelOf("ws")} client's).
Lower is better.

${renderOverview(report)}

## Machine

| | |
|---|---|
| CPU | ${m.cpuModel} |
| cores | ${m.cpus} |
| memory | ${m.memoryGiB.toFixed(1)} GiB |
| OS | ${m.platform}, ${m.os} |
| Node | ${m.node} |
| date | ${report.startedAt} |
| load average (1, 5, 15 min) | ${load(m.loadavgStart)} at the start, ${load(m.loadavgEnd)} at the end |
| server | ${serverLine(report)} |

## Method

- **Processes.** The server runs in its own process and so does every client run: \`process.cpuUsage()\` in a
  client process sees that client's work only, and no client inherits another's JIT state, heap or sockets.
  ${
    report.loader === "tsx"
      ? "Each client process ran from source under tsx (`--tsx`)."
      : "Before the run each client is bundled by esbuild into one ESM file (src/ and the packages it uses, as they\n  are) and runs as `node --expose-gc bench/.out/clients/<client>.mjs`: starting under tsx would cost ~1.5 s\n  per process, most of the time budget, and add its loader's memory to every process."
  }
  A client process builds its client, runs the warm-up, then the measured phase, prints one line of JSON and exits.
- **Rounds and interleaving.** ${report.rounds} round${report.rounds === 1 ? "" : "s"}, clients run in turn, A B C … A B C …,
  so slow drifts of a shared machine hit every client alike; the tables give the median over the rounds and the
  spread (min–max) of the main number. A client that fails once is not run again in that workload.
- **Warm-up and length.** Every process first sends the warm-up requests (same shape as the measured ones, on the
  same connections), so JIT compilation and connection setup stay out of the measured phase. The request-loop
  workloads give every client the same *time*, not the same number of requests: each phase runs until it has sent
  at least its count and lasted at least its time (capped at ${MAX_REQUESTS.toLocaleString("en-US")} requests). With a fixed count a fast
  client would be measured over a fraction of a second right after a warm-up of a few tenths, while V8 still compiles
  its hot path on background threads whose CPU \`process.cpuUsage()\` counts: such a run measures the JIT more than
  the client, and the more code a client has, the more so. After the warm-up comes a forced GC (for the RSS
  baseline, below), then a second warm-up of the same count and 1 s (the warm-up's own time if shorter): a full GC throws away optimised code
  that refers to objects it collected, and without the second warm-up a client re-optimises a hundred functions or
  more inside its measured phase (@effect/platform's HttpClient over httpfx: ~120 after the GC against ~30 without it
  on Node 20), which again costs most the client with the most code per request.
- **CPU µs/req**: user + system CPU of the client process over the measured phase divided by the requests.
  **req/s**, **MB/s** and **total ms**: wall clock of the measured phase. **p50/p99**: per-request latency.
  **conns**: connections the server accepted from that process (warm-up included), so a client that reconnects
  shows it.
- **Peak RSS**: \`process.memoryUsage.rss()\` sampled every 10 ms during the measured phase; **RSS Δ** is that peak
  minus the RSS right before the phase (after the forced GC and the second warm-up), i.e. what the measured work
  itself held.
  ${
    report.loader === "tsx"
      ? "The absolute peak is inflated by tsx, which compiles TypeScript in-process and adds ~100 MB before any\n  client code runs;"
      : "The absolute peak is Node's own ~45 MB plus the client (under tsx it would be ~100 MB more: its loader's);"
  }
  compare the Δ column between clients rather than the peak with other benchmarks. A sample is taken when the
  event loop gets to the timer, so a client that keeps the loop busy for long may be sampled less often.
  On the download, much of the peak is memory already dead. V8 frees young ArrayBuffers at a scavenge, and with
  little JavaScript allocated, Node 20 and 22 start one only when their total reaches twice the largest semi-space
  (32 MB on 64-bit; \`--trace-gc\` logs it as "external memory pressure", twice per 64 MiB; Node 24 leaves them
  to a mark-compact about once per 64 MiB). So any client that reads into fresh buffers holds up to 32 MB of chunks
  it has finished with, and the raw socket's peak of about 100 MB is Node with its code and heap (~50 MB once
  running), those 32 MB, and what the allocator keeps. The "one reused buffer" rows allocate nothing per read
  (the socket reads into the same 256 KiB each time), so their peak is Node, the client and that buffer.
- **GC**: V8's collections during the measured phase, from Node's \`gc\` performance entries. **GC pause** is the
  time the main thread stood still for them, per request (per download for the download); **mark-compacts** counts
  the full-heap collections. The marking V8 does on helper threads is not in the pause, but it is in the CPU time.
  On the download, scavenges come every 32 MB of new buffers. Whatever is alive at that moment is promoted to the
  old generation: for the raw socket next to nothing; for a body read as an Effect Stream, the fibers,
  continuations and chunks of the pipeline (one \`Stream.runForEach\` holds about 24 KB of them while it runs).
  That growth, not the bytes, is what brings the mark-compacts, and how many it brings depends on how close the
  process's heap already sits to V8's limit. In these small processes a little more live heap tips it over:
  measured on Node 20, 40 downloads per run, adding 0.5 MB of live objects took the Effect Stream floor from 3–5
  mark-compacts to 10–11 and httpfx's \`Pool.stream\` (whose process ends with 0.1–0.5 MB more heap than the
  floor's: more code) from 11–12 to 59–67; adding 1 MB took both to 66–77, and the floor's CPU per download from
  27–30 ms to 50–55 ms. The raw socket stayed at 0–1. So the download rows compare heaps as much as clients.
- **Equal footing.** Every client gets the same connection limit (the concurrency, or 100 for the queue), keep-alive,
  and no pipelining; every client checks status and body length of every response. Defaults are kept otherwise
  (axios goes through follow-redirects as it does by default; got has retries off so each request is sent once).
  httpfx's pool timeout (5 s by default) is turned off for the queue, where waiting is the point.

| workload | what | measured | warm-up |
|---|---|---|--:|
${plans.join("\n")}

## Clients

| client | what runs |
|---|---|
${clientTable(report)}

## Results

${report.groups.map((group) => renderTable(group, report)).join("\n\n")}
${failures.length > 0 ? `\n## Failures\n\n${failures.join("\n")}\n` : ""}
${renderVersions(report, loadVersionReports())}
## Running it

\`\`\`sh
npm run bench                     # every workload, 3 rounds: ~16 min on 2 cores
npm run bench -- --quick          # one round, fewer requests, no time floors: ~2 min
npm run bench -- --write          # … and rewrite BENCHMARKS.md and bench/results.svg
npm run bench -- --server nginx   # against nginx instead of node:http (needs nginx installed)
npm run bench -- --workload get1k --concurrency 16 --clients undici-pool,httpfx-pool
npx tsx bench/report.ts           # redraw BENCHMARKS.md and the chart from bench/.out/last.json
npm run bench -- --node "$(npx -y -p node@24 which node)" --workload get1k,download64m --concurrency 16 --write
                                  # the clients under Node 24: saved to bench/versions/, shown in its own section
\`\`\`

\`npx tsx bench/run.ts --help\` lists every option. The benchmark only ever talks to 127.0.0.1, and it never runs
as part of \`npm test\`.
`
}

const clientNotes: Record<string, string> = {
  "raw-socket":
    "the floor: one socket per fiber, request bytes built once, a parser that only finds the end of the head and counts the body; what any client costs above it is its own overhead; in the queue workload every request is a fiber, and those beyond the C sockets wait in a plain FIFO",
  "raw-socket-stream":
    "the floor of a body as an Effect Stream (download only): the raw socket's reads land in 1 MiB slabs and go, as views, to a `Stream.repeatEffectChunkOption` read with `Stream.runForEach`, as the httpfx Client.get and Pool.request rows read theirs; what an Effect Stream costs any client",
  "raw-socket-into":
    "the floor of a body read through memory the client reuses (download only): the raw socket with Node's `onread`, every read landing in the same 256 KiB buffer, so nothing is allocated per read",
  "undici-pool": "`new Pool(origin, { connections: C, pipelining: 1 })`, `pool.request`, body read with `arrayBuffer()` (counted with `for await` for the download)",
  "httpfx-client": "`Client.make(…)`, `client.request` (buffered); `client.stream` + `Stream.runForEach` for the download",
  "httpfx-client-traced": "the same calls as `httpfx-client` under a tracer that records every span (`Tracer.make` keeping Effect's own spans, the last 1,024 of them): what tracing costs when something records it; the row above is the cost with no tracer installed",
  "httpfx-pool": "`Pool.make(…)`, `pool.request` (buffered); `pool.stream` + `Stream.runForEach` for the download",
  "httpfx-client-foreach":
    "the download only: `client.stream`, the body read with the response's own `runForEach(f)`, which pulls chunk after chunk without building a Stream pipeline",
  "httpfx-pool-foreach": "the download only: `pool.stream`, the body read with the response's own `runForEach(f)`",
  "httpfx-client-into":
    "the download only: `client.stream`, the body read with `runForEach(f, { buffer })` through one 256 KiB buffer: the socket reads straight into it, and each chunk is a view of it",
  "httpfx-pool-into": "the download only: `pool.stream`, the body read with `runForEach(f, { buffer })` through one 256 KiB buffer",
  "httpfx-client-bounded":
    "the queue workload only: the same 10,000 `client.request` calls through `Effect.forEach(…, { concurrency: C })`, so C fibers take the requests in turn instead of one fiber per request (README's advice for large batches)",
  "httpfx-pool-bounded": "the queue workload only: the same 10,000 `pool.request` calls through `Effect.forEach(…, { concurrency: C })`",
  "httpfx-platform":
    "`@effect/platform`'s `HttpClient` provided by httpfx's `Platform.layer(…)`: the same application code as the two @effect/platform-node rows",
  "platform-floor":
    "the floor of `@effect/platform`'s `HttpClient` (request loops only): `HttpClient.make` over a backend that answers at once with a canned response (the bench server's head, a fresh copy of the body per read), no network, driven by the same application code as the other platform rows; what platform's own machinery (request, URL, client span, trace headers, AbortController, interruptible response) costs per request, below any transport",
  "platform-floor-async":
    "the same floor with the canned response handed back on the next turn of the event loop (`setImmediate`), as a transport's answer comes: the request's fiber suspends and resumes, and what platform keeps for the request lives across that turn, as it does over a network",
  "ws":
    "the `ws` package's WebSocket client (WebSocket echo only; the reference there): one socket per worker, `perMessageDeflate: false`, a round trip is `send` of a binary message and its `message` event",
  "ws-effect":
    "the same `ws` client driven by an Effect program, as the httpfx rows are: `send` in `Effect.sync` and the echo awaited in one `Effect.async` (no canceller); what it costs over the row above is Effect's, not the WebSocket's",
  "httpfx-websocket":
    "httpfx's `client.websocket` (WebSocket echo only): one socket per worker, `socket.send` and the next message pulled from `socket.messages` (`Stream.toPull`), one Effect per round trip",
  "httpfx-websocket-receive":
    "the same, each echo taken with `socket.receive` (the next message, one `Effect.async`) rather than pulled from the `messages` stream",
  "node-http": "`http.request` with `new http.Agent({ keepAlive: true, maxSockets: C })`, body collected from `data` events",
  "undici-fetch": "undici's `fetch` on `new Agent({ connections: C })`",
  "node-fetch-global": "Node's built-in `fetch` with no options (its bundled undici, default global dispatcher)",
  "effect-platform-node": "`@effect/platform`'s `HttpClient` from `NodeHttpClient.layerUndici`'s transport, on an undici Agent with C connections",
  "effect-platform-node-http":
    "`@effect/platform`'s `HttpClient` from `NodeHttpClient.layer`'s node:http transport, with a keep-alive Agent of C sockets",
  axios: "`axios.create({ httpAgent })` with a keep-alive `http.Agent` of C sockets, `responseType: \"arraybuffer\"` (\"stream\" for the download)",
  got: "`got.extend({ agent: { http }, retry: { limit: 0 } })` with a keep-alive `http.Agent` of C sockets, `responseType: \"buffer\"` (`got.stream` for the download)"
}

const clientTable = (report: Report): string =>
  report.clients.map((client) => `| ${labelOf(client)} (\`${client}\`) | ${clientNotes[client] ?? ""} |`).join("\n")

// ---- the chart -----------------------------------------------------------------------------------------------------

const escapeXml = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

// A round step for about `count` grid lines up to `max`: 1, 2 or 5 × 10^n.
const niceStep = (max: number, count: number): number => {
  const raw = max / count
  const power = 10 ** Math.floor(Math.log10(raw))
  const fraction = raw / power
  return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * power
}

const palette = ["#9ecae1", "#4292c6", "#084594"]

// Grouped horizontal bars: CPU µs/request of every client for GET 1 KiB, one
// bar per concurrency level, sorted by the middle level; the baseline's row
// is shaded and its value at that level drawn as a dashed line across.
const renderSvg = (report: Report): string => {
  const groups = report.groups.filter((group) => group.workload === "get1k")
  if (groups.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="600" height="60"><text x="10" y="35" font-family="sans-serif">No GET 1 KiB results in this run.</text></svg>\n`
  }
  const summaries = groups.map((group) => summarize(group, report.clients))
  const key = Math.min(Math.floor(groups.length / 2), groups.length - 1)
  const keyCpu = (client: string): number =>
    summaries[key]!.find((row) => row.client === client)?.stats?.cpu.median ?? Number.POSITIVE_INFINITY
  const clients = [...report.clients].sort((a, b) => keyCpu(a) - keyCpu(b))
  const max = Math.max(1, ...summaries.flatMap((rows) => rows.map((row) => row.stats?.cpu.median ?? 0)))
  const step = niceStep(max, 8)
  const axisMax = Math.ceil(max / step) * step

  const width = 980
  const labelWidth = 300
  const plotLeft = labelWidth + 10
  const plotRight = width - 70
  const barHeight = 13
  const barGap = 2
  const rowGap = 14
  const rowHeight = groups.length * (barHeight + barGap) - barGap + rowGap
  const top = 116
  const plotHeight = clients.length * rowHeight
  const height = top + plotHeight + 64
  const x = (value: number): number => plotLeft + (value / axisMax) * (plotRight - plotLeft)
  const font = `font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"`

  const parts: Array<string> = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="Client CPU microseconds per request, GET 1 KiB">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="20" y="30" ${font} font-size="19" font-weight="600" fill="#111">Client CPU per request, GET 1 KiB (µs, lower is better)</text>`,
    `<text x="20" y="52" ${font} font-size="12.5" fill="#555">${
      escapeXml(
        `median of ${report.rounds} round${report.rounds === 1 ? "" : "s"} · Node ${report.machine.node} · ${report.machine.cpus} × ${report.machine.cpuModel} · ${
          report.server.kind === "nginx" ? report.server.version : "node:http"
        } server on loopback · ${report.startedAt.slice(0, 10)}`
      )
    }</text>`
  )
  // Legend.
  groups.forEach((group, index) => {
    const lx = 20 + index * 130
    parts.push(
      `<rect x="${lx}" y="66" width="14" height="14" fill="${palette[index % palette.length]}"/>`,
      `<text x="${lx + 20}" y="78" ${font} font-size="13" fill="#222">concurrency ${group.concurrency}</text>`
    )
  })
  // Grid and axis.
  for (let tick = 0; tick <= axisMax + step / 2; tick += step) {
    const tx = x(tick).toFixed(1)
    parts.push(
      `<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${top + plotHeight}" stroke="#e3e3e3" stroke-width="1"/>`,
      `<text x="${tx}" y="${top + plotHeight + 18}" ${font} font-size="12" fill="#444" text-anchor="middle">${
        thousands.format(tick)
      }</text>`
    )
  }
  parts.push(
    `<text x="${((plotLeft + plotRight) / 2).toFixed(1)}" y="${top + plotHeight + 40}" ${font} font-size="13" fill="#222" text-anchor="middle">client CPU µs per request (user + system)</text>`
  )
  // The baseline at the key level, across every row, under the bars and numbers.
  const baselineValue = summaries[key]!.find((row) => row.client === BASELINE)?.stats?.cpu.median
  if (baselineValue !== undefined) {
    const bx = x(baselineValue).toFixed(1)
    parts.push(
      `<line x1="${bx}" y1="${top - 8}" x2="${bx}" y2="${top + plotHeight - rowGap / 2}" stroke="#b07800" stroke-width="1.5" stroke-dasharray="5,4"/>`,
      `<text x="${Math.min(Math.max(Number(bx), plotLeft + 140), width - 150).toFixed(1)}" y="${top - 14}" ${font} font-size="12" fill="#7a5a00" text-anchor="middle">${
        escapeXml(`${labelOf(BASELINE)}, c=${groups[key]!.concurrency}: ${baselineValue.toFixed(1)} µs`)
      }</text>`
    )
  }
  // Rows.
  clients.forEach((client, row) => {
    const y0 = top + row * rowHeight
    const isBaseline = client === BASELINE
    if (isBaseline) {
      parts.push(
        `<rect x="4" y="${y0 - rowGap / 2 + 1}" width="${width - 8}" height="${rowHeight - 2}" fill="#fff4d6" stroke="#e0b040" stroke-width="1" rx="3"/>`
      )
    }
    const label = `${labelOf(client)}${isBaseline ? " (baseline)" : ""}`
    const middle = y0 + (rowHeight - rowGap) / 2
    parts.push(
      `<text x="${labelWidth}" y="${(middle + 4.5).toFixed(1)}" ${font} font-size="13.5" fill="#111" text-anchor="end"${
        isBaseline ? ` font-weight="700"` : ""
      }>${escapeXml(label)}</text>`
    )
    summaries.forEach((rows, index) => {
      const summary = rows.find((candidate) => candidate.client === client)
      const by = y0 + index * (barHeight + barGap)
      const value = summary?.stats?.cpu.median
      if (value === undefined) {
        const why = summary?.skipped ?? (summary?.failures[0] ?? "not run").replace(/ \(round \d+\)$/, "")
        const short = why.length > 80 ? `${why.slice(0, 77)}…` : why
        parts.push(
          `<text x="${plotLeft + 4}" y="${by + barHeight - 2}" ${font} font-size="11.5" font-style="italic" fill="#a33">${
            escapeXml(`c=${groups[index]!.concurrency}: ${short}`)
          }</text>`
        )
        return
      }
      const w = Math.max(1, x(value) - plotLeft)
      parts.push(
        `<rect x="${plotLeft}" y="${by}" width="${w.toFixed(1)}" height="${barHeight}" fill="${
          palette[index % palette.length]
        }"${isBaseline ? ` stroke="#7a5a00" stroke-width="1.5"` : ""}/>`,
        // A white halo keeps the number readable where the dashed line crosses it.
        `<text x="${(plotLeft + w + 5).toFixed(1)}" y="${by + barHeight - 2.5}" ${font} font-size="11.5" fill="#222" stroke="#ffffff" stroke-width="3" paint-order="stroke">${
          value.toFixed(1)
        }</text>`
      )
    })
  })
  parts.push("</svg>")
  return parts.join("\n") + "\n"
}

// ---- files ---------------------------------------------------------------------------------------------------------

export const writeReport = (report: Report): ReadonlyArray<string> => {
  const markdown = join(rootDir, "BENCHMARKS.md")
  const svg = join(benchDir, "results.svg")
  writeFileSync(markdown, renderMarkdown(report))
  writeFileSync(svg, renderSvg(report))
  return [markdown, svg]
}

/**
 * Keep a run whose clients ran under another Node version: saved to bench/versions/ (replacing an earlier run of
 * that major version), and BENCHMARKS.md's section of other versions redrawn. The main tables stay as they are.
 */
export const writeVersionReport = (report: Report): ReadonlyArray<string> => {
  const markdown = join(rootDir, "BENCHMARKS.md")
  const text = readFileSync(markdown, "utf8")
  const start = text.indexOf(VERSIONS_START)
  const end = text.indexOf(VERSIONS_END)
  if (start < 0 || end < start) {
    throw new Error("BENCHMARKS.md has no section for other Node versions: run `npm run bench -- --write` first")
  }
  mkdirSync(versionsDir, { recursive: true })
  const saved = join(versionsDir, `node-${nodeMajor(report.machine.node)}.json`)
  writeFileSync(saved, JSON.stringify(report) + "\n")
  const main = /\| Node \| (\S+) \|/.exec(text)?.[1] ?? ""
  const section = renderVersions({ machine: { ...report.machine, node: main } }, loadVersionReports())
  writeFileSync(markdown, text.slice(0, start) + section + text.slice(end + VERSIONS_END.length + 1))
  return [saved, markdown]
}

// Run directly: redraw from a saved run.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const file = process.argv[2] ?? join(benchDir, ".out", "last.json")
  const report = JSON.parse(readFileSync(file, "utf8")) as Report
  for (const path of report.otherNode === true ? writeVersionReport(report) : writeReport(report)) {
    process.stdout.write(`wrote ${path}\n`)
  }
}

// Keeps the catalog's client list and the report's notes in step.
for (const spec of clientSpecs) {
  if (clientNotes[spec.name] === undefined) throw new Error(`bench/report.ts: no description for client ${spec.name}`)
}
