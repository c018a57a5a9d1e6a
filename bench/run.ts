// Benchmark runner: client CPU cost per request, throughput and memory of
// several HTTP clients, side by side, against one loopback server.
//
//   npm run bench                                  # every workload, 3 rounds (~16 min on 2 cores)
//   npm run bench -- --quick                       # 1 round, fewer requests (~2 min)
//   npm run bench -- --write                       # also rewrite BENCHMARKS.md and bench/results.svg
//   npm run bench -- --server nginx                # nginx instead of node:http as the server
//   npx tsx bench/run.ts --workload get1k,post1k --concurrency 1,16 --clients raw-socket,undici-pool
//
// Every client runs in its own process so that process.cpuUsage() sees only
// that client, and the server runs in yet another one. Clients are run in
// interleaved order (A B C … A B C …) so that slow drifts of a noisy machine
// hit all of them alike; the tables report medians over the rounds.
import { execFileSync, spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { request } from "node:http"
import { cpus, loadavg, release, totalmem } from "node:os"
import { basename, dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { build } from "esbuild"
import { BASELINE, clientSpecs, MAX_REQUESTS, workloadPlans } from "./catalog.js"
import type { ClientSpec } from "./catalog.js"
import { findNginx, startNginx } from "./nginx.js"
import { renderTable, writeReport, writeVersionReport } from "./report.js"
import type { Group, Outcome, Report } from "./report.js"
import { isWorkloadName, LOOPBACK_HOST, workloadNames, workloads } from "./shared.js"
import type { BenchResult, WorkloadName } from "./shared.js"

const benchDir = dirname(fileURLToPath(import.meta.url))
const rootDir = dirname(benchDir)

// ---- options -------------------------------------------------------------------------------------------------------

interface Plan {
  readonly workload: WorkloadName
  readonly concurrency: ReadonlyArray<number>
  readonly requests: number
  readonly measureMs: number
  readonly warmup: number
  readonly warmupMs: number
}

interface Options {
  readonly plans: ReadonlyArray<Plan>
  readonly rounds: number
  readonly clients: ReadonlyArray<ClientSpec>
  readonly timeoutMs: number
  readonly server: "node" | "nginx"
  readonly write: boolean
  readonly quick: boolean
  readonly tsx: boolean
  /** the Node binary the clients run under (the server and the runner stay on this one) */
  readonly node: string
}

const usage = `Usage: npx tsx bench/run.ts [options]     (or: npm run bench -- [options])

  --workload LIST     comma-separated subset of ${workloadNames.join(", ")} (default: all)
  --concurrency LIST  concurrency levels for get1k, post1k and get100k
                      (default: get1k ${workloadPlans.get1k.concurrency.join(",")}; post1k and get100k ${
  workloadPlans.post1k.concurrency.join(",")
})
  --requests N        at least N measured requests per run for get1k, post1k and get100k (default: ${
  workloadPlans.get1k.requests
} / ${workloadPlans.post1k.requests} / ${workloadPlans.get100k.requests};
                      --quick: ${workloadPlans.get1k.quickRequests} / ${workloadPlans.post1k.quickRequests} / ${workloadPlans.get100k.quickRequests})
  --measure-ms T      ... and at least T ms of them (default ${workloadPlans.get1k.measureMs}; --quick: 0)
  --warmup N          at least N warm-up requests for get1k, post1k and get100k (default: ${workloadPlans.get1k.warmup} / ${workloadPlans.post1k.warmup} / ${workloadPlans.get100k.warmup};
                      --quick: ${workloadPlans.get1k.quickWarmup} / ${workloadPlans.post1k.quickWarmup} / ${workloadPlans.get100k.quickWarmup})
  --warmup-ms T       ... and at least T ms of warm-up (default ${workloadPlans.get1k.warmupMs}; --quick: 0)
                      (a phase ends once both its count and its time are reached, or at ${MAX_REQUESTS.toLocaleString("en-US")} requests)
  --rounds R          interleaved rounds per client (default 3; --quick: 1)
  --clients LIST      comma-separated subset of: ${clientSpecs.map((spec) => spec.name).join(", ")}
  --server KIND       node (default: bench/server.ts) or nginx (needs nginx installed)
  --timeout S         hard limit per client process in seconds (default 120)
  --write             write BENCHMARKS.md and bench/results.svg from this run
  --quick             a fast smoke run: 1 round, fewer requests, no time floors (~2 minutes)
  --hostile           run the hostile-bodies cases instead (bench/hostile.ts: a brotli bomb streamed and read
                      under limits.maxBodySize, a 64 MiB gzip download against undici); --rounds applies
  --tsx               run the clients from source under tsx instead of bundled
                      (each start takes ~1.5 s longer and RSS ~100 MB more)
  --node PATH         run the clients under this Node binary (default: the one running the bench), e.g.
                      --node "$(npx -y -p node@24 which node)"; the server stays on this one.
                      With --write, such a run is saved to bench/versions/ and shown in a section
                      of BENCHMARKS.md of its own; the main tables stay as they are

download64m always streams 64 MiB one download at a time (at least ${workloadPlans.download64m.requests} measured and
${workloadPlans.download64m.measureMs / 1000} s, after at least ${workloadPlans.download64m.warmup} and ${workloadPlans.download64m.warmupMs / 1000} s of warm-up);
queue10k always issues 10,000 requests at once over 100 connections (after a burst of ${workloadPlans.queue10k.warmup.toLocaleString("en-US")}).
Results of every run are saved to bench/.out/last.json; \`npx tsx bench/report.ts\`
redraws BENCHMARKS.md and bench/results.svg from it.
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
      "measure-ms": { type: "string" },
      "warmup-ms": { type: "string" },
      concurrency: { type: "string" },
      rounds: { type: "string" },
      workload: { type: "string" },
      clients: { type: "string" },
      server: { type: "string" },
      timeout: { type: "string" },
      write: { type: "boolean", default: false },
      quick: { type: "boolean", default: false },
      tsx: { type: "boolean", default: false },
      hostile: { type: "boolean", default: false },
      node: { type: "string" },
      help: { type: "boolean", short: "h", default: false }
    },
    strict: true
  })
  if (values.help) {
    process.stdout.write(usage)
    return undefined
  }
  if (values.hostile) {
    // Its own runner: fresh client processes per case, figures of their own (no CPU table).
    const child = spawnScript("hostile.ts", ["--rounds", values.rounds ?? (values.quick ? "1" : "3")], "ignore")
    child.stdout!.pipe(process.stdout)
    child.stderr!.pipe(process.stderr)
    child.once("exit", (code) => (process.exitCode = code ?? 1))
    return undefined
  }
  const chosen = values.workload === undefined ? workloadNames : list(values.workload)
  for (const name of chosen) {
    if (!isWorkloadName(name)) throw new Error(`unknown workload ${name} (${workloadNames.join(", ")})`)
  }
  const clientNames = values.clients === undefined ? clientSpecs.map((spec) => spec.name) : list(values.clients)
  const clients = clientNames.map((name) => {
    const spec = clientSpecs.find((candidate) => candidate.name === name)
    if (spec === undefined) {
      throw new Error(`unknown client ${name}; known: ${clientSpecs.map((candidate) => candidate.name).join(", ")}`)
    }
    return spec
  })
  const server = values.server ?? "node"
  if (server !== "node" && server !== "nginx") throw new Error(`--server must be node or nginx, got ${server}`)
  const concurrency = values.concurrency === undefined
    ? undefined
    : list(values.concurrency).map((raw) => integer("concurrency", raw, 1))
  const plans = (chosen as ReadonlyArray<WorkloadName>).map((workload): Plan => {
    const defaults = workloadPlans[workload]
    // The flags size the request-loop workloads; the download and the queue
    // are defined by their size, so flags leave them alone.
    const tunable = workloads[workload].mode === "loop"
    // A flag's value for a tunable workload, else the default (or the --quick one).
    const sized = (flag: "requests" | "measure-ms" | "warmup" | "warmup-ms", min: number, normal: number, quick: number) =>
      tunable && values[flag] !== undefined ? integer(flag, values[flag], min) : values.quick ? quick : normal
    return {
      workload,
      concurrency: tunable && concurrency !== undefined ? concurrency : defaults.concurrency,
      requests: sized("requests", 1, defaults.requests, defaults.quickRequests),
      measureMs: sized("measure-ms", 0, defaults.measureMs, 0),
      warmup: sized("warmup", 0, defaults.warmup, defaults.quickWarmup),
      warmupMs: sized("warmup-ms", 0, defaults.warmupMs, 0)
    }
  })
  return {
    plans,
    rounds: integer("rounds", values.rounds ?? (values.quick ? "1" : "3"), 1),
    clients,
    timeoutMs: integer("timeout", values.timeout ?? "120", 1) * 1000,
    server,
    write: values.write,
    quick: values.quick,
    tsx: values.tsx,
    node: values.node ?? process.execPath
  }
}

// ---- child processes -----------------------------------------------------------------------------------------------

// Every process we start, so that any way out of the runner can kill them.
const live = new Set<ChildProcess>()
// Temp dirs to remove on the way out (nginx's config and files).
const tempDirs = new Set<string>()

const killAll = (): void => {
  for (const child of live) child.kill("SIGKILL")
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
}

const track = (child: ChildProcess): ChildProcess => {
  live.add(child)
  child.once("exit", () => live.delete(child))
  return child
}

// Runs a TypeScript file of bench/ under tsx's loader in a fresh Node process.
// --conditions=httpfx-source resolves httpfx to src/ as the tests do.
const spawnScript = (file: string, args: ReadonlyArray<string>, stdin: "pipe" | "ignore"): ChildProcess =>
  track(spawn(process.execPath, ["--conditions=httpfx-source", "--import", "tsx", join(benchDir, file), ...args], {
    cwd: rootDir,
    stdio: [stdin, "pipe", "pipe"]
  }))

// Client processes start from one ESM file per client, bundled by esbuild
// before the run. Under tsx every start costs ~1.5 s of loading and compiling
// (some 250 starts in a default run: most of the time budget) and the loader
// adds ~100 MB of RSS; bundled, a client starts in ~0.2 s at ~50 MB. The code
// that runs is the same: src/ and the packages, only packed into one module.
const bundleDir = join(benchDir, ".out", "clients")

// Each client is bundled on its own, so a client whose code does not build
// (an API it uses is missing, say) fails its runs with esbuild's message
// while every other client runs. Returns those messages by client file.
const bundleClients = async (specs: ReadonlyArray<ClientSpec>): Promise<Map<string, string>> => {
  const files = [...new Set(specs.map((spec) => spec.file))]
  rmSync(bundleDir, { recursive: true, force: true })
  const failures = new Map<string, string>()
  await Promise.all(files.map(async (file) => {
    try {
      await build({
        entryPoints: [join(benchDir, file)],
        outdir: bundleDir,
        outExtension: { ".js": ".mjs" },
        bundle: true,
        platform: "node",
        format: "esm",
        target: "node20",
        conditions: ["httpfx-source"],
        // Packages bundled from CommonJS still call require() for Node's
        // built-in modules; an ESM file has no require of its own.
        banner: {
          js: "import { createRequire as __createRequire } from \"node:module\"; " +
            "const require = __createRequire(import.meta.url);"
        },
        logLevel: "silent"
      })
    } catch (error) {
      const errors = (error as { errors?: ReadonlyArray<{ text: string; location?: { file: string; line: number } }> })
        .errors
      const first = errors?.[0]
      failures.set(
        file,
        first === undefined
          ? String(error)
          : `does not build: ${first.text}${first.location ? ` (${first.location.file}:${first.location.line})` : ""}`
      )
    }
  }))
  return failures
}

// --expose-gc lets the harness collect the warm-up's garbage before taking
// its RSS baseline.
const spawnClient = (spec: ClientSpec, args: ReadonlyArray<string>, options: Options): ChildProcess => {
  const entry = options.tsx
    ? ["--conditions=httpfx-source", "--import", "tsx", join(benchDir, spec.file)]
    : [join(bundleDir, basename(spec.file).replace(/\.ts$/, ".mjs"))]
  return track(spawn(options.node, ["--expose-gc", ...entry, ...spec.args, ...args], {
    cwd: rootDir,
    stdio: ["ignore", "pipe", "pipe"]
  }))
}

interface Server {
  readonly port: number
  readonly kind: "node" | "nginx"
  readonly version: string
  readonly child: ChildProcess
}

const startNodeServer = (): Promise<Server> =>
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
        resolve({ port, kind: "node", version: `node:http ${process.version}`, child })
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

class NginxMissing extends Error {}

const startServer = async (kind: "node" | "nginx"): Promise<Server> => {
  if (kind === "node") return startNodeServer()
  const binary = findNginx()
  if (binary === undefined) {
    throw new NginxMissing(
      "--server nginx needs nginx, and none was found (looked for nginx on PATH and in /usr/sbin, /usr/local/sbin, " +
        "/usr/local/nginx/sbin). Install it, e.g. `apt-get install -y nginx-light` on Debian, or run without --server."
    )
  }
  const nginx = await startNginx(binary)
  track(nginx.child)
  tempDirs.add(nginx.dir)
  return { port: nginx.port, kind: "nginx", version: nginx.version, child: nginx.child }
}

const stopServer = async (server: Server): Promise<void> => {
  if (server.child.exitCode === null && server.child.signalCode === null) {
    const exited = new Promise<void>((resolve) => server.child.once("exit", () => resolve()))
    server.child.stdin?.end()
    server.child.kill("SIGTERM")
    const timer = setTimeout(() => server.child.kill("SIGKILL"), 5_000)
    await exited
    clearTimeout(timer)
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
  tempDirs.clear()
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
  plan: Plan,
  concurrency: number,
  options: Options
): Promise<Outcome> => {
  const before = await serverConnections(port)
  const started = performance.now()
  const child = spawnClient(spec, [
    "--url",
    `http://${LOOPBACK_HOST}:${port}`,
    "--workload",
    plan.workload,
    "--concurrency",
    String(concurrency),
    "--warmup",
    String(plan.warmup),
    "--warmup-ms",
    String(plan.warmupMs),
    "--requests",
    String(plan.requests),
    "--measure-ms",
    String(plan.measureMs),
    "--max-requests",
    String(MAX_REQUESTS)
  ], options)
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

