// Hostile bodies: what a compression bomb costs a client, and what bounded decoding costs a normal compressed
// download. Not part of the CPU tables: each case runs in a fresh client process and reports its own figures.
//
//   npm run bench -- --hostile                  # every case, 3 rounds
//   npx tsx bench/hostile.ts --cases bomb-stream,gzip-httpfx-stream --rounds 1
//
// Cases:
// - bomb-stream: a brotli body of about 1 KiB that expands to 1 GiB of zeros, read with `response.stream` to its
//   end: peak RSS growth and the longest event-loop stall (targets: < 64 MiB, < 50 ms);
// - bomb-buffered: the same body read whole (`Pool.request`) under `limits.maxBodySize` 16 MiB: RSS, stall, and the
//   time from the decoder passing 16 MiB to the ResponseTooLarge (target: < 100 ms);
// - bomb-zlib: the floor: the same body through a bare zlib.createBrotliDecompress, no HTTP client;
// - gzip-*: a 64 MiB gzip download (text-like data, ~6:1), decoded: httpfx streamed (runForEach) and read whole,
//   against undici's Pool.request piped through zlib.createGunzip. Throughput in decoded MB/s.
//
// The bodies are made once and kept in bench/.out/ (the bomb takes a minute or two: brotli at quality 11).
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { dirname, join } from "node:path"
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import * as zlib from "node:zlib"
import { assertLoopback, LOOPBACK_HOST } from "./shared.js"

const benchDir = dirname(fileURLToPath(import.meta.url))
const outDir = join(benchDir, ".out")
const MiB = 1024 * 1024
const BOMB_SIZE = 1024 * MiB
const BOMB_LIMIT = 16 * MiB
const GZIP_SIZE = 64 * MiB

const caseNames = [
  "bomb-stream",
  "bomb-buffered",
  "bomb-zlib",
  "gzip-httpfx-stream",
  "gzip-httpfx-buffered",
  "gzip-undici"
] as const
type CaseName = (typeof caseNames)[number]

interface CaseResult {
  readonly case: CaseName
  readonly ok: boolean
  readonly outcome: string
  readonly decodedBytes: number
  readonly wallMs: number
  readonly rssGrowthMb: number
  readonly maxStallMs: number
  /** the longest garbage collection pause in that time: part of the longest stall, whoever decodes */
  readonly maxGcMs: number
  /** bomb-buffered: from the decoder's output passing the limit to the failure */
  readonly failureAfterLimitMs?: number
  readonly mbPerSecond: number
}

// ---- the bodies ------------------------------------------------------------------------------------------------------

const compress = (encoder: zlib.Zlib & NodeJS.ReadWriteStream, size: number, fill: (chunk: Buffer, i: number) => void) =>
  new Promise<Buffer>((resolve, reject) => {
    const out: Array<Buffer> = []
    encoder.on("data", (bytes: Buffer) => out.push(bytes))
    encoder.on("end", () => resolve(Buffer.concat(out)))
    encoder.on("error", reject)
    const chunk = Buffer.alloc(MiB)
    let i = 0
    const pump = (): void => {
      while (i * MiB < size) {
        fill(chunk, i++)
        if (!encoder.write(Buffer.from(chunk))) return void encoder.once("drain", pump)
      }
      encoder.end()
    }
    pump()
  })

const cached = async (name: string, make: () => Promise<Buffer>): Promise<Buffer> => {
  const path = join(outDir, name)
  if (existsSync(path)) return readFileSync(path)
  mkdirSync(outDir, { recursive: true })
  process.stderr.write(`making bench/.out/${name} (once)…\n`)
  const bytes = await make()
  writeFileSync(path + ".tmp", bytes)
  renameSync(path + ".tmp", path)
  return bytes
}

const bomb = () =>
  cached("bomb-1g.br", () =>
    compress(
      zlib.createBrotliCompress({
        params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: BOMB_SIZE }
      }),
      BOMB_SIZE,
      () => {}
    ))

// Text-like data: lines with counters, compressing about 6:1 (a log or a JSON export, not zeros).
const gzip64m = () =>
  cached("text-64m.gz", () =>
    compress(zlib.createGzip({ level: 6 }), GZIP_SIZE, (chunk, i) => {
      let text = ""
      for (let line = 0; text.length < MiB; line++) {
        text += `{"id":${i * 100_000 + line},"name":"item ${(line * 7919) % 10007}","ok":${line % 3 === 0}}\n`
      }
      chunk.write(text.slice(0, MiB), "latin1")
    }))

// ---- the parent: server and runs ---------------------------------------------------------------------------------

