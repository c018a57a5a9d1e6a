// Benchmark runner: client CPU cost per request of several HTTP clients, side
// by side, against one loopback server.
//
//   npm run bench                                  # defaults: get1k, c=16, 20000 requests × 3 rounds
//   npx tsx bench/run.ts --quick --clients raw-socket,undici-pool,node-http
//   npx tsx bench/run.ts --workload get1k,post1k,get100k --concurrency 1,16
//
// Every client runs in its own process so that process.cpuUsage() sees only
// that client, and the server runs in yet another one. Clients are run in
// interleaved order (A B C … A B C …) so that slow drifts of a noisy machine
// hit all of them alike; the table reports medians over the rounds.
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { request } from "node:http"
import { cpus, loadavg } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { isWorkloadName, LOOPBACK_HOST } from "./shared.js"
import type { BenchResult, WorkloadName } from "./shared.js"

const benchDir = dirname(fileURLToPath(import.meta.url))
const rootDir = dirname(benchDir)

interface ClientSpec {
  readonly name: string
  readonly file: string
  readonly args: ReadonlyArray<string>
}

const clientSpecs: ReadonlyArray<ClientSpec> = [
  { name: "raw-socket", file: "clients/raw-socket.ts", args: [] },
  { name: "undici-pool", file: "clients/undici-pool.ts", args: [] },
  { name: "httpfx-client", file: "clients/httpfx-client.ts", args: [] },
  { name: "httpfx-pool", file: "clients/httpfx-pool.ts", args: [] },
  { name: "node-http", file: "clients/node-http.ts", args: [] },
  { name: "undici-fetch", file: "clients/undici-fetch.ts", args: [] },
  { name: "effect-platform-node", file: "clients/effect-platform-node.ts", args: ["--variant", "undici"] },
  { name: "effect-platform-node-http", file: "clients/effect-platform-node.ts", args: ["--variant", "http"] }
]

// The client every ratio is relative to.
const BASELINE = "undici-pool"

// ---- options -------------------------------------------------------------------------------------------------------

interface Options {
  readonly requests: number
  readonly warmup: number
  readonly concurrency: ReadonlyArray<number>
  readonly rounds: number
  readonly workloads: ReadonlyArray<WorkloadName>
  readonly clients: ReadonlyArray<ClientSpec>
  readonly timeoutMs: number
}

const usage = `Usage: npx tsx bench/run.ts [options]

  --requests N        measured requests per client run (default 20000; --quick: 3000)
  --warmup N          warm-up requests before measuring (default 3000)
  --concurrency LIST  comma-separated concurrency levels (default 16)
  --rounds R          interleaved rounds per client (default 3; --quick: 1)
  --workload LIST     get1k, post1k, get100k, comma-separated (default get1k)
  --clients LIST      comma-separated subset of: ${clientSpecs.map((spec) => spec.name).join(", ")}
  --timeout S         hard limit per client process in seconds (default 120)
  --quick             a fast smoke run: 3000 requests, 1 round
`

const list = (raw: string): Array<string> =>
  raw.split(",").map((item) => item.trim()).filter((item) => item !== "")

