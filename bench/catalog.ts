// What the benchmark runs: the clients, the workloads' default sizes, and which
// client takes part in which workload. Shared by the runner and the report.
import type { WorkloadName } from "./shared.js"

export interface ClientSpec {
  // The id used on the command line and in bench/.out/last.json.
  readonly name: string
  // What the report calls it.
  readonly label: string
  readonly file: string
  readonly args: ReadonlyArray<string>
  // Workloads this client sits out, with the reason the report prints.
  readonly skips?: Partial<Record<WorkloadName, string>>
}

// The queue workload is about how a client queues 10,000 requests for 100
// connections; it is run for the clients that have a connection limit to
// queue for and whose cost per request lets 10,000 of them fit the time
// budget three times over. The rest sit it out rather than stretch the run.
const queueSkip = "n/a (the queue workload runs httpfx, undici Pool and node:http only)"

export const clientSpecs: ReadonlyArray<ClientSpec> = [
  {
    name: "raw-socket",
    label: "raw socket (floor)",
    file: "clients/raw-socket.ts",
    args: [],
    skips: { queue10k: "n/a (one fiber per socket: the floor has no request queue)" }
  },
  { name: "undici-pool", label: "undici Pool.request", file: "clients/undici-pool.ts", args: [] },
  { name: "httpfx-client", label: "httpfx Client.get", file: "clients/httpfx-client.ts", args: [] },
  { name: "httpfx-pool", label: "httpfx Pool.request", file: "clients/httpfx-pool.ts", args: [] },
  { name: "httpfx-platform", label: "httpfx Platform.layer", file: "clients/httpfx-platform.ts", args: [] },
  { name: "node-http", label: "node:http keep-alive Agent", file: "clients/node-http.ts", args: [] },
  {
    name: "undici-fetch",
    label: "undici fetch",
    file: "clients/undici-fetch.ts",
    args: [],
    skips: { queue10k: queueSkip }
  },
  {
    name: "node-fetch-global",
    label: "Node global fetch",
    file: "clients/node-fetch-global.ts",
    args: [],
    skips: { queue10k: "n/a (the global dispatcher has no connection limit to queue for)" }
  },
  {
    name: "effect-platform-node",
    label: "@effect/platform-node layerUndici",
    file: "clients/effect-platform-node.ts",
    args: ["--variant", "undici"],
    skips: { queue10k: queueSkip }
  },
  {
    name: "effect-platform-node-http",
    label: "@effect/platform-node layer (node:http)",
    file: "clients/effect-platform-node.ts",
    args: ["--variant", "http"],
    skips: { queue10k: queueSkip }
  },
  { name: "axios", label: "axios", file: "clients/axios.ts", args: [], skips: { queue10k: queueSkip } },
  { name: "got", label: "got", file: "clients/got.ts", args: [], skips: { queue10k: queueSkip } }
]

// The client every ratio is relative to.
export const BASELINE = "undici-pool"

export const labelOf = (name: string): string => clientSpecs.find((spec) => spec.name === name)?.label ?? name

export interface WorkloadPlan {
  readonly title: string
  // Concurrency levels; for "burst" the connection limit, for "download" 1.
  readonly concurrency: ReadonlyArray<number>
  readonly requests: number
  readonly warmup: number
  readonly quickRequests: number
  readonly quickWarmup: number
}

// Sizes chosen so that the default run (3 rounds of everything, 12 clients,
// some 200 client processes) stays within ~10 minutes on a 2-core machine, and
// --quick (1 round) within ~2. The warm-up is what it takes for V8 to finish
// optimising the hot path: with 300 warm-up requests undici's CPU per request
// measures ~2× its steady state, with 2000 within ~20 %, with 3000 at it;
// compilation runs on background threads whose CPU counts in cpuUsage().
// --quick is a smoke test: its numbers are not warmed up.
export const workloadPlans: Record<WorkloadName, WorkloadPlan> = {
  get1k: {
    title: "GET 1 KiB",
    concurrency: [1, 16, 128],
    requests: 4000,
    warmup: 2000,
    quickRequests: 1000,
    quickWarmup: 300
  },
  post1k: {
    title: "POST 1 KiB (1 KiB response)",
    concurrency: [16],
    requests: 4000,
    warmup: 2000,
    quickRequests: 1000,
    quickWarmup: 300
  },
  get100k: {
    title: "GET 100 KiB",
    concurrency: [16],
    requests: 1500,
    warmup: 500,
    quickRequests: 500,
    quickWarmup: 100
  },
  download64m: {
    title: "64 MiB download, streamed",
    concurrency: [1],
    requests: 5,
    warmup: 1,
    quickRequests: 2,
    quickWarmup: 1
  },
  queue10k: {
    title: "10,000 requests queued at once over 100 connections",
    concurrency: [100],
    requests: 10000,
    warmup: 1000,
    // The size is the point of this workload; --quick keeps it.
    quickRequests: 10000,
    quickWarmup: 1000
  }
}
