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
const streamFloorSkip = "n/a (the floor of an Effect Stream body: download only)"
const foreachSkip = "n/a (a way to read a streamed body: download only)"
const onlyDownload = { get1k: foreachSkip, post1k: foreachSkip, get100k: foreachSkip, queue10k: foreachSkip }
const boundedSkip = "n/a (a way to issue the queue workload's burst: queue only)"
const onlyQueue = { get1k: boundedSkip, post1k: boundedSkip, get100k: boundedSkip, download64m: boundedSkip }
const platformFloorSkip = "n/a (the floor of @effect/platform's HttpClient has no connection: request loops only)"
const queueSkip = "n/a (the queue workload runs the floor, httpfx, undici Pool and node:http only)"

/**
 * A client run with `--variant`: its name is the one the client reports (`client-variant`, see the harness's
 * `variantName`), so the two cannot drift apart.
 */
const variantOf = (
  client: string,
  variant: string,
  label: string,
  skips: Partial<Record<WorkloadName, string>>
): ClientSpec => ({
  name: `${client}-${variant}`,
  label,
  file: `clients/${client}.ts`,
  args: ["--variant", variant],
  skips
})

const wsSkip = "n/a (an HTTP client: the WebSocket echo runs client.websocket and the ws client)"
const httpSkip = "n/a (a WebSocket client: WebSocket echo only)"
const httpSkips = { get1k: httpSkip, post1k: httpSkip, get100k: httpSkip, download64m: httpSkip, queue10k: httpSkip }
const withoutWebSockets = (spec: ClientSpec): ClientSpec => ({
  ...spec,
  skips: { "ws-echo": wsSkip, "ws-echo-1m": wsSkip, ...spec.skips }
})

