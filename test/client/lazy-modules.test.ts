/**
 * TLS and HTTP/2 are loaded only when a connection needs them: a program that speaks plain HTTP/1.1 does not pay
 * for them in heap (about 1 MB) or start-up time. Checked in a fresh process, where nothing else loaded them.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"

const run = (): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--conditions=source", "--import", "tsx", "test/fixtures/lazy-check.ts"],
      { timeout: 30_000 },
      (error, stdout, stderr) => (error !== null ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout))
    )
  })

describe("Client: modules loaded on demand", () => {
  it("a plain-HTTP request loads neither node:tls nor node:http2", async () => {
    const result = JSON.parse((await run()).trim().split("\n").pop()!) as {
      readonly status: number
      readonly loaded: ReadonlyArray<string>
    }
    expect(result.status).toBe(200)
    expect(result.loaded).toEqual([])
  }, 40_000)
})
