/**
 * The metrics httpfx reports, named and shaped as OpenTelemetry's HTTP client metrics (semantic conventions, "HTTP
 * client metrics"), as Effect `Metric`s: whatever exports Effect's metrics (e.g. @effect/opentelemetry) exports
 * these under those names.
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"

/** OpenTelemetry's recommended buckets for `http.client.request.duration`, in seconds. */
export const DURATION_BUCKETS: ReadonlyArray<number> = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.075,
  0.1,
  0.25,
  0.5,
  0.75,
  1,
  2.5,
  5,
  7.5,
  10
]

/** Connections the pool holds, tagged `http.connection.state` (active | idle) and `server.address`: an up-down count. */
export const openConnections = Metric.counter("http.client.open_connections", {
  description: "Number of outbound HTTP connections that are currently active or idle in the pool"
})

/** Requests in flight (from checkout to the last byte of the response): an up-down count. */
export const activeRequests = Metric.counter("http.client.active_requests", {
  description: "Number of active HTTP requests"
})

/** How long requests took, in seconds, tagged `http.request.method` and `http.response.status_code`. */
export const requestDuration = Metric.histogram(
  "http.client.request.duration",
  MetricBoundaries.fromIterable(DURATION_BUCKETS),
  "Duration of HTTP client requests, in seconds"
)
