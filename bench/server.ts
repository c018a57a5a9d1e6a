// Loopback HTTP server for the benchmark. It runs in its own process so its
// CPU time never shows up in a client's process.cpuUsage().
//
// Prints {"port": N} on stdout once listening, then serves until SIGTERM /
// SIGINT or until its stdin closes (the runner keeps stdin open, so a runner
// that dies without cleaning up still takes the server down with it).
import { createServer } from "node:http"
import type { ServerResponse } from "node:http"
import { WebSocketServer } from "ws"
import { LOOPBACK_HOST } from "./shared.js"

// Bodies are allocated once so the server spends as little CPU as possible per
// request and stays the same for every client.
const body1k = Buffer.alloc(1024, "a")
const body100k = Buffer.alloc(100 * 1024, "b")
// Written in one res.end(): Node hands it to the socket as the client reads,
// so the server's cost per byte stays low and the client is what limits.
const body64m = Buffer.alloc(64 * 1024 * 1024, "c")

const send = (res: ServerResponse, status: number, body: Buffer): void => {
  res.writeHead(status, {
    "content-type": "application/octet-stream",
    "content-length": body.length
  })
  res.end(body)
}

// Connections accepted so far. The runner reads it before and after each client
// so that a client which silently reconnects per request is visible.
let connections = 0

const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === "/1k") {
    send(res, 200, body1k)
  } else if (req.method === "GET" && req.url === "/100k") {
    send(res, 200, body100k)
  } else if (req.method === "GET" && req.url === "/64m") {
    send(res, 200, body64m)
  } else if (req.method === "POST" && req.url === "/echo-len") {
    // The body is read in full (and only counted) so the client really has to
    // upload it before it gets an answer.
    let received = 0
    req.on("data", (chunk: Buffer) => {
      received += chunk.length
    })
    req.on("end", () => {
      res.setHeader("x-received-length", String(received))
      send(res, 200, body1k)
    })
  } else if (req.method === "GET" && req.url === "/_stats") {
    send(res, 200, Buffer.from(JSON.stringify({ connections })))
  } else {
    // Drain whatever was sent so the connection stays usable.
    req.resume()
    send(res, 404, Buffer.from("not found"))
  }
})

server.on("connection", () => {
  connections++
})

// The WebSocket workloads: the `ws` package's server echoes every message at /ws as it came (binary as binary).
// No permessage-deflate (ws's server default): both clients' messages go uncompressed.
const echo = new WebSocketServer({ server, path: "/ws", maxPayload: 64 * 1024 * 1024 })
echo.on("connection", (socket) => {
  socket.on("error", () => {})
  socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }))
})

// Clients keep connections open between warm-up and measurement, and slow
// clients may pause between requests; a short timeout would add reconnects.
server.keepAliveTimeout = 60_000
// Must stay above keepAliveTimeout, otherwise Node closes idle sockets early.
server.headersTimeout = 65_000

const shutdown = (): void => {
  for (const socket of echo.clients) socket.terminate()
  server.closeAllConnections()
  server.close()
  process.exit(0)
}

process.on("SIGTERM", shutdown)
process.on("SIGINT", shutdown)
process.stdin.on("end", shutdown)
process.stdin.on("close", shutdown)
process.stdin.on("error", shutdown)
process.stdin.resume()

server.listen(0, LOOPBACK_HOST, () => {
  const address = server.address()
  if (address === null || typeof address === "string") {
    process.stderr.write("server: unexpected listen address\n")
    process.exit(1)
  }
  process.stdout.write(JSON.stringify({ port: address.port }) + "\n")
})
