/**
 * Python's `websockets` server (Debian's python3-websockets) running test/fixtures/websockets_server.py on 127.0.0.1,
 * for interop tests: a WebSocket implementation written by another team, in another language. It runs on Debian's
 * /usr/bin/python3, which is where apt installs the package (the python3 first on PATH may be another one).
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as path from "node:path"

const PYTHON = "/usr/bin/python3"
const SCRIPT = path.join(import.meta.dirname, "..", "fixtures", "websockets_server.py")
const START_TIMEOUT_MS = 10_000
const STOP_TIMEOUT_MS = 2_000

/** The websockets version /usr/bin/python3 imports, or why it cannot (then the tests skip with a banner). */
export const pythonWebsockets = (): { readonly version: string } | { readonly missing: string } => {
  const check = spawnSync(PYTHON, ["-c", "import websockets; print(websockets.__version__)"], {
    encoding: "utf8",
    timeout: 10_000
  })
  if (check.error !== undefined) return { missing: `${PYTHON}: ${check.error.message}` }
  if (check.status !== 0) return { missing: `${PYTHON} cannot import websockets: ${check.stderr.trim().split("\n").pop()}` }
  return { version: check.stdout.trim() }
}

/** The server for the scope: its ws://127.0.0.1:PORT base URL, once it listens; SIGTERM (then SIGKILL) at the end. */
export const pythonServer: Effect.Effect<string, Error, Scope.Scope> = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly child: ReturnType<typeof spawn> }, Error>((resume) => {
    const child = spawn(PYTHON, [SCRIPT], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    const fail = (why: string) => {
      clearTimeout(timer)
      child.kill("SIGKILL")
      resume(Effect.fail(new Error(`the websockets server did not start: ${why}; stderr: ${stderr.slice(-2000)}`)))
    }
    const timer = setTimeout(() => fail(`no port within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS)
    child.stderr!.on("data", (data) => stderr += data)
    child.on("error", (error) => fail(error.message))
    child.on("exit", (code) => fail(`it exited with ${code}`))
    child.stdout!.on("data", (data) => {
      stdout += data
      const line = /^(\d+)\n/.exec(stdout)
      if (line === null) return
      clearTimeout(timer)
      child.removeAllListeners("exit")
      resume(Effect.succeed({ url: `ws://127.0.0.1:${line[1]}`, child }))
    })
  }),
  ({ child }) =>
    Effect.async<void>((resume) => {
      if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS)
      child.once("exit", () => {
        clearTimeout(timer)
        resume(Effect.void)
      })
      child.kill("SIGTERM")
    })
).pipe(Effect.map(({ url }) => url))
