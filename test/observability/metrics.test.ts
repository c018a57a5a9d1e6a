/**
 * The pool's metrics, read as a user reads them (Effect's global registry, `Metric.value`), and as they reach
 * OpenTelemetry through @effect/opentelemetry: `http.client.open_connections` (idle/active per server address),
 * `http.client.active_requests`, `http.client.request.duration`. The registry is global to this file's worker, so
 * every check compares with a reading taken in the same test.
 */
import { HttpClient } from "@effect/platform"
import * as Metrics from "@effect/opentelemetry/Metrics"
import * as Resource from "@effect/opentelemetry/Resource"
import { describe, expect, it } from "@effect/vitest"
import { DataPointType, MetricReader } from "@opentelemetry/sdk-metrics"
import type * as SdkMetrics from "@opentelemetry/sdk-metrics"
import { Effect, Exit, Fiber, Layer, Metric, Scope } from "effect"
import type { MetricKeyType, MetricState } from "effect"
import { Client, Platform, Pool } from "httpfx"
import type * as http from "node:http"
import type * as http2 from "node:http2"
import * as net from "node:net"
import { eventually, httpServer, httpsServer, scriptedServer } from "../utils/servers.js"
import { ca, h2Server, serverCert, serverKey } from "../h2/servers.js"
import { wsServer } from "../websocket/peers.js"

const ADDRESS = "127.0.0.1"

/** OpenTelemetry's recommended buckets for http.client.request.duration, in seconds. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

const openConnections = (state: "idle" | "active", address: string) =>
  Metric.gauge("http.client.open_connections").pipe(
    Metric.tagged("http.connection.state", state),
    Metric.tagged("server.address", address)
  )

const activeRequests = Metric.gauge("http.client.active_requests")


const connections = (address = ADDRESS) =>
  Effect.all({
    idle: Effect.map(Metric.value(openConnections("idle", address)), (state) => state.value),
    active: Effect.map(Metric.value(openConnections("active", address)), (state) => state.value)
  })

const inFlight = Effect.map(Metric.value(activeRequests), (state) => state.value)

/**
 * `http.client.request.duration` with exactly `tags`, found in the registry's snapshot: Effect tells histogram keys
 * apart by their boundaries' identity, so a `Metric.histogram` made here with the same buckets would be a twin.
 */
const durations = (...tags: ReadonlyArray<readonly [string, string]>) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const wanted = tags.map(([key, value]) => `${key}=${value}`).sort().join()
    const pair = pairs.find(({ metricKey }) =>
      metricKey.name === "http.client.request.duration" &&
      metricKey.tags.map((label) => `${label.key}=${label.value}`).sort().join() === wanted
    )
    if (pair === undefined) return { count: 0, sum: 0, boundaries: [] as ReadonlyArray<number> }
    const state = pair.metricState as MetricState.MetricState.Histogram
    const keyType = pair.metricKey.keyType as MetricKeyType.MetricKeyType.Histogram
    return { count: state.count, sum: state.sum, boundaries: keyType.boundaries.values }
  })

/** The idle count of `address` right now, for polling. */
const idleNow = (address = ADDRESS) => openConnections("idle", address).unsafeValue([]).value

/** A server that holds every request until the test answers it. */
const heldServer = () => {
  const held: Array<http.ServerResponse> = []
  return {
    handler: (_req: http.IncomingMessage, res: http.ServerResponse) => void held.push(res),
    waiting: () => held.length,
    answer: () => held.shift()!.end("ok")
  }
}

