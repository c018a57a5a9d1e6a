/**
 * The metrics httpfx reports, named and shaped as OpenTelemetry's HTTP client metrics (semantic conventions, "HTTP
 * client metrics"), as Effect `Metric`s in Effect's global registry: whatever exports Effect's metrics (e.g.
 * @effect/opentelemetry) exports these under those names.
 *
 * They are updated from the pool's synchronous code, per request, so nothing here builds or hashes a MetricKey on
 * that path: the hook of each tagged metric (the registry's cell for it) is looked up once, per server address and
 * per method and status, and updated directly; that is what `Metric.update` does in the end, without a fiber.
 *
 * The keys carry no description and their tags come in a fixed order, because Effect tells metrics apart by the
 * whole key: `Metric.gauge("http.client.open_connections").pipe(Metric.tagged("http.connection.state", "idle"),
 * Metric.tagged("server.address", "127.0.0.1"))` then reads the very count the pool updates.
 */
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type * as MetricHook from "effect/MetricHook"
import * as MetricKey from "effect/MetricKey"
import * as MetricLabel from "effect/MetricLabel"
import {
  ERROR_TYPE,
  HTTP_REQUEST_METHOD,
  HTTP_RESPONSE_STATUS_CODE,
  methodAttributes,
  SERVER_ADDRESS
} from "./attributes.js"

const OPEN_CONNECTIONS = "http.client.open_connections"
const ACTIVE_REQUESTS = "http.client.active_requests"
const REQUEST_DURATION = "http.client.request.duration"
const CONNECTION_STATE = "http.connection.state"

