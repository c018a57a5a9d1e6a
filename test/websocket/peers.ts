/**
 * WebSocket peers for tests, on loopback and owned by a Scope: the `ws` package's server (plain or TLS), and a raw
 * TCP server that does the opening handshake by hand and then sends whatever frames a test scripts, for the protocol
 * violations a real server would never commit.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { createHash } from "node:crypto"
import type * as http from "node:http"
import * as https from "node:https"
import * as fs from "node:fs"
import type * as net from "node:net"
import * as path from "node:path"
import { WebSocketServer } from "ws"
import type { PerMessageDeflateOptions, WebSocket as ServerSocket } from "ws"
import { rawServer } from "../utils/servers.js"
import type { TestServer } from "../utils/servers.js"

const tlsDir = path.join(import.meta.dirname, "..", "fixtures", "tls")
export const ca = fs.readFileSync(path.join(tlsDir, "ca.crt"))
const serverTls = { cert: fs.readFileSync(path.join(tlsDir, "server.crt")), key: fs.readFileSync(path.join(tlsDir, "server.key")) }

interface WsPeer {
  /** ws://127.0.0.1:PORT (or wss://) */
  readonly url: string
  readonly server: WebSocketServer
  /** the handshake requests the server accepted, in order */
  readonly requests: Array<http.IncomingMessage>
  /** the server side of each WebSocket, in order */
  readonly sockets: Array<ServerSocket>
  /** close codes the server received, in order */
  readonly closes: Array<number>
}

/** A `ws` server on 127.0.0.1; `onConnection` scripts each WebSocket (an echo by default). */
export const wsServer = (
  options: {
    readonly tls?: boolean
    readonly handleProtocols?: (protocols: Set<string>) => string | false
    /** the server's permessage-deflate (off by default, as in `ws`) */
    readonly perMessageDeflate?: boolean | PerMessageDeflateOptions
    readonly onConnection?: (socket: ServerSocket, request: http.IncomingMessage) => void
  } = {}
): Effect.Effect<WsPeer, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<WsPeer>((resume) => {
      const requests: Array<http.IncomingMessage> = []
      const sockets: Array<ServerSocket> = []
      const closes: Array<number> = []
      const httpsServer = options.tls ? https.createServer(serverTls) : undefined
      const server = new WebSocketServer({
        ...(httpsServer ? { server: httpsServer } : { host: "127.0.0.1", port: 0 }),
        ...(options.handleProtocols ? { handleProtocols: options.handleProtocols } : {}),
        ...(options.perMessageDeflate !== undefined ? { perMessageDeflate: options.perMessageDeflate } : {})
      })
      server.on("connection", (socket, request) => {
        requests.push(request)
        sockets.push(socket)
        socket.on("error", () => {})
        socket.on("close", (code) => closes.push(code))
        if (options.onConnection) options.onConnection(socket, request)
        else socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }))
      })
      const ready = (port: number) =>
        resume(Effect.succeed({
          url: `${options.tls ? "wss" : "ws"}://127.0.0.1:${port}`,
          server,
          requests,
          sockets,
          closes
        }))
      if (httpsServer) httpsServer.listen(0, "127.0.0.1", () => ready((httpsServer.address() as net.AddressInfo).port))
      else server.on("listening", () => ready((server.address() as net.AddressInfo).port))
    }),
    (peer) =>
      Effect.async<void>((resume) => {
        for (const socket of peer.sockets) socket.terminate()
        const http = (peer.server.options.server as https.Server | undefined)
        peer.server.close(() => {
          if (http) http.close(() => resume(Effect.void))
          else resume(Effect.void)
        })
      })
  )

/** RFC 6455 §1.3 */
export const acceptOf = (key: string): string =>
  createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64")

