/**
 * The public-suffix list is loaded on the first Domain attribute that needs it: a program whose cookies carry no
 * Domain (or only one of another site, ignored before the list matters) never pays its load time and heap. Checked
 * in a fresh process, where nothing else loaded it.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../..", import.meta.url))

describe("CookieJar public-suffix list loading", () => {
  it("loads tldts on the first Domain attribute of its own site, not at import nor for host-only cookies", async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ["--conditions=httpfx-source", "--import", "tsx", "test/fixtures/cookie-lazy-check.ts"],
        { cwd: root, timeout: 30_000 },
        (error, out, stderr) => (error !== null ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(out))
      )
    )
    expect(JSON.parse(stdout.trim())).toEqual({
      atStart: false,
      afterHostOnly: false,
      afterForeignDomain: false,
      afterOwnDomain: true
    })
  }, 40_000)
})