/** A port nothing listens on (one that was just free). */
const closedPort = Effect.async<number>((resume) => {
  const server = net.createServer()
  server.listen(0, ADDRESS, () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

describe("http.client.open_connections", () => {
  it.live("one HTTP/1.1 connection counts active while it carries a request and idle once it is back", () =>
    Effect.scoped(Effect.gen(function*() {
      const held = heldServer()
      const server = yield* httpServer(held.handler)
      const pool = yield* Pool.make()
      const before = yield* connections()

      const first = yield* Effect.fork(pool.request("GET", `${server.url}/`))
      yield* eventually(() => held.waiting() === 1)
      expect(yield* connections()).toEqual({ idle: before.idle, active: before.active + 1 })
      held.answer()
      yield* Fiber.join(first)
      expect(yield* connections()).toEqual({ idle: before.idle + 1, active: before.active })

      const second = yield* Effect.fork(pool.request("GET", `${server.url}/`))
      yield* eventually(() => held.waiting() === 1)
      expect(yield* connections()).toEqual({ idle: before.idle, active: before.active + 1 })
      held.answer()
      yield* Fiber.join(second)
      expect(yield* connections()).toEqual({ idle: before.idle + 1, active: before.active })
      expect(server.acceptedSockets()).toBe(1)
    })))

  it.live("connections to two servers are counted under each server's address as the URL wrote it", () =>
    Effect.scoped(Effect.gen(function*() {
      const a = yield* httpServer((_req, res) => res.end("a"))
      const b = yield* httpServer((_req, res) => res.end("b"))
      const pool = yield* Pool.make()
      const beforeIp = yield* connections(ADDRESS)
      const beforeName = yield* connections("localhost")
      yield* pool.request("GET", `${a.url}/`)
      // localhost resolves to 127.0.0.1 here: the tag is still the name the URL gave.
      yield* pool.request("GET", `http://localhost:${b.port}/`)
      expect(yield* connections(ADDRESS)).toEqual({ idle: beforeIp.idle + 1, active: beforeIp.active })
      expect(yield* connections("localhost")).toEqual({ idle: beforeName.idle + 1, active: beforeName.active })
    })))

  it.live("an HTTP/2 connection is active while it has streams and idle once it has none", () =>
    Effect.scoped(Effect.gen(function*() {
      const streams: Array<http2.ServerHttp2Stream> = []
      const server = yield* h2Server({ onStream: (stream) => void streams.push(stream) })
      const pool = yield* Pool.make({ http2: true, tls: { ca } })
      const before = yield* connections()
      const requests = yield* Effect.fork(
        Effect.all(Array.from({ length: 3 }, () => pool.request("GET", `${server.url}/`)), { concurrency: 3 })
      )
      yield* eventually(() => streams.length === 3)
      expect(server.sessions()).toBe(1)
      expect(yield* connections()).toEqual({ idle: before.idle, active: before.active + 1 })
      for (const stream of streams.splice(0, 2)) {
        stream.respond({ ":status": 200 })
        stream.end("ok")
      }
      // Two of its three streams are done: the connection still carries one.
      yield* Effect.sleep("20 millis")
      expect(yield* connections()).toEqual({ idle: before.idle, active: before.active + 1 })
      streams[0]!.respond({ ":status": 200 })
      streams[0]!.end("ok")
      const responses = yield* Fiber.join(requests)
      expect(responses.map((response) => response.httpVersion)).toEqual(["HTTP/2", "HTTP/2", "HTTP/2"])
      expect(yield* connections()).toEqual({ idle: before.idle + 1, active: before.active })
    })))

  it.live("a connection is counted once it is open, not while it is being opened", () =>
    Effect.scoped(Effect.gen(function*() {
      // The server holds each TLS handshake (at its SNI callback) until the test lets it go on.
      const handshakes: Array<() => void> = []
      const server = yield* httpsServer({
        cert: serverCert,
        key: serverKey,
        SNICallback: (_name, done) => void handshakes.push(() => done(null))
      }, (_req, res) => res.end("ok"))
      const pool = yield* Pool.make({ tls: { ca } })
      const before = yield* connections("localhost")
      const fiber = yield* Effect.fork(pool.request("GET", `https://localhost:${server.port}/`))
      yield* eventually(() => handshakes.length === 1)
      expect((yield* pool.connections).map((info) => info.state)).toEqual(["CONNECTING"])
      expect(yield* connections("localhost")).toEqual(before)
      handshakes[0]!()
      yield* Fiber.join(fiber)
      expect(yield* connections("localhost")).toEqual({ idle: before.idle + 1, active: before.active })
    })))

  it.live("closing the pool's scope takes its idle and active connections out of the count", () =>
    Effect.gen(function*() {
      const outer = yield* Scope.make()
      const held = heldServer()
      const server = yield* Scope.extend(httpServer(held.handler), outer)
      const before = yield* connections()
      const beforeRequests = yield* inFlight
      yield* Effect.scoped(Effect.gen(function*() {
        const pool = yield* Pool.make()
        const first = yield* Effect.fork(pool.request("GET", `${server.url}/`))
        yield* Effect.fork(pool.request("GET", `${server.url}/`))
        yield* eventually(() => held.waiting() === 2)
        held.answer()
        yield* Fiber.join(first)
        expect(yield* connections()).toEqual({ idle: before.idle + 1, active: before.active + 1 })
      }))
      expect(yield* connections()).toEqual(before)
      expect(yield* inFlight).toBe(beforeRequests)
      yield* Scope.close(outer, Exit.void)
    }))

  it.live("a connection the server closes while idle leaves the count", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("ok"))
      const pool = yield* Pool.make()
      const before = yield* connections()
      yield* pool.request("GET", `${server.url}/`)
      expect(yield* connections()).toEqual({ idle: before.idle + 1, active: before.active })
      for (const socket of server.sockets()) socket.end()
      yield* eventually(() => idleNow() === before.idle, 2_000, "the idle connection to leave the count")
      expect(yield* connections()).toEqual(before)
      expect(yield* pool.connections).toEqual([])
    })))

  it.live("a connection whose keep-alive expires leaves the count", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("ok"))
      const pool = yield* Pool.make({ keepaliveExpiry: "30 millis" })
      const before = yield* connections()
      yield* pool.request("GET", `${server.url}/`)
      expect(yield* connections()).toEqual({ idle: before.idle + 1, active: before.active })
      yield* eventually(() => idleNow() === before.idle, 2_000, "the expired connection to leave the count")
      expect(yield* connections()).toEqual(before)
    })))

  it.live("a connection that breaks under a request leaves the active count", () =>
    Effect.scoped(Effect.gen(function*() {
      const held = heldServer()
      const server = yield* httpServer(held.handler)
      const pool = yield* Pool.make()
      const before = yield* connections()
      const fiber = yield* Effect.fork(Effect.exit(pool.request("POST", `${server.url}/`)))
      yield* eventually(() => held.waiting() === 1)
      expect(yield* connections()).toEqual({ idle: before.idle, active: before.active + 1 })
      for (const socket of server.sockets()) socket.destroy()
      const exit = yield* Fiber.join(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      expect(yield* connections()).toEqual(before)
    })))
})

