/**
 * A real httpbin (Debian's python3-httpbin under gunicorn) on 127.0.0.1, for interop tests: another team's HTTP/1.1
 * server, so the client is checked against more than servers written with it in mind.
 *
 * `httpbinAvailability()` says whether gunicorn can load httpbin here (and why not); `startHttpbin()` starts one
 * server on a port the kernel picks and resolves once `/get` answers; `stop()` ends it (SIGTERM, then SIGKILL).
 */
import { spawn, spawnSync } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"

interface Availability {
  readonly available: boolean
  /** why the server cannot run here (when not available) */
  readonly reason: string
  /** the gunicorn executable found on PATH */
  readonly gunicorn: string | undefined
}

export interface HttpbinServer {
  readonly port: number
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /** what gunicorn wrote to stderr so far (warnings and tracebacks), for failure messages */
  readonly log: () => string
  readonly stop: () => Promise<void>
}

const START_TIMEOUT_MS = 20_000
const TERM_GRACE_MS = 3_000
const KILL_WAIT_MS = 2_000
const LOG_LIMIT = 16_384

const findOnPath = (name: string): string | undefined => {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue
    const candidate = path.join(dir, name)
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      if (fs.statSync(candidate).isFile()) return candidate
    } catch {
      // not here; try the next directory
    }
  }
  return undefined
}

let cached: Availability | undefined

/**
 * Whether gunicorn is installed and its own Python can import httpbin (and httpbin's imports, brotli among them).
 * `gunicorn --check-config` loads the app in gunicorn's interpreter, which need not be the `python3` on PATH
 * (pyenv shadows Debian's here), so this is the check that matches what `startHttpbin` will run.
 */
export const httpbinAvailability = (): Availability => {
  if (cached !== undefined) return cached
  const gunicorn = findOnPath("gunicorn")
  if (gunicorn === undefined) {
    cached = {
      available: false,
      reason: "gunicorn is not on PATH (apt-get install gunicorn python3-httpbin)",
      gunicorn
    }
    return cached
  }
  const check = spawnSync(gunicorn, ["--check-config", "httpbin:app"], {
    cwd: os.tmpdir(),
    encoding: "utf8",
    timeout: 15_000
  })
  if (check.error !== undefined || check.status !== 0) {
    const output = `${check.stderr ?? ""}${check.stdout ?? ""}`.trim().split("\n").slice(-3).join(" | ")
    const why = check.error !== undefined ? check.error.message : `exit status ${check.status}`
    cached = {
      available: false,
      reason: `${gunicorn} cannot load httpbin:app (${why}): ${output || "no output"} ` +
        "(apt-get install python3-httpbin)",
      gunicorn
    }
    return cached
  }
  cached = { available: true, reason: "", gunicorn }
  return cached
}

/** The banner a suite prints when it is skipped, so a skip is never mistaken for a pass. */
export const skipBanner = (suite: string, availability: Availability): string => {
  const line = "!".repeat(100)
  return `\n${line}\n!! ${suite} SKIPPED: ${availability.reason}\n${line}\n`
}

/**
 * gunicorn's settings, as a config file because two things need Python hooks: printing the port the kernel chose
 * (binding port 0 leaves no window for another process to take it, unlike probing a free port first), and a
 * watchdog that stops the server if the test process dies without stopping it, so no orphan outlives a run.
 * One worker with threads: `/delay` and `/drip` hold a thread each, not the whole server.
 */
const CONFIG = `
import os, signal, sys, threading, time

bind = ["127.0.0.1:0"]
workers = 1
worker_class = "gthread"
threads = 16
loglevel = "warning"
accesslog = None
graceful_timeout = 2
timeout = 60

def when_ready(server):
    port = server.LISTENERS[0].sock.getsockname()[1]
    sys.stdout.write("httpbin-port %d\\n" % port)
    sys.stdout.flush()
    parent = os.getppid()
    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)
    threading.Thread(target=watch, daemon=True).start()
`

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null

const waitForExit = (child: ChildProcess, ms: number): Promise<boolean> =>
  exited(child) ? Promise.resolve(true) : new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off("exit", onExit)
      resolve(false)
    }, ms)
    const onExit = () => {
      clearTimeout(timer)
      resolve(true)
    }
    child.once("exit", onExit)
  })

/** One GET, resolved with the status, or rejected on a socket error or after `ms`. */
const probe = (url: string, ms: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const request = http.get(url, { timeout: ms, agent: false }, (response) => {
      response.resume()
      response.on("end", () => resolve(response.statusCode ?? 0))
      response.on("error", reject)
    })
    request.on("timeout", () => request.destroy(new Error(`no answer within ${ms} ms`)))
    request.on("error", reject)
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Start httpbin; resolves once `GET /get` answers 200, rejects (with gunicorn's output) after 20 seconds. */
export const startHttpbin = async (): Promise<HttpbinServer> => {
  const availability = httpbinAvailability()
  if (!availability.available || availability.gunicorn === undefined) {
    throw new Error(`httpbin cannot run: ${availability.reason}`)
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "httpfx-httpbin-"))
  const config = path.join(dir, "gunicorn.conf.py")
  fs.writeFileSync(config, CONFIG)

  let log = ""
  const child = spawn(availability.gunicorn, ["--config", config, "httpbin:app"], {
    cwd: dir,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1" }
  })
  child.stderr!.setEncoding("utf8")
  child.stderr!.on("data", (text: string) => {
    log = (log + text).slice(-LOG_LIMIT)
  })
  // Should the test process exit without calling stop (a crash, a bail-out), take the server down with it.
  const killOnExit = () => child.kill("SIGKILL")
  process.once("exit", killOnExit)

  const stop = async () => {
    process.off("exit", killOnExit)
    if (!exited(child)) {
      child.kill("SIGTERM")
      if (!(await waitForExit(child, TERM_GRACE_MS))) {
        child.kill("SIGKILL")
        await waitForExit(child, KILL_WAIT_MS)
      }
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }

  const deadline = Date.now() + START_TIMEOUT_MS
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let stdout = ""
      const timer = setTimeout(() => fail(new Error("gunicorn did not report its port")), START_TIMEOUT_MS)
      const fail = (error: Error) => {
        clearTimeout(timer)
        reject(error)
      }
      child.stdout!.setEncoding("utf8")
      child.stdout!.on("data", (text: string) => {
        stdout = (stdout + text).slice(-LOG_LIMIT)
        const match = /httpbin-port (\d+)/.exec(stdout)
        if (match !== null) {
          clearTimeout(timer)
          resolve(Number(match[1]))
        }
      })
      child.once("error", fail)
      child.once("exit", (code, signal) => fail(new Error(`gunicorn exited early (code ${code}, signal ${signal})`)))
    })
    const url = `http://127.0.0.1:${port}`
    // The master listens before its worker has booted; connections wait in the backlog until then.
    let lastError: unknown
    for (let attempt = 0; attempt < 100 && Date.now() < deadline; attempt++) {
      if (exited(child)) throw new Error(`gunicorn exited (code ${child.exitCode}, signal ${child.signalCode})`)
      try {
        const status = await probe(`${url}/get`, Math.max(100, deadline - Date.now()))
        if (status === 200) return { port, url, log: () => log, stop }
        lastError = new Error(`GET /get answered ${status}`)
      } catch (error) {
        lastError = error
      }
      await sleep(200)
    }
    throw new Error(`httpbin did not answer GET /get within ${START_TIMEOUT_MS} ms: ${String(lastError)}`)
  } catch (error) {
    await stop()
    throw new Error(`could not start httpbin: ${error instanceof Error ? error.message : String(error)}\n${log}`)
  }
}