const runParent = async (cases: ReadonlyArray<CaseName>, rounds: number): Promise<void> => {
  const [brotli, gzipped] = await Promise.all([
    cases.some((name) => name.startsWith("bomb")) ? bomb() : Promise.resolve(Buffer.alloc(0)),
    cases.some((name) => name.startsWith("gzip")) ? gzip64m() : Promise.resolve(Buffer.alloc(0))
  ])
  process.stderr.write(`bomb: ${brotli.length} bytes → ${BOMB_SIZE / MiB} MiB; gzip: ${gzipped.length} bytes → 64 MiB\n`)
  const server = createServer((req, res) => {
    const body = req.url === "/bomb" ? brotli : gzipped
    res.writeHead(200, {
      "content-encoding": req.url === "/bomb" ? "br" : "gzip",
      "content-length": body.length,
      "content-type": "application/octet-stream"
    })
    res.end(body)
  })
  // The server shares the process with the runner, not with the clients whose figures are measured.
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK_HOST, resolve))
  const url = `http://${LOOPBACK_HOST}:${(server.address() as AddressInfo).port}`
  const results: Array<CaseResult> = []
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const name of cases) {
        const result = await runChild(name, url)
        results.push(result)
        process.stderr.write(`[${name} round ${round}/${rounds}] ${describe(result)}\n`)
      }
    }
  } finally {
    server.closeAllConnections()
    server.close()
  }
  process.stdout.write("\n" + table(cases, results) + "\n")
  mkdirSync(outDir, { recursive: true })
  writeFileSync(join(outDir, "hostile.json"), JSON.stringify(results, null, 2) + "\n")
}

const runChild = (name: CaseName, url: string): Promise<CaseResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--expose-gc", "--conditions=httpfx-source", "--import", "tsx", fileURLToPath(import.meta.url), "--child", name, "--url", url],
      { stdio: ["ignore", "pipe", "inherit"] }
    )
    let stdout = ""
    child.stdout!.on("data", (data: Buffer) => (stdout += data.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), 300_000)
    child.once("close", (code) => {
      clearTimeout(timer)
      try {
        resolve(JSON.parse(stdout.trim().split("\n").pop()!) as CaseResult)
      } catch {
        reject(new Error(`${name}: the client exited with ${code} and no result`))
      }
    })
  })

const describe = (r: CaseResult): string =>
  `${r.outcome}: ${(r.decodedBytes / MiB).toFixed(0)} MiB in ${r.wallMs.toFixed(0)} ms (${r.mbPerSecond.toFixed(0)} MB/s), ` +
  `RSS +${r.rssGrowthMb.toFixed(1)} MB, longest stall ${r.maxStallMs.toFixed(1)} ms (GC ${r.maxGcMs.toFixed(1)} ms)` +
  (r.failureAfterLimitMs !== undefined ? `, failed ${r.failureAfterLimitMs.toFixed(1)} ms after passing the limit` : "")

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor((sorted.length - 1) / 2)]!
}

const table = (cases: ReadonlyArray<CaseName>, results: ReadonlyArray<CaseResult>): string => {
  const lines = [
    "| case | outcome | decoded MB/s | RSS growth (MB) | longest stall (ms) | longest GC pause (ms) | failure after the limit (ms) |",
    "|---|---|---:|---:|---:|---:|---:|"
  ]
  for (const name of cases) {
    const runs = results.filter((r) => r.case === name)
    if (runs.length === 0) continue
    const after = runs.map((r) => r.failureAfterLimitMs).filter((v): v is number => v !== undefined)
    lines.push(
      `| ${name} | ${runs[0]!.outcome} | ${median(runs.map((r) => r.mbPerSecond)).toFixed(0)} | ` +
        `${median(runs.map((r) => r.rssGrowthMb)).toFixed(1)} | ${median(runs.map((r) => r.maxStallMs)).toFixed(1)} | ` +
        `${median(runs.map((r) => r.maxGcMs)).toFixed(1)} | ` +
        `${after.length > 0 ? median(after).toFixed(1) : "–"} |`
    )
  }
  return lines.join("\n") + `\n(medians of ${results.length / cases.length} rounds; RSS growth = peak minus the RSS before the case)`
}

// ---- a client: one case, measured ---------------------------------------------------------------------------------