const integer = (name: string, raw: string, min: number): number => {
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be an integer >= ${min}, got ${raw}`)
  return value
}

const parseOptions = (): Options | undefined => {
  const { values } = parseArgs({
    options: {
      requests: { type: "string" },
      warmup: { type: "string" },
      concurrency: { type: "string" },
      rounds: { type: "string" },
      workload: { type: "string" },
      clients: { type: "string" },
      timeout: { type: "string" },
      quick: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false }
    },
    strict: true
  })
  if (values.help) {
    process.stdout.write(usage)
    return undefined
  }
  const workloadNames = list(values.workload ?? "get1k")
  for (const name of workloadNames) {
    if (!isWorkloadName(name)) throw new Error(`unknown workload ${name} (get1k, post1k, get100k)`)
  }
  const clientNames = values.clients === undefined ? clientSpecs.map((spec) => spec.name) : list(values.clients)
  const clients = clientNames.map((name) => {
    const spec = clientSpecs.find((candidate) => candidate.name === name)
    if (spec === undefined) {
      throw new Error(`unknown client ${name}; known: ${clientSpecs.map((candidate) => candidate.name).join(", ")}`)
    }
    return spec
  })
  return {
    requests: integer("requests", values.requests ?? (values.quick ? "3000" : "20000"), 1),
    warmup: integer("warmup", values.warmup ?? "3000", 0),
    concurrency: list(values.concurrency ?? "16").map((raw) => integer("concurrency", raw, 1)),
    rounds: integer("rounds", values.rounds ?? (values.quick ? "1" : "3"), 1),
    workloads: workloadNames as Array<WorkloadName>,
    clients,
    timeoutMs: integer("timeout", values.timeout ?? "120", 1) * 1000
  }
}

// ---- child processes -----------------------------------------------------------------------------------------------

// Every process we start, so that any way out of the runner can kill them.
const live = new Set<ChildProcess>()

const killAll = (): void => {
  for (const child of live) child.kill("SIGKILL")
}

// Runs a TypeScript file of bench/ under tsx's loader in a fresh Node process.
const spawnScript = (file: string, args: ReadonlyArray<string>, stdin: "pipe" | "ignore"): ChildProcess => {
  const child = spawn(process.execPath, ["--import", "tsx", join(benchDir, file), ...args], {
    cwd: rootDir,
    stdio: [stdin, "pipe", "pipe"]
  })
  live.add(child)
  child.once("exit", () => live.delete(child))
  return child
}

interface Server {
  readonly port: number
  readonly child: ChildProcess
}

const startServer = (): Promise<Server> =>
  new Promise((resolve, reject) => {
    // stdin stays open for the server's whole life: when this process dies,
    // the pipe closes and the server exits even if nobody killed it.
    const child = spawnScript("server.ts", [], "pipe")
    let stdout = ""
    let stderr = ""
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error("server did not report its port within 30 s"))
    }, 30_000)
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString()
      const newline = stdout.indexOf("\n")
      if (newline < 0) return
      clearTimeout(timer)
      try {
        const { port } = JSON.parse(stdout.slice(0, newline)) as { port: number }
        resolve({ port, child })
      } catch {
        child.kill("SIGKILL")
        reject(new Error(`server printed ${JSON.stringify(stdout.slice(0, newline))} instead of its port`))
      }
    })
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`server exited early (${signal ?? code}): ${stderr.trim()}`))
    })
  })

const stopServer = async (server: Server): Promise<void> => {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => server.child.once("exit", () => resolve()))
  server.child.stdin?.end()
  server.child.kill("SIGTERM")
  const timer = setTimeout(() => server.child.kill("SIGKILL"), 5_000)
  await exited
  clearTimeout(timer)
}

// Connections the server has accepted so far. Each call opens (and closes)
// one connection of its own, which is counted too.
const serverConnections = (port: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = request({ host: LOOPBACK_HOST, port, path: "/_stats", agent: false }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk: string) => {
        body += chunk
      })
      res.on("end", () => {
        try {
          resolve((JSON.parse(body) as { connections: number }).connections)
        } catch (error) {
          reject(error)
        }
      })
    })
    req.on("error", reject)
    req.end()
  })

type Outcome =
  | { readonly _tag: "ok"; readonly result: BenchResult; readonly connections: number; readonly seconds: number }
  | { readonly _tag: "failed" | "timed out"; readonly message: string }

// The line of a client's stderr worth showing in the table: the harness's own
// "<client>: message" line or, when the process died while loading modules
// (before the harness ran), Node's "SomeError: …" line rather than the
// "node:internal/…" location Node prints first.
const reasonLine = (stderr: string): string => {
  const lines = stderr.split("\n").filter((line) => line.trim() !== "")
  const meaningful = lines.find((line) => /^[\w.-]+: \S/.test(line) || /^\w*(Error|Exception)\b/.test(line))
  return (meaningful ?? lines[0] ?? "").trim()
}

const isBenchResult = (value: unknown): value is BenchResult =>
  typeof value === "object" && value !== null &&
  typeof (value as BenchResult).cpuMicrosPerRequest === "number" &&
  typeof (value as BenchResult).requestsPerSecond === "number"

const runClient = async (
  spec: ClientSpec,
  port: number,
  workload: WorkloadName,
  concurrency: number,
  options: Options
): Promise<Outcome> => {
  const before = await serverConnections(port)
  const started = performance.now()
  const child = spawnScript(spec.file, [
    ...spec.args,
    "--url",
    `http://${LOOPBACK_HOST}:${port}`,
    "--workload",
    workload,
    "--concurrency",
    String(concurrency),
    "--warmup",
    String(options.warmup),
    "--requests",
    String(options.requests)
  ], "ignore")
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    child.kill("SIGKILL")
  }, options.timeoutMs)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    // "close" rather than "exit": it waits for stdout and stderr to drain.
    child.once("close", (exitCode, exitSignal) => resolve([exitCode, exitSignal]))
    child.once("error", (error) => {
      stderr = `${error.message}\n${stderr}`
      resolve([null, null])
    })
  })
  clearTimeout(timer)
  const seconds = (performance.now() - started) / 1000
  if (timedOut) return { _tag: "timed out", message: `timed out after ${options.timeoutMs / 1000} s` }
  const lastLine = stdout.trim().split("\n").pop() ?? ""
  if (code === 0) {
    try {
      const result: unknown = JSON.parse(lastLine)
      if (isBenchResult(result)) {
        // Minus the one connection the second stats request opened itself.
        const connections = (await serverConnections(port)) - before - 1
        return { _tag: "ok", result, connections, seconds }
      }
    } catch {
      // Reported as a failure below.
    }
  }
  const reason = reasonLine(stderr) || (code === 0 ? "no result on stdout" : `exited with ${signal ?? code}`)
  return { _tag: "failed", message: reason }
}