/** A server frame: unmasked unless `mask`, FIN unless `fin: false`; `rsv` sets RSV1-3 (0-7). */
export const frame = (
  opcode: number,
  payload: Buffer | string = Buffer.alloc(0),
  options: { readonly fin?: boolean; readonly rsv?: number; readonly mask?: boolean } = {}
): Buffer => {
  const data = typeof payload === "string" ? Buffer.from(payload) : payload
  const length = data.length
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8
  const head = Buffer.alloc(2 + lengthBytes + (options.mask ? 4 : 0))
  head[0] = (options.fin === false ? 0 : 0x80) | ((options.rsv ?? 0) << 4) | opcode
  head[1] = (options.mask ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127)
  if (lengthBytes === 2) head.writeUInt16BE(length, 2)
  if (lengthBytes === 8) head.writeBigUInt64BE(BigInt(length), 2)
  // A masked frame gets a zero mask (left as allocated), which keeps the payload as it is: what matters is the bit.
  return Buffer.concat([head, data])
}

/** A close frame's payload. */
export const closeBody = (code: number, reason = ""): Buffer => {
  const body = Buffer.alloc(2 + Buffer.byteLength(reason))
  body.writeUInt16BE(code, 0)
  body.write(reason, 2)
  return body
}

export interface RawPeer extends TestServer {
  /** ws://127.0.0.1:PORT */
  readonly wsUrl: string
  /** the unmasked payloads of the frames the client sent, by opcode (and whether RSV1 was set), in order */
  readonly received: Array<{ readonly opcode: number; readonly payload: Buffer; readonly rsv1: boolean }>
}

/**
 * A raw server that reads the client's handshake, answers it (`answer` may change the 101's fields, or replace it),
 * then runs `script` with the socket; it records the client's frames.
 */
export const rawWsServer = (
  script: (socket: net.Socket) => void,
  answer: (key: string) => string = (key) =>
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${acceptOf(key)}\r\n\r\n`
): Effect.Effect<RawPeer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const received: Array<{ opcode: number; payload: Buffer; rsv1: boolean }> = []
    const server = yield* rawServer((socket) => {
      let buffered: Buffer = Buffer.alloc(0)
      let open = false
      socket.on("data", (data: Buffer) => {
        buffered = Buffer.concat([buffered, data])
        if (!open) {
          const end = buffered.indexOf("\r\n\r\n")
          if (end < 0) return
          const head = buffered.subarray(0, end).toString("latin1")
          buffered = buffered.subarray(end + 4)
          const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? ""
          open = true
          socket.write(answer(key))
          script(socket)
        }
        const before = received.length
        buffered = readFrames(buffered, received)
        // The closing handshake, as a server does it: answer a close frame, then end the connection.
        if (received.slice(before).some((f) => f.opcode === 8) && !socket.destroyed) socket.end(frame(8, closeBody(1000)))
      })
    })
    return { ...server, wsUrl: `ws://127.0.0.1:${server.port}`, received }
  })

/** Client frames (masked) out of `bytes`; returns what is left of an incomplete frame. */
const readFrames = (bytes: Buffer, into: Array<{ opcode: number; payload: Buffer; rsv1: boolean }>): Buffer => {
  while (bytes.length >= 2) {
    let length = bytes[1]! & 0x7f
    let at = 2
    if (length === 126) {
      if (bytes.length < 4) return bytes
      length = bytes.readUInt16BE(2)
      at = 4
    } else if (length === 127) {
      if (bytes.length < 10) return bytes
      length = Number(bytes.readBigUInt64BE(2))
      at = 10
    }
    const masked = (bytes[1]! & 0x80) !== 0
    const maskAt = at
    if (masked) at += 4
    if (bytes.length < at + length) return bytes
    const payload = Buffer.from(bytes.subarray(at, at + length))
    if (masked) for (let i = 0; i < length; i++) payload[i]! ^= bytes[maskAt + (i & 3)]!
    into.push({ opcode: bytes[0]! & 0x0f, payload, rsv1: (bytes[0]! & 0x40) !== 0 })
    bytes = bytes.subarray(at + length)
  }
  return bytes
}