// ---- main ----------------------------------------------------------------------------------------------------------

const thousands = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 })

const progress = (plan: Plan, outcome: Outcome): string => {
  if (outcome._tag !== "ok") return `${outcome._tag}: ${outcome.message}`
  const result = outcome.result
  const time = `(${outcome.seconds.toFixed(1)} s)`
  switch (workloads[plan.workload].mode) {
    case "loop":
      return `${result.cpuMicrosPerRequest.toFixed(1)} µs/req, ${thousands.format(result.requestsPerSecond)} req/s ${time}`
    case "download":
      return `${result.mbPerSecond.toFixed(0)} MB/s, RSS +${result.rssDeltaMb.toFixed(1)} MB ${time}`
    case "burst":
      return `${thousands.format(result.wallMs)} ms for ${thousands.format(result.requests)}, ` +
        `${result.cpuMicrosPerRequest.toFixed(1)} µs/req, RSS +${result.rssDeltaMb.toFixed(1)} MB ${time}`
  }
}

const clientNodeVersion = (node: string): string => {
  if (node === process.execPath) return process.version
  try {
    return execFileSync(node, ["--version"], { encoding: "utf8", timeout: 30_000 }).trim()
  } catch (error) {
    throw new Error(`--node ${node} does not run: ${(error as Error).message.split("\n")[0]}`)
  }
}