// ---- statistics and output -----------------------------------------------------------------------------------------

interface Run {
  readonly client: string
  readonly round: number
  readonly outcome: Outcome
}

interface Summary {
  readonly client: string
  readonly runs: number
  readonly cpuMicrosPerRequest: { readonly median: number; readonly min: number; readonly max: number } | undefined
  readonly requestsPerSecond: number | undefined
  readonly p50Ms: number | undefined
  readonly p99Ms: number | undefined
  readonly peakRssMb: number | undefined
  readonly connections: number | undefined
  readonly cpuVsBaseline: number | undefined
  readonly failures: ReadonlyArray<string>
}

interface Group {
  readonly workload: WorkloadName
  readonly concurrency: number
  readonly runs: Array<Run>
  summary: ReadonlyArray<Summary>
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

const summarize = (group: Group, clients: ReadonlyArray<ClientSpec>): ReadonlyArray<Summary> => {
  const rows = clients.map((spec): Summary => {
    const runs = group.runs.filter((run) => run.client === spec.name)
    const results: Array<{ result: BenchResult; connections: number }> = []
    const failures: Array<string> = []
    for (const run of runs) {
      if (run.outcome._tag === "ok") results.push(run.outcome)
      else {
        const text = run.outcome._tag === "failed" ? `failed: ${run.outcome.message}` : run.outcome.message
        failures.push(`${text} (round ${run.round})`)
      }
    }
    const pick = (f: (result: BenchResult) => number) => results.map((entry) => f(entry.result))
    const cpu = pick((result) => result.cpuMicrosPerRequest)
    const some = results.length > 0
    return {
      client: spec.name,
      runs: results.length,
      cpuMicrosPerRequest: some ? { median: median(cpu), min: Math.min(...cpu), max: Math.max(...cpu) } : undefined,
      requestsPerSecond: some ? median(pick((result) => result.requestsPerSecond)) : undefined,
      p50Ms: some ? median(pick((result) => result.p50Ms)) : undefined,
      p99Ms: some ? median(pick((result) => result.p99Ms)) : undefined,
      peakRssMb: some ? Math.max(...pick((result) => result.rssMb)) : undefined,
      connections: some ? Math.max(...results.map((entry) => entry.connections)) : undefined,
      cpuVsBaseline: undefined,
      failures
    }
  })
  const baseline = rows.find((row) => row.client === BASELINE)?.cpuMicrosPerRequest?.median
  return rows.map((row) => ({
    ...row,
    cpuVsBaseline: baseline !== undefined && row.cpuMicrosPerRequest !== undefined
      ? row.cpuMicrosPerRequest.median / baseline
      : undefined
  }))
}

const thousands = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 })

const cell = (text: string): string => text.replace(/\|/g, "\\|")

