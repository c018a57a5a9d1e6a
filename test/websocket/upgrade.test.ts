/**
 * The HTTP/1.1 upgrade as the pool sees it: a 101 to a streamed request that asked to switch protocols takes its
 * connection out of the pool, and the caller's scope closes it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "httpfx"
import { eventually, scriptedServer } from "../utils/servers.js"

const switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: chat\r\nConnection: Upgrade\r\n\r\n"

describe("HTTP/1.1 upgrade", () => {
  it.live("a 101 to a streamed request with Upgrade leaves the pool, and the scope closes its socket", () =>
    Effect.gen(function*() {
      const server = yield* scriptedServer(switching + "first bytes of the new protocol")
      const pool = yield* Pool.make()
      yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* pool.stream("GET", server.url, { headers: { upgrade: "chat", connection: "Upgrade" } })
        expect(response.status).toBe(101)
        expect(yield* pool.connections).toEqual([])
        expect(server.openSockets()).toBe(1)
      }))
      yield* eventually(() => server.openSockets() === 0, 2_000, "the upgraded socket to close")
    }).pipe(Effect.scoped))
})