describe("http.client.active_requests", () => {
  it.live("counts a request from the pool until its response is in, and no longer after", () =>
    Effect.scoped(Effect.gen(function*() {
      const held = heldServer()
      const server = yield* httpServer(held.handler)
      const pool = yield* Pool.make()
      const before = yield* inFlight
      const fiber = yield* Effect.fork(pool.request("GET", `${server.url}/`))
      yield* eventually(() => held.waiting() === 1)
      expect(yield* inFlight).toBe(before + 1)
      held.answer()
      yield* Fiber.join(fiber)
      expect(yield* inFlight).toBe(before)
    })))

  it.live("a WebSocket handshake counts until its 101, and the upgraded connection leaves the open count", () =>
    Effect.scoped(Effect.gen(function*() {
      const peer = yield* wsServer()
      const client = yield* Client.make()
      const before = yield* inFlight
      const socket = yield* client.websocket(peer.url)
      yield* socket.send("ping")
      expect(yield* inFlight).toBe(before)
      expect(idleNow() + openConnections("active", ADDRESS).unsafeValue([]).value).toBe(0)
    })))

  it.live("counts a request that waits in the pool's queue for a connection", () =>
    Effect.scoped(Effect.gen(function*() {
      const held = heldServer()
      const server = yield* httpServer(held.handler)
      const pool = yield* Pool.make({ maxConnections: 1 })
      const before = yield* inFlight
      const first = yield* Effect.fork(pool.request("GET", `${server.url}/`))
      const second = yield* Effect.fork(pool.request("GET", `${server.url}/`))
      yield* eventually(() => held.waiting() === 1)
      yield* Effect.sleep("10 millis")
      expect(held.waiting()).toBe(1)
      expect(yield* inFlight).toBe(before + 2)
      held.answer()
      yield* Fiber.join(first)
      yield* eventually(() => held.waiting() === 1)
      expect(yield* inFlight).toBe(before + 1)
      held.answer()
      yield* Fiber.join(second)
      expect(yield* inFlight).toBe(before)
    })))

  it.live("a request sent again after a stale keep-alive connection is counted once", () =>
    Effect.scoped(Effect.gen(function*() {
      // Each connection answers its first request and drops the second unanswered: the second request finds its
      // reused connection dead under it, and is sent again on a new one (RFC 9112 §9.3.1).
      const server = yield* scriptedServer((index, socket) => {
        if (index === 0) return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        socket.destroy()
        return undefined
      })
      const pool = yield* Pool.make()
      const ok = [["http.request.method", "GET"], ["http.response.status_code", "200"]] as const
      const before = yield* inFlight
      const counted = yield* durations(...ok)
      yield* pool.request("GET", `${server.url}/`)
      yield* pool.request("GET", `${server.url}/`)
      expect(server.acceptedSockets()).toBe(2)
      expect(yield* inFlight).toBe(before)
      expect((yield* durations(...ok)).count).toBe(counted.count + 2)
    })))
})