const run = async (options: Options): Promise<void> => {
  const clientNode = clientNodeVersion(options.node)
  const cpuList = cpus()
  const buildFailures = options.tsx ? new Map<string, string>() : await bundleClients(options.clients)
  const server = await startServer(options.server)
  const report: Report = {
    startedAt: new Date().toISOString(),
    finishedAt: "",
    machine: {
      // The clients' Node, which is what the tables measure.
      node: clientNode,
      platform: `${process.platform}-${process.arch}`,
      os: release(),
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model.trim() ?? "unknown",
      memoryGiB: totalmem() / 1024 ** 3,
      loadavgStart: loadavg(),
      loadavgEnd: []
    },
    server: { kind: server.kind, version: server.version },
    rounds: options.rounds,
    quick: options.quick,
    loader: options.tsx ? "tsx" : "bundle",
    ...(options.node !== process.execPath ? { otherNode: true } : {}),
    clients: options.clients.map((spec) => spec.name),
    baseline: BASELINE,
    groups: []
  }
  process.stdout.write(
    `httpfx bench: Node ${report.machine.node}, ${report.machine.cpus} × ${report.machine.cpuModel}, load ${
      report.machine.loadavgStart.map((value) => value.toFixed(2)).join(" ")
    }; server: ${server.version} on port ${server.port}\n` +
      "CPU = user+system time of the client process per measured request (the server runs in its own process).\n" +
      "RSS Δ = peak resident memory while measuring minus the RSS just before; conns = connections the server\n" +
      `accepted from that client. Clients run ${options.tsx ? "under tsx (absolute RSS includes ~100 MB of its loader)" : "bundled by esbuild"}. ` +
      "Ratios matter more than absolute numbers.\n"
  )
  let completed = false
  try {
    for (const plan of options.plans) {
      for (const concurrency of plan.concurrency) {
        const skipped: Record<string, string> = {}
        for (const spec of options.clients) {
          const reason = spec.skips?.[plan.workload]
          if (reason !== undefined) skipped[spec.name] = reason
        }
        const group: Group = {
          workload: plan.workload,
          concurrency,
          requests: plan.requests,
          measureMs: plan.measureMs,
          warmup: plan.warmup,
          warmupMs: plan.warmupMs,
          skipped,
          runs: []
        }
        report.groups.push(group)
        // A client that failed or timed out once is not retried: the cause is
        // almost always permanent, and a timeout would cost minutes per round.
        const broken = new Set<string>()
        for (let round = 1; round <= options.rounds; round++) {
          for (const spec of options.clients) {
            if (broken.has(spec.name) || skipped[spec.name] !== undefined) continue
            const buildFailure = buildFailures.get(spec.file)
            const outcome: Outcome = buildFailure !== undefined
              ? { _tag: "failed", message: `${spec.name}: ${buildFailure}` }
              : await runClient(spec, server.port, plan, concurrency, options)
            group.runs.push({ client: spec.name, round, outcome })
            if (outcome._tag !== "ok") broken.add(spec.name)
            process.stderr.write(
              `[${plan.workload} c=${concurrency} round ${round}/${options.rounds}] ${spec.name}: ${
                progress(plan, outcome)
              }\n`
            )
          }
        }
        process.stdout.write(`\n${renderTable(group, report)}\n\n`)
      }
    }
    completed = true
  } finally {
    await stopServer(server)
    report.finishedAt = new Date().toISOString()
    report.machine.loadavgEnd = loadavg()
    const outDir = join(benchDir, ".out")
    mkdirSync(outDir, { recursive: true })
    // A run under another Node keeps its own file, so that redrawing the main tables never picks it up.
    const saved = join(outDir, report.otherNode === true ? `last-node-${clientNode.replace(/^v/, "")}.json` : "last.json")
    writeFileSync(saved, JSON.stringify(report, null, 2) + "\n")
    process.stdout.write(`Results written to ${relative(process.cwd(), saved)}\n`)
  }
  // Only a finished run may replace the committed report.
  if (completed && options.write) {
    // A run under another Node version has a section of its own; the main tables are the runner's Node.
    const paths = report.otherNode === true ? writeVersionReport(report) : writeReport(report)
    for (const path of paths) process.stdout.write(`Wrote ${relative(process.cwd(), path)}\n`)
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
