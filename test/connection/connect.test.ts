/**
 * The connect step on its own: given a route (direct, or through an HTTP CONNECT proxy) it opens TCP and TLS, lets
 * ALPN pick the protocol, and hands its owner the right kind of connection. Driven with a stand-in owner and a
 * stand-in request, without a pool.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Scope } from "effect"
import type { HttpError } from "httpfx"
import { Connector } from "../../src/internal/connection/connect.js"
import type { Connection, ConnectionOwner } from "../../src/internal/connection/connection.js"
import { Http11Connection } from "../../src/internal/connection/http1.js"
import { Http2Connection } from "../../src/internal/connection/http2.js"
import { routesFrom } from "../../src/internal/connection/proxy.js"
import type { ProxyRoutes } from "../../src/internal/connection/proxy.js"
import { parseTarget } from "../../src/internal/core/url.js"
import type { Target } from "../../src/internal/core/url.js"
import type { Exchange } from "../../src/internal/exchange/exchange.js"
import { ca, h2Server, serverCert, serverKey } from "../h2/servers.js"
import { reportMissing, tinyproxy, which } from "../utils/proxies.js"
import { httpsServer } from "../utils/servers.js"

interface Protocols {
  readonly http1: boolean
  readonly http2: boolean
}

/**
 * What the connect step hands its owner for a request to `url`: the connection that takes the opening one's place
 * (closed with the scope), or the error the request failed with.
 */
const connect = (
  url: string,
  protocols: Protocols,
  proxies?: ProxyRoutes
): Effect.Effect<{ readonly opening: Connection; readonly connection: Connection }, HttpError.HttpError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ opening: Connection; connection: Connection }, HttpError.HttpError>((resume) => {
      const connector = new Connector({ tls: { ca } }, proxies, protocols.http1, protocols.http2, 0)
      const owner: ConnectionOwner = {
        keepaliveExpiry: 5_000,
        released: () => {},
        closed: () => {},
        acquire: () => {},
        connected: (opening, connection) => resume(Effect.succeed({ opening, connection }))
      }
      const target = parseTarget(url) as Target
      // Only what the connect step reads of a request.
      const request = {
        method: "GET",
        target,
        timeouts: { connect: 2_000 },
        requestInfo: { method: "GET", url: target.href },
        conn: undefined,
        fail: (error: HttpError.HttpError) => resume(Effect.fail(error))
      } as unknown as Exchange
      connector.open(owner, request)
    }),
    ({ connection }) => Effect.sync(() => connection.close())
  )

const both: Protocols = { http1: true, http2: true }
const http1Only: Protocols = { http1: true, http2: false }
const http2Only: Protocols = { http1: false, http2: true }

describe("the connect step, directly", () => {
  it.scoped("ALPN picks h2: an HTTP/2 connection takes the opening one's place", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ allowHTTP1: true })
      const { opening, connection } = yield* connect(`${server.url}/`, both)
      expect(opening.awaitable).toBe(true)
      expect(connection).toBeInstanceOf(Http2Connection)
      expect(connection.httpVersion).toBe("HTTP/2")
      expect(connection.capacity).toBeGreaterThan(1)
    }))

  it.scoped("without http2 the same server is spoken to in HTTP/1.1", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ allowHTTP1: true })
      const { opening, connection } = yield* connect(`${server.url}/`, http1Only)
      expect(opening.awaitable).toBe(false)
      expect(connection).toBeInstanceOf(Http11Connection)
      expect(connection.capacity).toBe(1)
    }))

  it.scoped("a server that does not offer h2 in ALPN gets an HTTP/1.1 connection", () =>
    Effect.gen(function*() {
      const server = yield* httpsServer({ cert: serverCert, key: serverKey }, (_, response) => response.end("ok"))
      const { connection } = yield* connect(`${server.url}/`, both)
      expect(connection).toBeInstanceOf(Http11Connection)
    }))

  it.scoped("with http1 disabled, a server that does not speak h2 fails the request with ConnectError", () =>
    Effect.gen(function*() {
      const server = yield* httpsServer({ cert: serverCert, key: serverKey }, (_, response) => response.end("ok"))
      const error = yield* Effect.flip(connect(`${server.url}/`, http2Only))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toContain("HTTP/2")
    }))
})

const hasTinyproxy = which("tinyproxy") !== undefined
if (!hasTinyproxy) reportMissing("tinyproxy", "apt-get install tinyproxy")

describe.skipIf(!hasTinyproxy)("the connect step, through an HTTP CONNECT proxy", () => {
  const routes = (url: string): ProxyRoutes => routesFrom(url) as ProxyRoutes

  it.scoped("ALPN through the tunnel picks h2: an HTTP/2 connection", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ allowHTTP1: true })
      const proxy = yield* tinyproxy()
      const { opening, connection } = yield* connect(`${server.url}/`, both, routes(proxy.url))
      expect(opening.awaitable).toBe(true)
      expect(connection).toBeInstanceOf(Http2Connection)
    }))

  it.scoped("ALPN through the tunnel picks http/1.1 for a server without h2: an HTTP/1.1 connection", () =>
    Effect.gen(function*() {
      const server = yield* httpsServer({ cert: serverCert, key: serverKey }, (_, response) => response.end("ok"))
      const proxy = yield* tinyproxy()
      const { connection } = yield* connect(`${server.url}/`, both, routes(proxy.url))
      expect(connection).toBeInstanceOf(Http11Connection)
    }))
})