describe("http.client.request.duration", () => {
  it.live("records a 200 and a 404 in seconds under their method and status code", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        if (req.url === "/slow") setTimeout(() => res.end("ok"), 60)
        else {
          res.statusCode = 404
          req.resume()
          req.on("end", () => res.end("no"))
        }
      })
      const pool = yield* Pool.make()
      const ok = [["http.request.method", "GET"], ["http.response.status_code", "200"]] as const
      const missing = [["http.request.method", "POST"], ["http.response.status_code", "404"]] as const
      const okBefore = yield* durations(...ok)
      const missingBefore = yield* durations(...missing)
      yield* pool.request("GET", `${server.url}/slow`)
      yield* pool.request("POST", `${server.url}/missing`, { content: "x" })
      const okAfter = yield* durations(...ok)
      const missingAfter = yield* durations(...missing)
      expect(okAfter.count).toBe(okBefore.count + 1)
      expect(okAfter.boundaries).toEqual([...BUCKETS, Infinity])
      // Seconds, not milliseconds: the 60 ms answer is 0.06 and some.
      expect(okAfter.sum - okBefore.sum).toBeGreaterThanOrEqual(0.055)
      expect(okAfter.sum - okBefore.sum).toBeLessThan(2)
      expect(missingAfter.count).toBe(missingBefore.count + 1)
      expect(missingAfter.sum - missingBefore.sum).toBeLessThan(2)
    })))

  it.live("Pool.metrics reads the pool's own metrics with Metric.value, once tagged in the pool's order", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("ok"))
      const pool = yield* Pool.make()
      const ok = Pool.metrics.requestDuration.pipe(
        Metric.tagged("http.request.method", "GET"),
        Metric.tagged("http.response.status_code", "200")
      )
      const idle = Pool.metrics.openConnections.pipe(
        Metric.tagged("http.connection.state", "idle"),
        Metric.tagged("server.address", ADDRESS)
      )
      const before = yield* Metric.value(ok)
      const idleBefore = (yield* Metric.value(idle)).value
      yield* pool.request("GET", `${server.url}/`)
      const after = yield* Metric.value(ok)
      expect(after.count).toBe(before.count + 1)
      expect(after.count).toBe((yield* durations(["http.request.method", "GET"], ["http.response.status_code", "200"])).count)
      expect([...after.buckets].map(([boundary]) => boundary)).toEqual([...BUCKETS, Infinity])
      expect((yield* Metric.value(idle)).value).toBe(idleBefore + 1)
      expect((yield* Metric.value(Pool.metrics.activeRequests)).value).toBe(yield* inFlight)
    })))

  it.live("a method OpenTelemetry does not know is recorded as _OTHER", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("ok"))
      const pool = yield* Pool.make()
      const other = [["http.request.method", "_OTHER"], ["http.response.status_code", "200"]] as const
      const before = yield* durations(...other)
      yield* pool.request("PURGE", `${server.url}/`)
      expect((yield* durations(...other)).count).toBe(before.count + 1)
    })))

  it.live("a request that fails with no response is recorded under its method and error.type", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const failed = [["http.request.method", "GET"], ["error.type", "ConnectError"]] as const
      const before = yield* durations(...failed)
      const beforeRequests = yield* inFlight
      const exit = yield* Effect.scoped(Effect.flatMap(
        Pool.make(),
        (pool) => Effect.exit(pool.request("GET", `http://${ADDRESS}:${port}/`))
      ))
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag).toBe("ConnectError")
      expect((yield* durations(...failed)).count).toBe(before.count + 1)
      expect(yield* inFlight).toBe(beforeRequests)
    }))

  it.live("a request its caller interrupts before any response is recorded with error.type Interrupted", () =>
    Effect.scoped(Effect.gen(function*() {
      const held = heldServer()
      const server = yield* httpServer(held.handler)
      const pool = yield* Pool.make()
      const interrupted = [["http.request.method", "GET"], ["error.type", "Interrupted"]] as const
      const before = yield* durations(...interrupted)
      const beforeRequests = yield* inFlight
      const fiber = yield* Effect.fork(pool.request("GET", `${server.url}/`))
      yield* eventually(() => held.waiting() === 1)
      yield* Fiber.interrupt(fiber)
      expect((yield* durations(...interrupted)).count).toBe(before.count + 1)
      expect(yield* inFlight).toBe(beforeRequests)
    })))

  it.live("a streamed response is recorded when its body ends, its duration covering the body", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/plain" })
        res.write("first ")
        setTimeout(() => res.end("last"), 100)
      })
      const pool = yield* Pool.make()
      const ok = [["http.request.method", "GET"], ["http.response.status_code", "200"]] as const
      const before = yield* durations(...ok)
      const beforeRequests = yield* inFlight
      const response = yield* pool.stream("GET", `${server.url}/`)
      expect((yield* durations(...ok)).count).toBe(before.count)
      expect(yield* inFlight).toBe(beforeRequests + 1)
      const read = yield* response.read
      expect(read.text).toBe("first last")
      const after = yield* durations(...ok)
      expect(after.count).toBe(before.count + 1)
      expect(after.sum - before.sum).toBeGreaterThanOrEqual(0.09)
      expect(yield* inFlight).toBe(beforeRequests)
    })))

  it.live("a streamed response let go before its end is recorded, with its status, when it is released", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => {
        res.writeHead(200, { "content-type": "text/plain" })
        res.write("never ends")
      })
      const pool = yield* Pool.make()
      const ok = [["http.request.method", "GET"], ["http.response.status_code", "200"]] as const
      const before = yield* durations(...ok)
      const beforeRequests = yield* inFlight
      yield* Effect.scoped(Effect.gen(function*() {
        yield* pool.stream("GET", `${server.url}/`)
        expect(yield* inFlight).toBe(beforeRequests + 1)
      }))
      expect((yield* durations(...ok)).count).toBe(before.count + 1)
      expect(yield* inFlight).toBe(beforeRequests)
    })))
})

