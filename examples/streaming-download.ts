/**
 * Download a 20 MiB body straight to a file: the body streams from the socket into the file with backpressure, so
 * memory stays flat whatever the size, and progress comes from Content-Length as the bytes pass.
 *
 * Then the same download a second way, through one buffer the program owns: `runForEach(f, { buffer })` reads the
 * socket straight into it, and `f` writes each chunk to an open file before the next read. Nothing is allocated per
 * read, which is the fastest way httpfx reads a large body.
 *
 * It starts its own server on loopback, so it needs no network:
 * `npx tsx --conditions=httpfx-source examples/streaming-download.ts`.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { Console, Effect, Stream } from "effect"
import * as http from "node:http"
import type * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Client } from "httpfx"

const SIZE = 20 * 1024 * 1024
const CHUNK = 64 * 1024

/** Serves SIZE bytes with a Content-Length, written as the socket drains (the server does not buffer it either). */
const startServer = Effect.acquireRelease(
  Effect.async<http.Server>((resume) => {
    const server = http.createServer((_request, response) => {
      response.writeHead(200, { "content-type": "application/octet-stream", "content-length": SIZE })
      const chunk = Buffer.alloc(CHUNK, "httpfx ")
      let sent = 0
      const write = () => {
        while (sent < SIZE) {
          const size = Math.min(CHUNK, SIZE - sent)
          sent += size
          const ok = response.write(size === CHUNK ? chunk : chunk.subarray(0, size))
          if (!ok) return void response.once("drain", write)
        }
        response.end()
      }
      write()
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

/** A file path in the temp directory, removed when the scope closes (whether the download finished or not). */
const tempFile = (name: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    Effect.acquireRelease(
      Effect.sync(() => path.join(os.tmpdir(), `${name}-${process.pid}-${Date.now()}`)),
      (file) =>
        fs.remove(file, { force: true }).pipe(
          Effect.zipRight(Console.log(`deleted ${file}`)),
          Effect.orDie
        )
    ))

/** Logs each 10% step the first time it is passed: at most eleven lines, however small the chunks. */
const progress = (total: number | undefined) => {
  let received = 0
  let reported = -1
  return (chunk: Uint8Array) =>
    Effect.suspend(() => {
      received += chunk.length
      if (total === undefined || total === 0) return Effect.void
      const step = Math.floor((received / total) * 10)
      if (step <= reported) return Effect.void
      reported = step
      return Console.log(`  ${String(step * 10).padStart(3)}%  ${(received / 1024 / 1024).toFixed(1)} MiB`)
    })
}

const main = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const server = yield* startServer
  const { port } = server.address() as net.AddressInfo
  const client = yield* Client.make({ baseUrl: `http://127.0.0.1:${port}` })
  const file = yield* tempFile("httpfx-download")

  const started = performance.now()
  // The response body belongs to this inner scope: if anything below fails or is interrupted, the connection is
  // closed when the scope ends; when the last byte is read, it goes back to the pool.
  yield* Effect.scoped(
    Effect.gen(function*() {
      const response = yield* client.stream("GET", "/big.bin").pipe(Effect.flatMap((r) => r.raiseForStatus))
      const length = response.headers["content-length"]
      yield* Console.log(`${response.status} ${response.reasonPhrase}, Content-Length ${length}, writing to ${file}`)
      yield* response.stream.pipe(
        Stream.tap(progress(length === undefined ? undefined : Number(length))),
        Stream.run(fs.sink(file))
      )
    })
  )
  const seconds = (performance.now() - started) / 1000

  const info = yield* fs.stat(file)
  yield* Console.log(`saved ${Number(info.size)} bytes (${(Number(info.size) / 1024 / 1024).toFixed(1)} MiB) in ` +
    `${seconds.toFixed(2)} s`)

  // The second way. Each chunk is a view of `buffer`, valid until the Effect `f` returned ends: writeAll has written
  // it by then. The file handle, like the response, belongs to the scope.
  const second = yield* tempFile("httpfx-download-buffer")
  const buffer = new Uint8Array(256 * 1024)
  const again = performance.now()
  yield* Effect.scoped(
    Effect.gen(function*() {
      const response = yield* client.stream("GET", "/big.bin").pipe(Effect.flatMap((r) => r.raiseForStatus))
      const handle = yield* fs.open(second, { flag: "w" })
      yield* response.runForEach((chunk) => handle.writeAll(chunk), { buffer })
    })
  )
  const written = yield* fs.stat(second)
  yield* Console.log(`through one ${buffer.length / 1024} KiB buffer: saved ${Number(written.size)} bytes in ` +
    `${((performance.now() - again) / 1000).toFixed(2)} s`)
  for (const connection of yield* client.pool) yield* Console.log(String(connection))
})

Effect.runPromise(main.pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer))).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
