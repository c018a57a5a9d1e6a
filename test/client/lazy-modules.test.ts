/**
 * TLS and HTTP/2 are loaded only when a connection needs them, crypto only when a multipart boundary or a Digest
 * answer does, and zlib only when a body needs decoding or a client advertises what it can decode: a program that
 * does not need them does not pay for them in heap (about 1.5 MB in all) or start-up time. Checked in a fresh
 * process, where nothing else loaded them.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { build } from "esbuild"
import { execFile } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

// The fixture runs bundled, under plain node: tsx's loader loads node:crypto itself, which would hide ours.
const dir = mkdtempSync(join(tmpdir(), "httpfx-lazy-"))
const bundle = join(dir, "lazy-check.mjs")

beforeAll(async () => {
  await build({
    entryPoints: ["test/fixtures/lazy-check.ts"],
    outfile: bundle,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    conditions: ["httpfx-source"],
    // Packages bundled from CommonJS still call require() for Node's modules; an ESM file has no require of its own.
    banner: { js: "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);" },
    logLevel: "silent"
  })
}, 60_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

const run = (...args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [bundle, ...args],
      { timeout: 30_000 },
      (error, stdout, stderr) => (error !== null ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout))
    )
  })

describe("Node modules loaded on demand", () => {
  const outcome = async (mode: string) => {
    const result = JSON.parse((await run(mode)).trim().split("\n").pop()!) as {
      readonly status: number
      readonly text: string
      readonly loaded: ReadonlyArray<string>
    }
    expect(result.status).toBe(200)
    expect(result.text).toBe("ok")
    return [...result.loaded].sort()
  }

  it("a Client's plain-HTTP request loads neither node:tls, node:http2 nor node:crypto", async () => {
    // zlib it does load: the client advertises the encodings it can decode, and asks zlib which those are.
    expect(await outcome("get")).toEqual(["NativeModule zlib"])
  }, 40_000)

  it("a multipart upload loads node:crypto for its boundary", async () => {
    expect(await outcome("multipart")).toEqual(["NativeModule crypto", "NativeModule zlib"])
  }, 40_000)

  it("a Pool's plain-HTTP request loads none of them", async () => {
    expect(await outcome("pool")).toEqual([])
  }, 40_000)

  it("a gzip-encoded response loads node:zlib to decode it", async () => {
    expect(await outcome("pool-gzip")).toEqual(["NativeModule zlib"])
  }, 40_000)
})