describe("every pool reports", () => {
  it.live("a client's own pool", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("ok"))
      const client = yield* Client.make()
      const ok = [["http.request.method", "GET"], ["http.response.status_code", "200"]] as const
      const before = yield* durations(...ok)
      const beforeConnections = yield* connections()
      yield* client.get(`${server.url}/`)
      expect((yield* durations(...ok)).count).toBe(before.count + 1)
      expect(yield* connections()).toEqual({ idle: beforeConnections.idle + 1, active: beforeConnections.active })
    })))

  it.live("Platform.layer's pool", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* httpServer((_req, res) => res.end("ok"))
      const ok = [["http.request.method", "GET"], ["http.response.status_code", "200"]] as const
      const before = yield* durations(...ok)
      const beforeRequests = yield* inFlight
      const text = yield* Effect.provide(
        Effect.flatMap(HttpClient.get(`${server.url}/`), (response) => response.text),
        Platform.layer()
      )
      expect(text).toBe("ok")
      expect((yield* durations(...ok)).count).toBe(before.count + 1)
      expect(yield* inFlight).toBe(beforeRequests)
    })))
})

// ---- through OpenTelemetry -----------------------------------------------------------------------------------------

/** A reader the test collects from when it wants. */
class CollectingReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve()
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
}

