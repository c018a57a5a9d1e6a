/**
 * examples/websocket.ts runs as a user would run it, in a child Node process: it prints the echoes and ends by itself
 * (no socket or timer of the WebSocket's is left holding the event loop).
 */
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

it.live("examples/websocket.ts prints its echoes and exits by itself", () =>
  Effect.async<{ code: number | null; stdout: string; stderr: string }>((resume) => {
    const child = spawn(process.execPath, ["--conditions=httpfx-source", "--import", "tsx", "examples/websocket.ts"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (data) => stdout += data)
    child.stderr.on("data", (data) => stderr += data)
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000)
    child.on("exit", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(Effect.map(({ code, stdout, stderr }) => {
    expect(stderr).toBe("")
    expect(code).toBe(0)
    expect(stdout).toBe(
      'connected, subprotocol "echo"\ntext: hello\ntext: héllo wörld\nbytes: 1,2,3\nclosed\n'
    )
  })), 30_000)