const httpClientSpecs: ReadonlyArray<ClientSpec> = [
  {
    name: "raw-socket",
    label: "raw socket (floor)",
    file: "clients/raw-socket.ts",
    args: [],
  },
  variantOf("raw-socket", "stream", "raw socket + Effect Stream (floor)", {
    get1k: streamFloorSkip,
    post1k: streamFloorSkip,
    get100k: streamFloorSkip,
    queue10k: streamFloorSkip
  }),
  variantOf("raw-socket", "into", "raw socket, one reused buffer (floor)", onlyDownload),
  { name: "undici-pool", label: "undici Pool.request", file: "clients/undici-pool.ts", args: [] },
  { name: "httpfx-client", label: "httpfx Client.get", file: "clients/httpfx-client.ts", args: [] },
  {
    name: "httpfx-client-traced",
    label: "httpfx Client.get, recording tracer",
    file: "clients/httpfx-client-traced.ts",
    args: []
  },
  { name: "httpfx-pool", label: "httpfx Pool.request", file: "clients/httpfx-pool.ts", args: [] },
  variantOf("httpfx-client", "foreach", "httpfx Client + runForEach", onlyDownload),
  variantOf("httpfx-pool", "foreach", "httpfx Pool + runForEach", onlyDownload),
  variantOf("httpfx-client", "into", "httpfx Client + runForEach into a buffer", onlyDownload),
  variantOf("httpfx-pool", "into", "httpfx Pool + runForEach into a buffer", onlyDownload),
  variantOf("httpfx-client", "bounded", "httpfx Client.get, concurrency C", onlyQueue),
  variantOf("httpfx-pool", "bounded", "httpfx Pool.request, concurrency C", onlyQueue),
  { name: "httpfx-platform", label: "httpfx Platform.layer", file: "clients/httpfx-platform.ts", args: [] },
  {
    name: "platform-floor",
    label: "platform HttpClient.make floor",
    file: "clients/platform-floor.ts",
    args: [],
    skips: { download64m: platformFloorSkip, queue10k: platformFloorSkip }
  },
  variantOf("platform-floor", "async", "platform HttpClient.make floor, answered a turn later", {
    download64m: platformFloorSkip,
    queue10k: platformFloorSkip
  }),
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

export const clientSpecs: ReadonlyArray<ClientSpec> = [
  ...httpClientSpecs.map(withoutWebSockets),
  { name: "ws", label: "ws WebSocket", file: "clients/ws.ts", args: [], skips: httpSkips },
  variantOf("ws", "effect", "ws WebSocket, from an Effect program", httpSkips),
  {
    name: "httpfx-websocket",
    label: "httpfx client.websocket",
    file: "clients/httpfx-websocket.ts",
    args: [],
    skips: httpSkips
  },
  variantOf("httpfx-websocket", "receive", "httpfx client.websocket, receive", httpSkips)
]

// The client every ratio is relative to.
export const BASELINE = "undici-pool"
// … except in the WebSocket echo, where it is the `ws` package's client.
export const baselineOf = (workload: WorkloadName): string => workload.startsWith("ws-") ? "ws" : BASELINE

export const labelOf = (name: string): string => clientSpecs.find((spec) => spec.name === name)?.label ?? name

interface WorkloadPlan {
  readonly title: string
  // Concurrency levels; for "burst" the connection limit, for "download" 1.
  readonly concurrency: ReadonlyArray<number>
  // A phase runs for at least this many requests *and* at least this long (the
  // time is 0 for the queue, which is defined by its count), and never past
  // MAX_REQUESTS.
  readonly requests: number
  readonly measureMs: number
  readonly warmup: number
  readonly warmupMs: number
  readonly quickRequests: number
  readonly quickWarmup: number
}

// The cap on any one phase, so every loop is bounded in count as well as time.
export const MAX_REQUESTS = 200_000

// Every client gets the same time, not the same number of requests. With a
// fixed count, a client that does 25,000 requests a second would be measured
// over 0.16 s right after a warm-up of 0.08 s, while V8 is still compiling its
// hot path on background threads (whose CPU counts in cpuUsage()): what such a
// run measures is mostly the JIT, and more of it the larger the client's code.
// Measured here with the default of an earlier version (2,000 warm-up, 4,000
// measured), undici Pool.request cost 66 µs per 1 KiB GET at c=16; warmed for
// 20,000 requests it costs ~37 µs. Two seconds of warm-up is what it takes for
// every client here to reach its steady state; two seconds measured keeps
// the run's noise at the level of the machine's. Defaults: 3 rounds of every
// workload for 12 clients, ~16 minutes on 2 cores. --quick drops the time
// floors: it is a smoke test, its numbers are not warmed up.
const loopWarmupMs = 2000
const loopMeasureMs = 2000

export const workloadPlans: Record<WorkloadName, WorkloadPlan> = {
  get1k: {
    title: "GET 1 KiB",
    concurrency: [1, 16, 128],
    requests: 4000,
    measureMs: loopMeasureMs,
    warmup: 2000,
    warmupMs: loopWarmupMs,
    quickRequests: 1000,
    quickWarmup: 300
  },
  post1k: {
    title: "POST 1 KiB (1 KiB response)",
    concurrency: [16],
    requests: 4000,
    measureMs: loopMeasureMs,
    warmup: 2000,
    warmupMs: loopWarmupMs,
    quickRequests: 1000,
    quickWarmup: 300
  },
  get100k: {
    title: "GET 100 KiB",
    concurrency: [16],
    requests: 1500,
    measureMs: loopMeasureMs,
    warmup: 500,
    warmupMs: loopWarmupMs,
    quickRequests: 500,
    quickWarmup: 100
  },
  download64m: {
    title: "64 MiB download, streamed",
    concurrency: [1],
    // Time floors here too: one download is a loop of ~1,000 chunks, and V8 needs several of them before that
    // loop runs optimised (an httpfx download takes ~5× the CPU in the first one as in the tenth).
    requests: 10,
    measureMs: loopMeasureMs,
    warmup: 3,
    warmupMs: loopWarmupMs,
    quickRequests: 2,
    quickWarmup: 1
  },
  "ws-echo": {
    title: "WebSocket echo, 32 bytes",
    concurrency: [1],
    requests: 4000,
    measureMs: loopMeasureMs,
    warmup: 2000,
    warmupMs: loopWarmupMs,
    quickRequests: 1000,
    quickWarmup: 300
  },
  "ws-echo-1m": {
    title: "WebSocket echo, 1 MiB",
    concurrency: [1],
    // Each round trip masks, sends, receives and copies 1 MiB each way: a few ms, so a few hundred in 2 s.
    requests: 50,
    measureMs: loopMeasureMs,
    warmup: 20,
    warmupMs: loopWarmupMs,
    quickRequests: 20,
    quickWarmup: 5
  },
  queue10k: {
    title: "10,000 requests queued at once over 100 connections",
    concurrency: [100],
    requests: 10000,
    measureMs: 0,
    // One burst half the size first: the same code paths, queue included, warmed up.
    warmup: 5000,
    warmupMs: 0,
    // The size is the point of this workload; --quick keeps it.
    quickRequests: 10000,
    quickWarmup: 1000
  }
}