const renderTable = (group: Group, options: Options): string => {
  const lines = [
    `### ${group.workload}, concurrency ${group.concurrency}: ${thousands.format(options.requests)} requests ` +
    `(+${thousands.format(options.warmup)} warm-up) × ${options.rounds} round${options.rounds === 1 ? "" : "s"}`,
    "",
    `| client | CPU µs/req | min–max | req/s | p50 ms | p99 ms | RSS MB | conns | CPU vs ${BASELINE} |`,
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|"
  ]
  const notes: Array<string> = []
  for (const row of group.summary) {
    if (row.cpuMicrosPerRequest === undefined) {
      lines.push(`| ${row.client} | ${cell(row.failures[0] ?? "not run")} | | | | | | | |`)
      continue
    }
    const cpu = row.cpuMicrosPerRequest
    lines.push(
      `| ${row.client} | ${cpu.median.toFixed(1)} | ${cpu.min.toFixed(1)}–${cpu.max.toFixed(1)} | ` +
        `${thousands.format(row.requestsPerSecond ?? 0)} | ${(row.p50Ms ?? 0).toFixed(2)} | ` +
        `${(row.p99Ms ?? 0).toFixed(2)} | ${(row.peakRssMb ?? 0).toFixed(0)} | ${row.connections ?? ""} | ` +
        `${row.cpuVsBaseline === undefined ? "–" : `${row.cpuVsBaseline.toFixed(2)}×`} |`
    )
    for (const failure of row.failures) notes.push(`- ${row.client}: ${failure}`)
  }
  return [...lines, ...(notes.length > 0 ? ["", ...notes] : [])].join("\n")
}

// ---- main ----------------------------------------------------------------------------------------------------------

const run = async (options: Options): Promise<void> => {
  const startedAt = new Date()
  const cpuList = cpus()
  const machine = {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model ?? "unknown",
    loadavg: loadavg()
  }
  process.stdout.write(
    `httpfx bench: Node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}, load ${
      machine.loadavg.map((value) => value.toFixed(2)).join(" ")
    }\n` +
      "CPU = user+system time of the client process per measured request (the server runs in its own process).\n" +
      "RSS = peak resident memory while measuring (includes ~60 MB of tsx's loader); conns = connections the\n" +
      "server accepted from that client. Ratios matter more than absolute numbers.\n\n"
  )
  const server = await startServer()
  const groups: Array<Group> = []
  try {
    for (const workload of options.workloads) {
      for (const concurrency of options.concurrency) {
        const group: Group = { workload, concurrency, runs: [], summary: [] }
        groups.push(group)
        // A client that failed or timed out once is not retried: the cause is
        // almost always permanent, and a timeout would cost minutes per round.
        const broken = new Set<string>()
        for (let round = 1; round <= options.rounds; round++) {
          for (const spec of options.clients) {
            if (broken.has(spec.name)) continue
            const outcome = await runClient(spec, server.port, workload, concurrency, options)
            group.runs.push({ client: spec.name, round, outcome })
            const prefix = `[${workload} c=${concurrency} round ${round}/${options.rounds}] ${spec.name}:`
            if (outcome._tag === "ok") {
              process.stderr.write(
                `${prefix} ${outcome.result.cpuMicrosPerRequest.toFixed(1)} µs/req, ` +
                  `${thousands.format(outcome.result.requestsPerSecond)} req/s (${outcome.seconds.toFixed(1)} s)\n`
              )
            } else {
              broken.add(spec.name)
              process.stderr.write(`${prefix} ${outcome._tag}: ${outcome.message}\n`)
            }
          }
        }
        group.summary = summarize(group, options.clients)
        process.stdout.write(`\n${renderTable(group, options)}\n`)
      }
    }
  } finally {
    await stopServer(server)
    const outDir = join(benchDir, ".out")
    mkdirSync(outDir, { recursive: true })
    const report = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine,
      options: { ...options, clients: options.clients.map((spec) => spec.name) },
      baseline: BASELINE,
      groups
    }
    writeFileSync(join(outDir, "last.json"), JSON.stringify(report, null, 2) + "\n")
    process.stdout.write(`\nResults written to ${join("bench", ".out", "last.json")}\n`)
  }
}

process.on("exit", killAll)
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping the benchmark\n`)
    killAll()
    process.exit(130)
  })
}

try {
  const options = parseOptions()
  if (options !== undefined) await run(options)
} catch (error) {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`)
  killAll()
  process.exitCode = 1
}