describe("exported through @effect/opentelemetry", () => {
  it.live("the three metrics reach OpenTelemetry under their names, with their attributes", () =>
    Effect.gen(function*() {
      const reader = new CollectingReader()
      const layer = Metrics.layer(() => reader).pipe(Layer.provide(Resource.layer({ serviceName: "httpfx-test" })))
      const { counts, metrics, requests } = yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* httpServer((_req, res) => res.end("ok"))
        const pool = yield* Pool.make()
        yield* pool.request("GET", `${server.url}/`)
        const { resourceMetrics } = yield* Effect.promise(() => reader.collect())
        return {
          metrics: resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics),
          counts: yield* connections(),
          requests: yield* inFlight
        }
      }).pipe(Effect.provide(layer)))
      expect(counts.idle).toBeGreaterThanOrEqual(1)
      const named = (name: string): SdkMetrics.MetricData => {
        const found = metrics.find((metric) => metric.descriptor.name === name)
        expect(found, name).toBeDefined()
        return found!
      }

      const open = named("http.client.open_connections")
      expect(open.dataPointType).toBe(DataPointType.GAUGE)
      const idle = open.dataPoints.find((point) =>
        point.attributes["http.connection.state"] === "idle" && point.attributes["server.address"] === ADDRESS
      )
      expect(idle?.attributes).toEqual({ "http.connection.state": "idle", "server.address": ADDRESS })
      expect(idle?.value).toBe(counts.idle)
      expect(open.dataPoints.every((point) =>
        Object.keys(point.attributes).sort().join() === "http.connection.state,server.address"
      )).toBe(true)

      const active = named("http.client.active_requests")
      expect(active.dataPoints.map((point) => point.attributes)).toEqual([{}])
      expect(active.dataPoints[0]!.value).toBe(requests)

      const duration = named("http.client.request.duration")
      expect(duration.dataPointType).toBe(DataPointType.HISTOGRAM)
      const ok = duration.dataPoints.find((point) =>
        point.attributes["http.request.method"] === "GET" && point.attributes["http.response.status_code"] === "200"
      )
      expect(ok?.attributes).toEqual({ "http.request.method": "GET", "http.response.status_code": "200" })
      const histogram = ok!.value as SdkMetrics.Histogram
      expect(histogram.count).toBeGreaterThanOrEqual(1)
      expect(histogram.buckets.boundaries).toEqual(BUCKETS)
    }))
})
