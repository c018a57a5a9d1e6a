/**
 * Loopback HTTP/2 servers for tests (node:http2), owned by a Scope and counting sessions on the server side.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { readFileSync } from "node:fs"
import type * as http from "node:http"
import * as http2 from "node:http2"
import type * as net from "node:net"
import * as tls from "node:tls"

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url))
export const ca = fixture("ca.crt")
export const serverCert = fixture("server.crt")
export const serverKey = fixture("server.key")

interface H2Server {
  readonly port: number
  /** `https://127.0.0.1:PORT` or `http://…` for h2c */
  readonly url: string
  /** HTTP/2 sessions accepted since the start */
  readonly sessions: () => number
  /** HTTP/2 sessions open now */
  readonly openSessions: () => number
  /** the sessions open now */
  readonly sessionList: () => ReadonlyArray<http2.ServerHttp2Session>
  /** TCP/TLS connections accepted since the start (HTTP/1.1 and HTTP/2 alike) */
  readonly connections: () => number
  /** HTTP/2 streams opened since the start */
  readonly streams: () => number
  /** the TCP/TLS sockets open now (to break a connection under a session) */
  readonly sockets: () => ReadonlyArray<net.Socket>
}

interface H2ServerOptions {
  /** TLS with ALPN (h2, and http/1.1 when allowHTTP1); h2c by prior knowledge when false */
  readonly secure?: boolean
  readonly allowHTTP1?: boolean
  readonly settings?: http2.Settings
  /** HTTP/2 streams */
  readonly onStream?: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void
  /** HTTP/1.1 requests (with allowHTTP1), and HTTP/2 ones too when onStream is absent (the compatibility API) */
  readonly onRequest?: (
    req: http2.Http2ServerRequest | http.IncomingMessage,
    res: http2.Http2ServerResponse | http.ServerResponse
  ) => void
}

/** An HTTP/2 server on 127.0.0.1, closed (sessions and sockets destroyed) when the scope closes. */
export const h2Server = (options: H2ServerOptions): Effect.Effect<H2Server, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ info: H2Server; close: (done: () => void) => void }>((resume) => {
      const secure = options.secure ?? true
      const server = secure
        ? http2.createSecureServer({
          cert: serverCert,
          key: serverKey,
          allowHTTP1: options.allowHTTP1 ?? true,
          ...(options.settings !== undefined ? { settings: options.settings } : {})
        })
        : http2.createServer(options.settings !== undefined ? { settings: options.settings } : {})
      const open = new Set<http2.ServerHttp2Session>()
      const sockets = new Set<net.Socket>()
      let sessions = 0
      let connections = 0
      let streams = 0
      server.on(secure ? "secureConnection" : "connection", (socket: net.Socket) => {
        connections++
        sockets.add(socket)
        socket.on("close", () => sockets.delete(socket))
      })
      server.on("session", (session: http2.ServerHttp2Session) => {
        sessions++
        open.add(session)
        session.on("error", () => {})
        session.on("close", () => open.delete(session))
      })
      server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
        streams++
        // A client that cancels or times out a stream must not crash the test process.
        stream.on("error", () => {})
        options.onStream?.(stream, headers)
      })
      if (options.onRequest !== undefined) server.on("request", options.onRequest as never)
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as net.AddressInfo).port
        resume(Effect.succeed({
          info: {
            port,
            url: `${secure ? "https" : "http"}://127.0.0.1:${port}`,
            sessions: () => sessions,
            openSessions: () => open.size,
            sessionList: () => [...open],
            connections: () => connections,
            streams: () => streams,
            sockets: () => [...sockets]
          },
          close: (done) => {
            for (const session of open) session.destroy()
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          }
        }))
      })
    }),
    ({ close }) => Effect.async<void>((resume) => close(() => resume(Effect.void)))
  ).pipe(Effect.map(({ info }) => info))

/** Collect a request body, then call `then` with it. */
export const readAll = (stream: NodeJS.ReadableStream, then: (body: Buffer) => void): void => {
  const chunks: Array<Buffer> = []
  stream.on("data", (chunk: Buffer) => chunks.push(chunk))
  stream.on("end", () => then(Buffer.concat(chunks)))
}

/** A bare TLS server (no ALPN at all) that accepts connections and says nothing. */
export const tlsServer = (): Effect.Effect<{ readonly url: string }, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<{ url: string; server: tls.Server; sockets: Set<net.Socket> }>((resume) => {
      const sockets = new Set<net.Socket>()
      const server = tls.createServer({ cert: serverCert, key: serverKey }, (socket) => {
        sockets.add(socket)
        socket.on("error", () => {})
        socket.on("close", () => sockets.delete(socket))
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as net.AddressInfo).port
        resume(Effect.succeed({ url: `https://127.0.0.1:${port}`, server, sockets }))
      })
    }),
    ({ server, sockets }) =>
      Effect.async<void>((resume) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resume(Effect.void))
      })
  )
