/**
 * Real proxy servers for interop tests (tinyproxy, microsocks), started on a free loopback port and stopped with
 * the scope. Missing binaries are reported, never silently passed over.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export const which = (binary: string): string | undefined => {
  try {
    return execFileSync("sh", ["-c", `command -v ${binary}`], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const waitForPort = (port: number, timeoutMs: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const started = Date.now()
    const attempt = () => {
      const socket = net.connect({ host: "127.0.0.1", port })
      socket.once("connect", () => {
        socket.destroy()
        resolve()
      })
      socket.once("error", () => {
        socket.destroy()
        if (Date.now() - started > timeoutMs) reject(new Error(`nothing listens on 127.0.0.1:${port}`))
        else setTimeout(attempt, 50)
      })
    }
    attempt()
  })

interface RunningProxy {
  readonly port: number
  readonly url: string
}

const run = (binary: string, args: (port: number, dir: string) => Array<string>, scheme: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "httpfx-proxy-"))
      const port = await freePort()
      const child = spawn(binary, args(port, dir), { stdio: ["ignore", "ignore", "pipe"] })
      let stderr = ""
      child.stderr!.on("data", (data) => stderr += data)
      await waitForPort(port, 5_000).catch((error) => {
        child.kill("SIGKILL")
        throw new Error(`${binary} did not start: ${error.message}; ${stderr}`)
      })
      return { port, url: `${scheme}://127.0.0.1:${port}`, child, dir }
    }),
    ({ child, dir }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => child.kill("SIGKILL"), 2_000)
          child.once("exit", () => {
            clearTimeout(timer)
            fs.rmSync(dir, { recursive: true, force: true })
            resolve()
          })
          child.kill("SIGTERM")
        })
      )
  ).pipe(Effect.map(({ port, url }): RunningProxy => ({ port, url })))

/** tinyproxy in the foreground on loopback; `auth` turns on BasicAuth. */
export const tinyproxy = (auth?: { readonly user: string; readonly password: string }) =>
  run(
    "tinyproxy",
    (port, dir) => {
      const conf = path.join(dir, "tinyproxy.conf")
      fs.writeFileSync(
        conf,
        [
          `Port ${port}`,
          "Listen 127.0.0.1",
          "Timeout 30",
          "Allow 127.0.0.1",
          "MaxClients 50",
          "LogLevel Critical",
          // No ConnectPort lines: CONNECT may reach any port (our test servers use ephemeral ones).
          ...(auth ? [`BasicAuth ${auth.user} ${auth.password}`] : []),
          ...(process.getuid?.() === 0 ? ["User nobody", "Group nogroup"] : [])
        ].join("\n") + "\n"
      )
      return ["-d", "-c", conf]
    },
    "http"
  )

/** microsocks on loopback; `auth` requires a username and password. */
export const microsocks = (auth?: { readonly user: string; readonly password: string }) =>
  run(
    "microsocks",
    (port) => ["-i", "127.0.0.1", "-p", String(port), ...(auth ? ["-u", auth.user, "-P", auth.password] : [])],
    "socks5"
  )

/** A loud line in the test output when a real peer is missing: the tests that need it are skipped, not passed. */
export const reportMissing = (what: string, install: string): void => {
  console.warn(
    `\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n` +
      `!! ${what} is not installed: its interop tests are SKIPPED (${install})\n` +
      `!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n`
  )
}
