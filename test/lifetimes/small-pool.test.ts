/**
 * Thousands of concurrent requests over a small pool: every request waits its turn and succeeds, and the server —
 * which counts sockets at accept time — never sees more than maxConnections of them open at once, nor more than
 * maxConnections in total (the connections are reused, not churned).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { Client, Pool } from "httpfx"
import type { HttpError, Response } from "httpfx"
import type * as net from "node:net"
import { eventually, httpServer } from "../utils/servers.js"
import { busy, leakFree, trackProcessFaults } from "./helpers.js"

const faults = trackProcessFaults()

const REQUESTS = 2_000
const MAX_CONNECTIONS = 10

/** Echoes the path; records the most sockets it ever had open, measured as each one is accepted. */
const countingServer = () =>
  Effect.suspend(() => {
    const open = new Set<net.Socket>()
    const stats = { maxOpen: 0, requests: 0 }
    return Effect.map(
      httpServer(
        (req, res) => {
          stats.requests++
          req.resume()
          res.end(req.url)
        },
        (server) =>
          server.on("connection", (socket: net.Socket) => {
            open.add(socket)
            stats.maxOpen = Math.max(stats.maxOpen, open.size)
            socket.on("close", () => open.delete(socket))
          })
      ),
      (server) => ({ server, stats })
    )
  })

const thousands = (
  requests: number,
  get: (url: string) => Effect.Effect<Response.Response, HttpError.HttpError>,
  connections: Effect.Effect<ReadonlyArray<Pool.ConnectionInfo>>,
  server: { readonly url: string; readonly acceptedSockets: () => number },
  stats: { readonly maxOpen: number; readonly requests: number }
) =>
  Effect.gen(function*() {
    const texts = yield* Effect.forEach(
      Array.from({ length: requests }, (_, i) => i),
      (i) => Effect.map(get(`${server.url}/${i}`), (response) => response.status === 200 ? response.text : "failed"),
      { concurrency: "unbounded" }
    )
    // Each request got its own answer, in order.
    expect(texts).toEqual(Array.from({ length: requests }, (_, i) => `/${i}`))
    expect(stats.requests).toBe(requests)
    expect(stats.maxOpen).toBeLessThanOrEqual(MAX_CONNECTIONS)
    expect(server.acceptedSockets()).toBeLessThanOrEqual(MAX_CONNECTIONS)
    expect(yield* busy(connections)).toEqual([])
    const live = yield* connections
    expect(live.length).toBeLessThanOrEqual(MAX_CONNECTIONS)
    expect(live.every((c) => c.state === "IDLE")).toBe(true)
    // Every request went over one of the connections.
    expect(live.reduce((n, c) => n + c.requestCount, 0)).toBe(requests)
  })

// The last of 2 000 waiters waits for all the others; on a loaded machine that can pass the default 5 s pool timeout,
// which is not what these tests are about.
const timeout = { pool: "60 seconds" } as const

describe(`thousands of concurrent requests over maxConnections ${MAX_CONNECTIONS}`, () => {
  it.live("2 000 through the Client: all succeed, the server never sees more than 10 sockets", () =>
    leakFree(Effect.gen(function*() {
      const { server, stats } = yield* countingServer()
      const client = yield* Client.make({ maxConnections: MAX_CONNECTIONS, timeout })
      yield* thousands(REQUESTS, (url) => client.get(url), client.pool, server, stats)
    })))

  it.live("2 000 through the Pool: all succeed, the server never sees more than 10 sockets", () =>
    leakFree(Effect.gen(function*() {
      const { server, stats } = yield* countingServer()
      const pool = yield* Pool.make({ maxConnections: MAX_CONNECTIONS, timeout })
      yield* thousands(REQUESTS, (url) => pool.request("GET", url), pool.connections, server, stats)
    })))

  it.live("1 000 through Client.stream, each body read inside its own scope: the same", () =>
    leakFree(Effect.gen(function*() {
      const { server, stats } = yield* countingServer()
      const client = yield* Client.make({ maxConnections: MAX_CONNECTIONS, timeout })
      yield* thousands(
        1_000,
        (url) => Effect.scoped(Effect.flatMap(client.stream("GET", url), (response) => response.read)),
        client.pool,
        server,
        stats
      )
    })))

  it.live("500 through the Client, then closing its scope closes every socket", () =>
    Effect.gen(function*() {
      const { server } = yield* countingServer()
      yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* Client.make({ maxConnections: MAX_CONNECTIONS, timeout })
        yield* Effect.forEach(Array.from({ length: 500 }, (_, i) => i), (i) => client.get(`${server.url}/${i}`), {
          concurrency: "unbounded",
          discard: true
        })
        expect(server.openSockets()).toBeGreaterThan(0)
      }))
      yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see every socket close")
    }).pipe(Effect.scoped))

  it.live("no unhandled rejection or uncaught exception escaped during this file", () =>
    Effect.gen(function*() {
      yield* Effect.sleep(Duration.millis(100))
      expect(faults).toEqual([])
    }))
})
