/**
 * Loopback servers for tests, each owned by a Scope and counting its open sockets on the server side — the only
 * place where "no socket stays open" can be proven.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import * as http from "node:http"
import * as https from "node:https"
import * as net from "node:net"

export interface TestServer {
  readonly port: number
  /** `http://127.0.0.1:PORT` (or https) */
  readonly url: string
  /** sockets open right now, seen from the server */
  readonly openSockets: () => number
  /** sockets accepted since the start */
  readonly acceptedSockets: () => number
  /** the server-side sockets that are open now */
  readonly sockets: () => ReadonlyArray<net.Socket>
}

const track = (server: net.Server | http.Server, secure: boolean) => {
  const open = new Set<net.Socket>()
  let accepted = 0
  server.on(secure ? "secureConnection" : "connection", (socket: net.Socket) => {
    accepted++
    open.add(socket)
    socket.on("close", () => open.delete(socket))
  })
  return { open, accepted: () => accepted }
}

const listen = <S extends net.Server>(server: S, secure: boolean, scheme: string): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<TestServer>((resume) => {
      const tracked = track(server, secure)
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as net.AddressInfo).port
        resume(Effect.succeed({
          port,
          url: `${scheme}://127.0.0.1:${port}`,
          openSockets: () => tracked.open.size,
          acceptedSockets: tracked.accepted,
          sockets: () => [...tracked.open]
        }))
      })
    }),
    (info) =>
      Effect.async<void>((resume) => {
        for (const socket of info.sockets()) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  )

/** A Node `http` server on 127.0.0.1, closed (with every socket) when the scope closes. */
export const httpServer = (
  handler: http.RequestListener,
  configure?: (server: http.Server) => void
): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.suspend(() => {
    const server = http.createServer(handler)
    server.keepAliveTimeout = 60_000
    configure?.(server)
    return listen(server, false, "http")
  })

/** A Node `https` server on 127.0.0.1. */
export const httpsServer = (
  options: https.ServerOptions,
  handler: http.RequestListener
): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.suspend(() => {
    const server = https.createServer(options, handler)
    server.keepAliveTimeout = 60_000
    return listen(server, true, "https")
  })

/** A raw TCP server for hostile, malformed, silent and resetting peers: `onSocket` decides what to send. */
export const rawServer = (onSocket: (socket: net.Socket) => void): Effect.Effect<TestServer, never, Scope.Scope> =>
  Effect.suspend(() => {
    const server = net.createServer((socket) => {
      socket.on("error", () => {})
      onSocket(socket)
    })
    return listen(server, false, "http")
  })

/**
 * A raw server that answers every request on a connection with `response` (bytes or a function of the request
 * count on that connection), after reading a full request head.
 */
export const scriptedServer = (
  response: string | Buffer | ((requestIndex: number, socket: net.Socket) => string | Buffer | undefined)
): Effect.Effect<TestServer, never, Scope.Scope> =>
  rawServer((socket) => {
    let buffered = ""
    let index = 0
    socket.on("data", (data) => {
      buffered += data.toString("latin1")
      let end: number
      while ((end = buffered.indexOf("\r\n\r\n")) >= 0) {
        buffered = buffered.slice(end + 4)
        const out = typeof response === "function" ? response(index++, socket) : response
        if (out !== undefined && !socket.destroyed) socket.write(out)
      }
    })
  })

/** Poll until `predicate` holds (server-side closes are asynchronous), failing after `timeoutMs`. */
export const eventually = (predicate: () => boolean, timeoutMs = 2_000, what = "condition"): Effect.Effect<void, Error> =>
  Effect.async<void, Error>((resume) => {
    const started = Date.now()
    const tick = () => {
      if (predicate()) return resume(Effect.void)
      if (Date.now() - started > timeoutMs) return resume(Effect.fail(new Error(`timed out waiting for ${what}`)))
      timer = setTimeout(tick, 5)
    }
    let timer = setTimeout(tick, 0)
    return Effect.sync(() => clearTimeout(timer))
  })
