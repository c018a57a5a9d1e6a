// Definitions shared by the runner, the server and every client process.
// Kept free of runtime dependencies so that importing it costs nothing.

export type WorkloadName = "get1k" | "post1k" | "get100k"

export interface Workload {
  readonly name: WorkloadName
  readonly method: "GET" | "POST"
  readonly path: string
  // Bytes the client sends as the request body (0 = no body).
  readonly requestBytes: number
  // Bytes every response body must have; clients check it so that a client
  // which silently skips the body cannot look cheap.
  readonly responseBytes: number
}

export const workloads: Record<WorkloadName, Workload> = {
  get1k: { name: "get1k", method: "GET", path: "/1k", requestBytes: 0, responseBytes: 1024 },
  post1k: { name: "post1k", method: "POST", path: "/echo-len", requestBytes: 1024, responseBytes: 1024 },
  get100k: { name: "get100k", method: "GET", path: "/100k", requestBytes: 0, responseBytes: 100 * 1024 }
}

export const isWorkloadName = (value: string): value is WorkloadName => Object.hasOwn(workloads, value)

// The one line of JSON each client process prints on stdout.
export interface BenchResult {
  readonly client: string
  readonly workload: WorkloadName
  readonly concurrency: number
  readonly requests: number
  readonly cpuMicrosPerRequest: number
  readonly requestsPerSecond: number
  readonly p50Ms: number
  readonly p99Ms: number
  // Peak resident set size sampled while the measured requests ran.
  readonly rssMb: number
}

// The benchmark must never talk to anything but this machine; every process
// checks the URL it is given instead of trusting its caller.
export const LOOPBACK_HOST = "127.0.0.1"

export const assertLoopback = (url: URL): void => {
  if (url.hostname !== LOOPBACK_HOST || url.protocol !== "http:") {
    throw new Error(`refusing to benchmark against ${url.href}: only http://${LOOPBACK_HOST} is allowed`)
  }
}
