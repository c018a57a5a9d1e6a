// Definitions shared by the runner, the server and every client process.
// Kept free of runtime dependencies so that importing it costs nothing.

export type WorkloadName = "get1k" | "post1k" | "get100k" | "download64m" | "queue10k" | "ws-echo" | "ws-echo-1m"

// How the harness drives a workload (a WebSocket echo is a "loop" whose requests are round trips of one message,
// over one WebSocket per worker):
// - "loop": C workers, each sending its next request when the last one is done;
// - "burst": every request is issued at once and queues for C connections;
// - "download": one streamed download at a time; the body is counted chunk by
//   chunk and never held whole, so peak RSS shows what the client buffers.
export type WorkloadMode = "loop" | "burst" | "download"

export interface Workload {
  readonly name: WorkloadName
  readonly mode: WorkloadMode
  readonly method: "GET" | "POST"
  readonly path: string
  // Bytes the client sends as the request body (0 = no body).
  readonly requestBytes: number
  // Bytes every response body must have; clients check it so that a client
  // which silently skips the body cannot look cheap.
  readonly responseBytes: number
}

export const workloads: Record<WorkloadName, Workload> = {
  get1k: { name: "get1k", mode: "loop", method: "GET", path: "/1k", requestBytes: 0, responseBytes: 1024 },
  post1k: { name: "post1k", mode: "loop", method: "POST", path: "/echo-len", requestBytes: 1024, responseBytes: 1024 },
  get100k: { name: "get100k", mode: "loop", method: "GET", path: "/100k", requestBytes: 0, responseBytes: 100 * 1024 },
  download64m: {
    name: "download64m",
    mode: "download",
    method: "GET",
    path: "/64m",
    requestBytes: 0,
    responseBytes: 64 * 1024 * 1024
  },
  queue10k: { name: "queue10k", mode: "burst", method: "GET", path: "/1k", requestBytes: 0, responseBytes: 1024 },
  // A binary message to the server's `ws` echo at /ws and back.
  "ws-echo": { name: "ws-echo", mode: "loop", method: "GET", path: "/ws", requestBytes: 32, responseBytes: 32 },
  "ws-echo-1m": {
    name: "ws-echo-1m",
    mode: "loop",
    method: "GET",
    path: "/ws",
    requestBytes: 1024 * 1024,
    responseBytes: 1024 * 1024
  }
}

export const workloadNames = Object.keys(workloads) as ReadonlyArray<WorkloadName>

export const isWorkloadName = (value: string): value is WorkloadName => Object.hasOwn(workloads, value)

// The one line of JSON each client process prints on stdout.
export interface BenchResult {
  readonly client: string
  readonly workload: WorkloadName
  readonly concurrency: number
  // Requests measured, and sent before as warm-up: a phase runs for at least a
  // given count and a given time, so a fast client sends more of them.
  readonly requests: number
  readonly warmupRequests?: number
  // Wall time of the measured phase.
  readonly wallMs: number
  readonly cpuMicrosPerRequest: number
  readonly requestsPerSecond: number
  // Response body bytes per second over the measured phase, in MB (10^6 bytes).
  readonly mbPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  // Peak resident set size sampled every 10 ms while the measured requests ran.
  readonly rssMb: number
  // RSS right before the measured phase (after warm-up and a forced GC); the
  // peak minus this is what the measured work itself held.
  readonly rssBaselineMb: number
  readonly rssDeltaMb: number
  // V8's collections while the measured requests ran: mark-compacts (full heap) and scavenges (young generation),
  // and the time the main thread stood still for them. Marking done on helper threads counts in the CPU time only.
  // Optional: results saved before they were recorded have none.
  readonly gcMajor?: number
  readonly gcMinor?: number
  readonly gcPauseMs?: number
}

// The benchmark must never talk to anything but this machine; every process
// checks the URL it is given instead of trusting its caller.
export const LOOPBACK_HOST = "127.0.0.1"

export const assertLoopback = (url: URL): void => {
  if (url.hostname !== LOOPBACK_HOST || url.protocol !== "http:") {
    throw new Error(`refusing to benchmark against ${url.href}: only http://${LOOPBACK_HOST} is allowed`)
  }
}
