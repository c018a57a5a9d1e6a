/**
 * Upload without holding the body in memory: a generated 10 MiB Stream sent chunked, then a file from disk sent as a
 * multipart part with a known size (so the whole request gets a Content-Length). The server counts what arrives.
 *
 * It starts its own server on loopback, so it needs no network:
 * `npx tsx --conditions=httpfx-source examples/streaming-upload.ts`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Console, Effect, Stream } from "effect"
import * as http from "node:http"
import type * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Client } from "httpfx"

const MiB = 1024 * 1024

/** Counts the bytes of each request body as they arrive and answers with what it saw. */
const startServer = Effect.acquireRelease(
  Effect.async<http.Server>((resume) => {
    const server = http.createServer((request, response) => {
      let bytes = 0
      let head = ""
      request.on("data", (chunk: Buffer) => {
        // Keep only the start of the body: enough to show a multipart part's headers.
        if (head.length < 512) head += chunk.subarray(0, 512 - head.length).toString("latin1")
        bytes += chunk.length
      })
      request.on("end", () => {
        response.writeHead(200, { "content-type": "application/json" })
        response.end(JSON.stringify({
          received: bytes,
          contentLength: request.headers["content-length"] ?? null,
          transferEncoding: request.headers["transfer-encoding"] ?? null,
          contentType: request.headers["content-type"] ?? null,
          parts: head.match(/Content-(Disposition|Type): [^\r]*/g) ?? []
        }))
      })
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

interface Report {
  readonly received: number
  readonly contentLength: string | null
  readonly transferEncoding: string | null
  readonly contentType: string | null
  readonly parts: ReadonlyArray<string>
}

/** A file of `size` bytes in the temp directory, removed when the scope closes. */
const tempFile = (size: number) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    Effect.acquireRelease(
      Effect.gen(function*() {
        const file = path.join(os.tmpdir(), `httpfx-upload-${process.pid}-${Date.now()}.bin`)
        yield* fs.writeFile(file, new Uint8Array(size).fill(0x61))
        return file
      }),
      (file) => Effect.orDie(fs.remove(file, { force: true }))
    ))

const main = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const server = yield* startServer
  const { port } = server.address() as net.AddressInfo
  const client = yield* Client.make({ baseUrl: `http://127.0.0.1:${port}` })

  // 1. A stream of 160 chunks of 64 KiB, made as they are sent: its length is unknown, so it goes chunked, and the
  //    next chunk is made only when the socket has taken the previous one.
  let sent = 0
  const generated = Stream.range(1, 160).pipe(
    Stream.map((i) => new Uint8Array(64 * 1024).fill(i % 256)),
    Stream.tap((chunk) => Effect.sync(() => void (sent += chunk.length)))
  )
  const chunked = yield* client.post("/upload", {
    content: generated,
    headers: { "content-type": "application/octet-stream" }
  })
  const first = (yield* chunked.json) as Report
  yield* Console.log(`generated stream: sent ${sent} bytes, the server received ${first.received} ` +
    `(Transfer-Encoding: ${first.transferEncoding}, Content-Length: ${first.contentLength})`)

  // 2. A file from disk as a multipart part. With its size given, the client knows the length of the whole body and
  //    sends a Content-Length; the file is read in 64 KiB chunks as the socket takes them. The error type of the
  //    request now includes the file system's PlatformError, next to HttpError.
  const file = yield* tempFile(6 * MiB)
  // Platform sizes are bigints (FileSystem.Size); the part size is a number.
  const size = Number((yield* fs.stat(file)).size)
  const multipart = yield* client.post("/upload", {
    form: { description: "six mebibytes of the letter a" },
    files: {
      upload: { filename: path.basename(file), content: fs.stream(file), contentType: "application/octet-stream", size }
    }
  })
  const second = (yield* multipart.json) as Report
  yield* Console.log(`file of ${size} bytes as multipart: the server received ${second.received} bytes ` +
    `(Content-Length: ${second.contentLength}, Transfer-Encoding: ${second.transferEncoding})`)
  for (const line of second.parts) yield* Console.log(`  ${line}`)

  for (const connection of yield* client.pool) yield* Console.log(String(connection))
})

Effect.runPromise(main.pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