/** OpenTelemetry's recommended buckets for `http.client.request.duration`, in seconds. */
const DURATION_BUCKETS: ReadonlyArray<number> = [
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

/** `error.type` of a request its caller gave up (interrupted, its scope closed) before any response came. */
export const INTERRUPTED = "Interrupted"

type Gauge = MetricHook.MetricHook.Gauge<number>
type Histogram = MetricHook.MetricHook.Histogram

const registry = Metric.globalMetricRegistry

const durationBoundaries = MetricBoundaries.fromIterable(DURATION_BUCKETS)
const openConnectionsKey = MetricKey.gauge(OPEN_CONNECTIONS)
const durationKey = MetricKey.histogram(REQUEST_DURATION, durationBoundaries)

/**
 * The three metrics as Effect `Metric`s, untagged, for a program to read with `Metric.value` after tagging them as
 * the pool does (in the order the README gives). The histogram shares the pool's boundaries object: Effect tells
 * histogram keys apart by the identity of their boundaries, so one made elsewhere with equal buckets is another key.
 */
export const metrics = {
  openConnections: Metric.gauge(OPEN_CONNECTIONS),
  activeRequests: Metric.gauge(ACTIVE_REQUESTS),
  requestDuration: Metric.histogram(REQUEST_DURATION, durationBoundaries)
}

const gaugeHook = (tags: ReadonlyArray<MetricLabel.MetricLabel>): Gauge =>
  registry.getGauge(MetricKey.taggedWithLabels(openConnectionsKey, tags))

const histogramHook = (tags: ReadonlyArray<MetricLabel.MetricLabel>): Histogram =>
  registry.getHistogram(MetricKey.taggedWithLabels(durationKey, tags))

/** Requests from reaching the pool to the end of their exchange: an up-down count, untagged. */
const activeRequests: Gauge = registry.getGauge(MetricKey.gauge(ACTIVE_REQUESTS))

// ---- http.client.open_connections --------------------------------------------------------------------------------

/**
 * One server address's two counts of open connections (`http.connection.state` idle and active): a connection is
 * counted from when it is open (not while it connects) until it closes, idle while it carries no request.
 */
export class ConnectionGauges {
  private readonly idle: Gauge
  private readonly active: Gauge

  constructor(address: string) {
    const server = MetricLabel.make(SERVER_ADDRESS, address)
    this.idle = gaugeHook([MetricLabel.make(CONNECTION_STATE, "idle"), server])
    this.active = gaugeHook([MetricLabel.make(CONNECTION_STATE, "active"), server])
  }

  /** A connection is open, and counted active until the pool sees it idle. */
  opened(): void {
    this.active.modify(1)
  }

  toIdle(): void {
    this.active.modify(-1)
    this.idle.modify(1)
  }

  toActive(): void {
    this.idle.modify(-1)
    this.active.modify(1)
  }

  /** An open connection closed, `idle` or not. */
  closed(idle: boolean): void {
    ;(idle ? this.idle : this.active).modify(-1)
  }
}

const gaugesByAddress = new Map<string, ConnectionGauges>()

/** The gauges of `address` (`server.address`: the URL's host as written, not an address it resolved to). */
export const connectionGauges = (address: string): ConnectionGauges => {
  let gauges = gaugesByAddress.get(address)
  if (gauges === undefined) {
    gauges = new ConnectionGauges(address)
    gaugesByAddress.set(address, gauges)
  }
  return gauges
}

// ---- http.client.active_requests and http.client.request.duration -----------------------------------------------

/** One method's duration histograms, by status code and by error type, each made the first time it is needed. */
class MethodDurations {
  private readonly method: MetricLabel.MetricLabel
  private readonly byStatus = new Map<number, Histogram>()
  private readonly byError = new Map<string, Histogram>()

  constructor(method: string) {
    this.method = MetricLabel.make(HTTP_REQUEST_METHOD, method)
  }

  /**
   * The histogram for a request that ended with `status` (0: no response) and `error` (an HttpError's tag, or
   * undefined when it did not fail).
   */
  histogram(status: number, error: string | undefined): Histogram {
    if (error === undefined) {
      let histogram = this.byStatus.get(status)
      if (histogram === undefined) {
        histogram = histogramHook([this.method, statusLabel(status)])
        this.byStatus.set(status, histogram)
      }
      return histogram
    }
    // A failure after the head (a body cut short, too large) keeps the status it had: OpenTelemetry sets both.
    const key = status === 0 ? error : `${status} ${error}`
    let histogram = this.byError.get(key)
    if (histogram === undefined) {
      const errorLabel = MetricLabel.make(ERROR_TYPE, error)
      histogram = histogramHook(
        status === 0 ? [this.method, errorLabel] : [this.method, statusLabel(status), errorLabel]
      )
      this.byError.set(key, histogram)
    }
    return histogram
  }
}

// Effect's tags are strings: the status code is its decimal digits, as @effect/opentelemetry then exports it.
const statusLabel = (status: number): MetricLabel.MetricLabel =>
  MetricLabel.make(HTTP_RESPONSE_STATUS_CODE, String(status))

const durationsByMethod = new Map<string, MethodDurations>()

/** A method's histograms; a method OpenTelemetry does not know is "_OTHER", so a caller's methods cannot grow this. */
const methodDurations = (method: string): MethodDurations => {
  const known = durationsByMethod.get(method)
  if (known !== undefined) return known
  const name = methodAttributes(method)[HTTP_REQUEST_METHOD]!
  let durations = durationsByMethod.get(name)
  if (durations === undefined) {
    durations = new MethodDurations(name)
    durationsByMethod.set(name, durations)
  }
  return durations
}

/** A request reached the pool. */
export const requestStarted = (): void => {
  activeRequests.modify(1)
}

/**
 * A request that reached the pool ended after `seconds`: with a response of `status` (0: none came), and `error`
 * (an HttpError's tag, `INTERRUPTED`, or undefined when it did not fail).
 */
export const requestEnded = (method: string, status: number, error: string | undefined, seconds: number): void => {
  activeRequests.modify(-1)
  methodDurations(method).histogram(status, error).update(seconds)
}