const runCase = async (name: CaseName, origin: string): Promise<CaseResult> => {
  const { Effect, Stream } = await import("effect")
  const { Pool } = await import("httpfx")
  // When the decoder's output passes the limit: every BrotliDecompress's pushes, counted.
  let produced = 0
  let passedAt = 0
  const proto = zlib.BrotliDecompress.prototype as any
  const push = proto.push
  proto.push = function(this: unknown, chunk: Buffer | null, ...rest: Array<unknown>) {
    if (chunk !== null) {
      produced += chunk.length
      if (passedAt === 0 && produced > BOMB_LIMIT) passedAt = performance.now()
    }
    return push.call(this, chunk, ...rest)
  }
  const UndiciPool = name === "gzip-undici" ? (await import("undici")).Pool : undefined

  let decoded = 0
  const count = (chunk: Uint8Array) => Effect.sync(() => void (decoded += chunk.length))
  const warmUrl = `${origin}/gzip`
  const url = `${origin}/${name.startsWith("bomb") ? "bomb" : "gzip"}`

  const run = async (): Promise<string> => {
    if (name === "bomb-zlib") {
      const body = readFileSync(join(outDir, "bomb-1g.br"))
      begin()
      const decoder = zlib.createBrotliDecompress()
      await new Promise<void>((resolve, reject) => {
        decoder.on("data", (chunk: Buffer) => (decoded += chunk.length))
        decoder.on("end", resolve)
        decoder.on("error", reject)
        decoder.end(body)
      })
      return "ok"
    }
    if (name === "gzip-undici") {
      const pool = new UndiciPool!(origin, { connections: 1 })
      try {
        for (const target of [warmUrl, url]) {
          if (target === url) begin()
          decoded = 0
          const { body } = await pool.request({ method: "GET", path: new URL(target).pathname })
          const gunzip = zlib.createGunzip()
          await new Promise<void>((resolve, reject) => {
            gunzip.on("data", (chunk: Buffer) => (decoded += chunk.length))
            gunzip.on("end", resolve)
            gunzip.on("error", reject)
            body.on("error", reject)
            body.pipe(gunzip)
          })
        }
        return "ok"
      } finally {
        await pool.close()
      }
    }
    const program = Effect.gen(function*() {
      const pool = yield* Pool.make(name === "bomb-buffered" ? { limits: { maxBodySize: BOMB_LIMIT } } : {})
      // Warm the code paths (and zlib) on one normal download first.
      // The warm-up is a request of its own: bomb-buffered's limit is not for it.
      const warm = { limits: { maxBodySize: GZIP_SIZE } }
      yield* Effect.scoped(Effect.flatMap(pool.stream("GET", warmUrl, warm), (r) => r.runForEach(count)))
      yield* pool.request("GET", warmUrl, warm)
      decoded = 0
      yield* Effect.sync(begin)
      switch (name) {
        case "bomb-stream":
        case "gzip-httpfx-stream":
          yield* Effect.scoped(Effect.flatMap(pool.stream("GET", url), (r) => Stream.runForEach(r.stream, count)))
          return "ok"
        case "bomb-buffered":
        case "gzip-httpfx-buffered": {
          const outcome = yield* Effect.either(pool.request("GET", url))
          if (outcome._tag === "Left") return outcome.left._tag
          decoded = outcome.right.content.length
          return "ok"
        }
      }
      return "?"
    })
    return Effect.runPromise(Effect.scoped(program))
  }

  let started = 0
  let baseline = 0
  let peak = 0
  const delay = monitorEventLoopDelay({ resolution: 1 })
  let maxGc = 0
  let measuring = false
  new PerformanceObserver((list) => {
    if (measuring) for (const entry of list.getEntries()) maxGc = Math.max(maxGc, entry.duration)
  }).observe({ entryTypes: ["gc"] })
  let probe: ReturnType<typeof setInterval> | undefined
  const begin = () => {
    ;(globalThis as { gc?: () => void }).gc?.()
    baseline = peak = process.memoryUsage.rss()
    probe = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5)
    delay.reset()
    delay.enable()
    measuring = true
    started = performance.now()
  }
  const outcome = await run()
  const ended = performance.now()
  measuring = false
  delay.disable()
  clearInterval(probe)
  peak = Math.max(peak, process.memoryUsage.rss())
  const wallMs = ended - started
  return {
    case: name,
    ok: outcome === "ok" || (name === "bomb-buffered" && outcome === "ResponseTooLarge"),
    outcome,
    decodedBytes: decoded,
    wallMs,
    rssGrowthMb: (peak - baseline) / 1e6,
    maxStallMs: delay.max / 1e6,
    maxGcMs: maxGc,
    ...(name === "bomb-buffered" && passedAt > 0 ? { failureAfterLimitMs: ended - passedAt } : {}),
    mbPerSecond: decoded / 1e6 / (wallMs / 1000)
  }
}

// ---- main ------------------------------------------------------------------------------------------------------------

const { values } = parseArgs({
  options: {
    child: { type: "string" },
    url: { type: "string" },
    cases: { type: "string" },
    rounds: { type: "string" }
  },
  strict: true
})

if (values.child !== undefined) {
  const origin = new URL(values.url ?? "")
  assertLoopback(origin)
  const result = await runCase(values.child as CaseName, origin.origin)
  process.stdout.write(JSON.stringify(result) + "\n")
  process.exit(0)
} else {
  const cases = (values.cases?.split(",") ?? caseNames).map((name) => {
    if (!(caseNames as ReadonlyArray<string>).includes(name)) throw new Error(`unknown case ${name} (${caseNames.join(", ")})`)
    return name as CaseName
  })
  await runParent(cases, Number(values.rounds ?? "3"))
}
