/**
 * A program using httpfx ends by itself: test/fixtures/clean-exit.ts runs in a child Node process against a server
 * of this test, uses the Client and a Pool in every way that could leave something behind (IDLE keep-alive
 * connections, an unread streamed body, an abandoned request, timeouts, a redirect, gzip), prints "done" and does
 * not call process.exit. Node exits only once nothing keeps its event loop alive, so the time from "done" to the
 * exit shows whether a socket, a timer or a fiber was left: with none it is a few milliseconds; a forgotten timer
 * would hold the process for its duration (5 s for the default timeouts), a forgotten socket forever.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import type * as http from "node:http"
import { fileURLToPath } from "node:url"
import * as zlib from "node:zlib"
import { h2Server, serverCert, serverKey } from "../h2/servers.js"
import { httpServer, httpsServer } from "../utils/servers.js"

const root = fileURLToPath(new URL("../..", import.meta.url))
const caFile = fileURLToPath(new URL("../fixtures/tls/ca.crt", import.meta.url))

const gzipText = "compressible ".repeat(5_000)

/** The routes the fixture uses. */
const fixtureServer = () => {
  const held: Array<http.ServerResponse> = []
  return httpServer((req, res) => {
    req.resume()
    const path = new URL(req.url!, "http://x").pathname
    switch (path) {
      case "/ok":
        return void res.end("ok")
      case "/big": {
        res.writeHead(200, { "Content-Length": String(1024 * 1024) })
        res.on("error", () => {})
        return void res.end(Buffer.alloc(1024 * 1024, 98))
      }
      case "/hang":
        // Held until the test's scope closes the server.
        return void held.push(res)
      case "/redirect":
        res.writeHead(302, { Location: "/ok" })
        return void res.end()
      case "/gzip":
        res.writeHead(200, { "Content-Encoding": "gzip", "Content-Type": "text/plain" })
        return void res.end(zlib.gzipSync(gzipText))
      default:
        res.writeHead(404)
        res.end()
    }
  })
}

interface Run {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** ms from the "done" line to the exit; undefined when "done" never came */
  readonly doneToExit: number | undefined
}

/** Run a fixture and wait (bounded: it is killed after `limitMs`) for it to exit. */
const runFixture = (fixture: string, args: ReadonlyArray<string>, limitMs: number) =>
  Effect.async<Run, Error>((resume) => {
    const child = spawn(
      process.execPath,
      ["--conditions=httpfx-source", "--import", "tsx", `test/fixtures/${fixture}`, ...args],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    let doneAt: number | undefined
    child.stdout.setEncoding("utf8")
    child.stderr.setEncoding("utf8")
    child.stdout.on("data", (data: string) => {
      stdout += data
      if (doneAt === undefined && /^done$/m.test(stdout)) doneAt = performance.now()
    })
    child.stderr.on("data", (data: string) => stderr += data)
    const killer = setTimeout(() => child.kill("SIGKILL"), limitMs)
    child.on("error", (error) => {
      clearTimeout(killer)
      resume(Effect.fail(error))
    })
    child.on("exit", (code, signal) => {
      const exitAt = performance.now()
      clearTimeout(killer)
      // The last output may come after "exit"; "close" follows once the pipes are drained.
      child.once("close", () =>
        resume(Effect.succeed({
          code,
          signal,
          stdout,
          stderr,
          doneToExit: doneAt === undefined ? undefined : exitAt - doneAt
        })))
    })
    return Effect.sync(() => {
      clearTimeout(killer)
      child.kill("SIGKILL")
    })
  })

describe("a program using httpfx", () => {
  it.scopedLive("exits by itself, with code 0, within 2 s of printing done (no process.exit)", () =>
    Effect.gen(function*() {
      const server = yield* fixtureServer()
      // Starting tsx takes a few seconds on a loaded machine; the program itself, well under one.
      const run = yield* runFixture("clean-exit.ts", [server.url], 15_000)

      expect(run.stderr).toBe("")
      expect(run.signal).toBe(null)
      expect(run.code).toBe(0)
      const lines = run.stdout.trim().split("\n")
      expect(lines.at(-1)).toBe("done")
      expect(JSON.parse(lines.at(-2)!)).toEqual({
        concurrent: ["ok", "ok", "ok", "ok"],
        leftOpen: 200,
        unread: 200,
        partial: 1,
        abandoned: "None",
        readTimeout: "ReadTimeout",
        total: "ok",
        redirect: "ok",
        gzip: gzipText.length,
        gzipStream: gzipText.length,
        pool: ["IDLE", "IDLE", "IDLE"],
        clientPool: expect.arrayContaining(["IDLE"])
      })
      // At "done" the client still had IDLE keep-alive connections, and the ACTIVE one of the response left open in
      // the program's scope: the scope and then the layer closed them on the way out.
      const clientPool: Array<string> = JSON.parse(lines.at(-2)!).clientPool
      expect(clientPool.filter((state) => state === "ACTIVE").length).toBeLessThanOrEqual(1)
      expect(clientPool.filter((state) => state !== "ACTIVE" && state !== "IDLE")).toEqual([])
      // Measured from the "done" line to the exit event. Nothing left behind takes a few ms; the bound is generous
      // for a loaded machine, and far below what a forgotten 5 s timer or an open socket would cost.
      expect(run.doneToExit).toBeDefined()
      expect(run.doneToExit!).toBeLessThan(2_000)
    }), { timeout: 30_000 })

  it.scopedLive("exits by itself when it never closes its pools: IDLE connections (HTTP/1.1, TLS, HTTP/2) do not hold it", () =>
    Effect.gen(function*() {
      const ok: http.RequestListener = (req, res) => {
        req.resume()
        res.end("ok")
      }
      const plain = yield* httpServer(ok)
      const secure = yield* httpsServer({ key: serverKey, cert: serverCert }, ok)
      const h2c = yield* h2Server({ secure: false, onRequest: (_req, res) => res.end("ok") })
      // The pools keep their connections for a minute: held by them, the program would outlive the test.
      const run = yield* runFixture("unclosed-pool.ts", [plain.url, secure.url, caFile, h2c.url], 15_000)

      expect(run.stderr).toBe("")
      expect(run.signal).toBe(null)
      expect(run.code).toBe(0)
      const lines = run.stdout.trim().split("\n")
      expect(lines.at(-1)).toBe("done")
      const states = JSON.parse(lines.at(-2)!)
      expect(states.client).toHaveLength(3)
      expect(states.client.every((state: string) => state === "IDLE")).toBe(true)
      expect(states.pool).toEqual(["HTTP/2 IDLE"])
      // The servers never closed them: when the program exited, its connections were still open.
      expect(plain.acceptedSockets() + secure.acceptedSockets()).toBe(states.client.length)
      expect(run.doneToExit).toBeDefined()
      expect(run.doneToExit!).toBeLessThan(2_000)
    }), { timeout: 30_000 })
})
