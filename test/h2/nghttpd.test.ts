/**
 * Interoperability with nghttp2's own server, nghttpd (Debian/Ubuntu package `nghttp2-server`), over TLS with ALPN
 * and over h2c with prior knowledge: padded frames, trailers, a small concurrent-stream limit, uploads. Skipped,
 * with a banner, where nghttpd is not installed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type { Scope } from "effect"
import { Pool } from "httpfx"
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { ca } from "./servers.js"

const available = spawnSync("nghttpd", ["--version"], { stdio: "ignore" }).status === 0
if (!available) {
  console.warn(
    "\n" + "!".repeat(78) + "\n" +
      "!! test/h2/nghttpd.test.ts SKIPPED: nghttpd not found. Install it to run the HTTP/2 interop tests:\n" +
      "!!   apt-get install -y nghttp2-server\n" +
      "!".repeat(78) + "\n"
  )
}

const fixturePath = (name: string) => fileURLToPath(new URL(`../fixtures/tls/${name}`, import.meta.url))

const big = Buffer.alloc(1024 * 1024)
for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff

/** A document root with a small and a large file, removed when the scope closes. */
const docroot = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = mkdtempSync(join(tmpdir(), "httpfx-nghttpd-"))
    writeFileSync(join(dir, "hello.txt"), "hello from nghttpd\n")
    writeFileSync(join(dir, "big.bin"), big)
    return dir
  }),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** A port nobody listens on right now (nghttpd needs one on its command line). */
const freePort = Effect.async<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Resolves once something accepts connections on the port; fails after 3 s. */
const listening = (port: number, child: ChildProcess) =>
  Effect.async<void, Error>((resume) => {
    const started = Date.now()
    let timer: ReturnType<typeof setTimeout> | undefined
    const attempt = () => {
      if (child.exitCode !== null) return resume(Effect.fail(new Error(`nghttpd exited with ${child.exitCode}`)))
      const socket = net.connect({ host: "127.0.0.1", port }, () => {
        socket.destroy()
        resume(Effect.void)
      })
      socket.on("error", () => {
        socket.destroy()
        if (Date.now() - started > 3_000) return resume(Effect.fail(new Error("nghttpd did not start within 3 s")))
        timer = setTimeout(attempt, 20)
      })
    }
    attempt()
    return Effect.sync(() => clearTimeout(timer))
  })

/** nghttpd on 127.0.0.1 serving a temporary directory; killed when the scope closes. */
const nghttpd = (options: { readonly tls: boolean; readonly args?: ReadonlyArray<string> }) =>
  Effect.gen(function*() {
    const dir = yield* docroot
    const port = yield* freePort
    const args = ["-a", "127.0.0.1", "-d", dir, ...(options.args ?? [])]
    if (options.tls) args.push(String(port), fixturePath("server.key"), fixturePath("server.crt"))
    else args.push("--no-tls", String(port))
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn("nghttpd", args, { stdio: "ignore" })),
      (child) =>
        Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          child.once("exit", () => resume(Effect.void))
          child.kill("SIGTERM")
        })
    )
    yield* Effect.orDie(listening(port, child))
    return `${options.tls ? "https" : "http"}://127.0.0.1:${port}`
  }) as Effect.Effect<string, never, Scope.Scope>

describe.skipIf(!available)("nghttpd interop", () => {
  it.scopedLive("TLS + ALPN: a file comes back over HTTP/2", () =>
    Effect.gen(function*() {
      const url = yield* nghttpd({ tls: true })
      const pool = yield* Pool.make({ http2: true, tls: { ca } })
      const response = yield* pool.request("GET", `${url}/hello.txt`)
      expect(response.httpVersion).toBe("HTTP/2")
      expect(response.status).toBe(200)
      expect(response.text).toBe("hello from nghttpd\n")
      expect(response.headers["server"]).toMatch(/nghttpd/)
    }))

  it.scopedLive("h2c by prior knowledge: concurrent requests share one connection", () =>
    Effect.gen(function*() {
      const url = yield* nghttpd({ tls: false })
      const pool = yield* Pool.make({ http1: false, http2: true })
      const responses = yield* Effect.all(
        Array.from({ length: 10 }, () => pool.request("GET", `${url}/hello.txt`)),
        { concurrency: "unbounded" }
      )
      expect(responses.map((r) => `${r.httpVersion} ${r.status} ${r.text}`)).toEqual(
        Array(10).fill("HTTP/2 200 hello from nghttpd\n")
      )
      const connections = yield* pool.connections
      expect(connections.map(String)).toEqual([`<HTTPConnection ['${url}', HTTP/2, IDLE, Request Count: 10]>`])
    }))

  it.scopedLive("padded frames and trailers: a 1 MiB file arrives intact, streamed", () =>
    Effect.gen(function*() {
      const url = yield* nghttpd({ tls: true, args: ["-b", "255", "--trailer", "x-checksum: none"] })
      const pool = yield* Pool.make({ http2: true, tls: { ca } })
      const response = yield* pool.stream("GET", `${url}/big.bin`)
      const chunks: Array<Uint8Array> = []
      yield* Stream.runForEach(response.raw, (bytes) => Effect.sync(() => chunks.push(bytes)))
      expect(Buffer.concat(chunks).equals(big)).toBe(true)
    }))

  it.scopedLive("a two-stream limit still serves eight concurrent requests", () =>
    Effect.gen(function*() {
      const url = yield* nghttpd({ tls: true, args: ["-m", "2"] })
      const pool = yield* Pool.make({ http2: true, tls: { ca }, maxConnections: 1 })
      const responses = yield* Effect.all(
        Array.from({ length: 8 }, () => pool.request("GET", `${url}/big.bin`)),
        { concurrency: "unbounded" }
      )
      expect(responses.every((r) => r.status === 200 && r.content.length === big.length)).toBe(true)
    }))

  it.scopedLive("uploads: bytes and a streamed body are echoed back", () =>
    Effect.gen(function*() {
      const url = yield* nghttpd({ tls: true, args: ["--echo-upload"] })
      const pool = yield* Pool.make({ http2: true, tls: { ca } })
      const bytes = yield* pool.request("POST", `${url}/echo`, { content: "posted bytes" })
      expect(bytes.text).toBe("posted bytes")
      const parts = Array.from({ length: 20 }, (_, i) => new TextEncoder().encode(`chunk ${i}\n`))
      const streamed = yield* pool.request("PUT", `${url}/echo`, { content: Stream.fromIterable(parts) })
      expect(streamed.text).toBe(parts.map((p) => new TextDecoder().decode(p)).join(""))
    }))

  it.scopedLive("a missing file is a 404 with the standard reason phrase", () =>
    Effect.gen(function*() {
      const url = yield* nghttpd({ tls: false })
      const pool = yield* Pool.make({ http1: false, http2: true })
      const response = yield* pool.request("GET", `${url}/missing`)
      expect(response.status).toBe(404)
      expect(response.reasonPhrase).toBe("Not Found")
      expect(response.httpVersion).toBe("HTTP/2")
    }))
})
