/**
 * The package as users get it: `npm pack` (which builds dist/ on prepack) into a temporary directory, the tarball
 * installed into a fresh app next to effect and @effect/platform, a program type-checked there under the node16,
 * nodenext and bundler module resolutions, and run on this Node against a loopback server.
 *
 * Nothing here uses the network. The app installs with `npm ci --offline` from a lockfile written here: the entries
 * of this repository's package-lock.json for what the app needs (same versions, same integrity hashes), whose
 * tarballs `npm ci` left in npm's cache. A plain `npm install --offline effect` would need the registry's package
 * documents, which `npm ci` never downloads.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"

const root = fileURLToPath(new URL("../..", import.meta.url))
const fixture = fileURLToPath(new URL("../fixtures/package-app/main.ts", import.meta.url))
const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc")

// The build and three type-checks of effect's declarations cost about 70 s of CPU: some 40 s on two idle cores, and
// four minutes seen on a machine shared with several other suites.
const SLOW = 600_000

interface Manifest {
  readonly name: string
  readonly version: string
  readonly license?: string
  readonly engines?: Record<string, string>
  readonly sideEffects?: boolean
  readonly exports?: Record<string, unknown>
  readonly dependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
}

interface LockEntry {
  readonly version?: string
  readonly dependencies?: Record<string, string>
  readonly optionalDependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
  readonly [field: string]: unknown
}

interface PackResult {
  readonly filename: string
  readonly integrity: string
  readonly size: number
  readonly entryCount: number
  readonly files: ReadonlyArray<{ readonly path: string }>
}

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

// The variables `npm test` sets for its script would point a nested npm at this repository.
const NPM_SCRIPT_VARIABLES =
  /^(npm_(lifecycle|package|command|execpath|node_execpath)|npm_config_(local_prefix|prefix|call)$|INIT_CWD$)/i
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !NPM_SCRIPT_VARIABLES.test(name)))

/** Run a command to its end (bounded by `SLOW`); a non-zero exit is a result, not a rejection. */
const run = (command: string, args: ReadonlyArray<string>, cwd: string): Promise<Run> =>
  new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, env: childEnv, timeout: SLOW, maxBuffer: 64 * 1024 * 1024, shell: process.platform === "win32" },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== "number") {
          reject(new Error(`${command} ${args.join(" ")}: ${error.message}`))
        } else resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr })
      }
    )
  })

const described = (what: string, result: Run) =>
  `${what} exited with ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`

const readJson = <A>(file: string): A => JSON.parse(fs.readFileSync(file, "utf8")) as A

/** `name` as Node finds it from the package at `from` in a lockfile's `packages` (nearest node_modules upwards). */
const resolveLocked = (packages: Record<string, LockEntry>, from: string, name: string): string | undefined => {
  for (let dir = from;;) {
    const candidate = dir === "" ? `node_modules/${name}` : `${dir}/node_modules/${name}`
    if (packages[candidate] !== undefined) return candidate
    if (dir === "") return undefined
    const parent = dir.lastIndexOf("/node_modules/")
    dir = parent === -1 ? "" : dir.slice(0, parent)
  }
}

/** The repository's lock entries for `names` and everything they depend on, as a user's install would lay them out. */
const lockedClosure = (packages: Record<string, LockEntry>, names: ReadonlyArray<string>) => {
  const closure: Record<string, LockEntry> = {}
  const queue = names.map((name) => {
    const found = resolveLocked(packages, "", name)
    if (found === undefined) throw new Error(`package-lock.json has no entry for ${name}: run npm ci`)
    return found
  })
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
    if (closure[next] !== undefined) continue
    // In the app these are production dependencies, not dev ones or peers of something else.
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = packages[next]!
    closure[next] = entry
    const needs = { ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies }
    for (const name of Object.keys(needs)) {
      const found = resolveLocked(packages, next, name)
      if (found !== undefined) queue.push(found)
    }
  }
  return closure
}

const MODULE_SETTINGS = {
  node16: { module: "node16", moduleResolution: "node16" },
  nodenext: { module: "nodenext", moduleResolution: "nodenext" },
  bundler: { module: "esnext", moduleResolution: "bundler" }
} as const
type Resolution = keyof typeof MODULE_SETTINGS

/**
 * A strict tsconfig for the app. skipLibCheck is off, so httpfx's declarations (and effect's) are checked too, and
 * an import in them that does not resolve under this mode is an error rather than a silent `any`. The nodenext one
 * also emits the JavaScript that is run.
 */
const writeTsconfig = (app: string, resolution: Resolution): string => {
  const file = path.join(app, `tsconfig.${resolution}.json`)
  const emit = resolution === "nodenext" ? { outDir: "out" } : { noEmit: true }
  const compilerOptions = {
    ...MODULE_SETTINGS[resolution],
    target: "es2022",
    strict: true,
    skipLibCheck: false,
    types: ["node"],
    ...emit
  }
  fs.writeFileSync(file, JSON.stringify({ compilerOptions, files: ["main.ts"] }, null, 2))
  return file
}

const work = fs.mkdtempSync(path.join(tmpdir(), "httpfx-pack-"))
const app = path.join(work, "app")
const manifest = readJson<Manifest>(path.join(root, "package.json"))
const installed = path.join(app, "node_modules", "httpfx")

// The loopback server the program talks to: it counts what it was asked.
const hits = new Map<string, number>()
const server = http.createServer((request, response) => {
  hits.set(request.url ?? "", (hits.get(request.url ?? "") ?? 0) + 1)
  if (request.url === "/hello") response.end("hello from loopback")
  else response.writeHead(404).end("no such page")
})

let packed: PackResult
let checks: Record<Resolution, Promise<Run>>

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))

  const pack = await run("npm", ["pack", "--json", "--offline", "--pack-destination", work], root)
  if (pack.code !== 0) throw new Error(described("npm pack", pack))
  // Lifecycle output goes to stderr under --json; stdout is the report alone.
  packed = (JSON.parse(pack.stdout) as ReadonlyArray<PackResult>)[0]!

  const lock = readJson<{ packages: Record<string, LockEntry> }>(path.join(root, "package-lock.json"))
  const direct = ["effect", "@effect/platform", "@types/node"]
  const dependencies: Record<string, string> = { httpfx: `file:../${packed.filename}` }
  for (const name of direct) dependencies[name] = lock.packages[`node_modules/${name}`]!.version!
  const appManifest = { name: "httpfx-pack-check", version: "1.0.0", private: true, type: "module", dependencies }
  const appLock = {
    name: appManifest.name,
    version: appManifest.version,
    lockfileVersion: 3,
    requires: true,
    packages: {
      "": { name: appManifest.name, version: appManifest.version, dependencies },
      "node_modules/httpfx": {
        version: manifest.version,
        resolved: `file:../${packed.filename}`,
        integrity: packed.integrity,
        license: manifest.license,
        dependencies: manifest.dependencies,
        peerDependencies: manifest.peerDependencies,
        engines: manifest.engines
      },
      ...lockedClosure(lock.packages, [...direct, ...Object.keys(manifest.dependencies ?? {})])
    }
  }
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify(appManifest, null, 2))
  fs.writeFileSync(path.join(app, "package-lock.json"), JSON.stringify(appLock, null, 2))
  fs.copyFileSync(fixture, path.join(app, "main.ts"))

  // No install scripts: httpfx has none, and msgpackr's native add-on (an optional speed-up) is not what is tested.
  const install = await run("npm", ["ci", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"], app)
  if (install.code !== 0) {
    throw new Error(
      `${described("npm ci --offline in the test app", install)}\n` +
        "The app installs from npm's cache only. ENOTCACHED means a tarball of the lockfile is not there: " +
        "run `npm ci` in the repository (it fills the cache), then run this test again."
    )
  }

  // The three type-checks run at once; each test awaits its own.
  checks = {
    node16: run(process.execPath, [tsc, "-p", writeTsconfig(app, "node16")], app),
    nodenext: run(process.execPath, [tsc, "-p", writeTsconfig(app, "nodenext")], app),
    bundler: run(process.execPath, [tsc, "-p", writeTsconfig(app, "bundler")], app)
  }
  await Promise.all(Object.values(checks))
}, SLOW)

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
  fs.rmSync(work, { recursive: true, force: true })
})

/** Every file under `dir`, as paths relative to it with forward slashes. */
const filesUnder = (dir: string): Array<string> =>
  (fs.readdirSync(dir, { recursive: true, encoding: "utf8" }))
    .map((file) => file.split(path.sep).join("/"))
    .filter((file) => fs.statSync(path.join(dir, file)).isFile())

/** The modules a compiled file loads: static and dynamic imports, import types, and createRequire calls. */
const importsOf = (file: string): Array<string> => {
  const text = fs.readFileSync(file, "utf8")
  const imports = ts.preProcessFile(text, true, true).importedFiles.map((ref) => ref.fileName)
  // builtins.ts and cookieJar.ts load some modules lazily through createRequire: `load("tldts")`.
  for (const match of text.matchAll(/\bload\("([^"]+)"\)/g)) imports.push(match[1]!)
  return imports
}

/** The package a bare specifier names: "effect" for "effect/Stream", "@effect/platform" for its subpaths. */
const packageOf = (specifier: string): string =>
  specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/")

describe("the packed package", () => {
  it("holds the compiled entry, its declarations and maps, the sources they map to, and no tests or benchmarks", () => {
    const files = packed.files.map((file) => file.path)
    expect(files).toEqual(
      expect.arrayContaining([
        "package.json",
        "README.md",
        "dist/index.js",
        "dist/index.js.map",
        "dist/index.d.ts",
        "dist/index.d.ts.map",
        "dist/Client.js",
        "dist/Client.d.ts",
        "src/index.ts"
      ])
    )
    expect(files.filter((file) => /^(test|bench|examples|scripts|scratch|\.ci|\.changeset)\//.test(file))).toEqual([])
    expect(files.filter((file) => /^tsconfig|vitest|\.tsbuildinfo$|\.tgz$/.test(file))).toEqual([])
  })

  it("declares ESM with types first, no side effects and Node 20 or newer", () => {
    const shipped = readJson<Manifest>(path.join(installed, "package.json"))
    const entry = shipped.exports?.["."] as Record<string, string>
    // `httpfx-source` (the TypeScript sources, for this repository's own tests and scripts) may come before `types`:
    // no tool sets that condition unless asked to.
    const conditions = Object.keys(entry).filter((condition) => condition !== "httpfx-source")
    expect(conditions).toEqual(["types", "import", "default"])
    expect(entry["types"]).toBe("./dist/index.d.ts")
    expect(entry["import"]).toBe("./dist/index.js")
    for (const target of Object.values(entry)) expect(fs.existsSync(path.join(installed, target))).toBe(true)
    expect(shipped.sideEffects).toBe(false)
    expect(shipped.engines).toEqual({ node: ">=20" })
    expect(Object.keys(shipped.peerDependencies ?? {}).sort()).toEqual(["@effect/platform", "effect"])
  })

  it("compiled files load only Node built-ins, their own files and declared dependencies, never a .ts file", () => {
    const allowed = new Set(Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies }))
    const dist = path.join(installed, "dist")
    const offending: Array<string> = []
    for (const file of filesUnder(dist).filter((name) => /\.(js|d\.ts)$/.test(name))) {
      for (const specifier of importsOf(path.join(dist, file))) {
        const ok = specifier.startsWith(".")
          ? /\.js$/.test(specifier) && fs.existsSync(path.resolve(path.dirname(path.join(dist, file)), specifier))
          : specifier.startsWith("node:") || allowed.has(packageOf(specifier))
        if (!ok) offending.push(`${file}: ${specifier}`)
      }
    }
    expect(offending).toEqual([])
  })

  it("every source map and declaration map points at a source file in the package", () => {
    const dist = path.join(installed, "dist")
    const maps = filesUnder(dist).filter((name) => name.endsWith(".map"))
    expect(maps.length).toBeGreaterThan(0)
    const missing: Array<string> = []
    for (const map of maps) {
      const { sourceRoot = "", sources } = readJson<{ sourceRoot?: string; sources: ReadonlyArray<string> }>(
        path.join(dist, map)
      )
      for (const source of sources) {
        const target = path.resolve(path.dirname(path.join(dist, map)), sourceRoot, source)
        if (!target.startsWith(path.join(installed, "src") + path.sep) || !fs.existsSync(target)) {
          missing.push(`${map}: ${source}`)
        }
      }
    }
    expect(missing).toEqual([])
  })

  for (const resolution of Object.keys(MODULE_SETTINGS) as Array<Resolution>) {
    it(`a program importing it type-checks in a fresh app under moduleResolution ${resolution}`, async () => {
      const check = await checks[resolution]
      expect(check.code, described(`tsc (${resolution})`, check)).toBe(0)
    }, SLOW)
  }

  it("runs on this Node and reaches the loopback server via Client, Platform, Pool and Nursery", async () => {
    expect((await checks.nodenext).code, "the nodenext type-check, which emits the program, failed").toBe(0)
    const { port } = server.address() as AddressInfo
    const result = await run(process.execPath, [path.join(app, "out", "main.js"), `http://127.0.0.1:${port}`], app)
    expect(result.code, described("the program", result)).toBe(0)
    expect(result.stdout.trim().split("\n")).toEqual([
      "client: 200 hello from loopback",
      "platform: 200 hello from loopback",
      "pool: 200 hello from loopback",
      "status error: HttpStatusError 404",
      // The public-suffix list (tldts, a dependency required on first use) was found from the installed package.
      "cookies: kept=1",
      "nursery: 200 hello from loopback, 200 hello from loopback"
    ])
    expect(Object.fromEntries(hits)).toEqual({ "/hello": 5, "/missing": 1 })
  }, SLOW)

  it("npm publish --dry-run accepts it", async () => {
    // --offline: npm 11 would otherwise ask the registry whether this version exists (and wait on a machine without
    // network). --ignore-scripts: dist/ was built by the pack above.
    const publish = await run("npm", ["publish", "--dry-run", "--ignore-scripts", "--offline"], root)
    expect(publish.code, described("npm publish --dry-run", publish)).toBe(0)
    expect(publish.stdout + publish.stderr).toContain(`+ ${manifest.name}@${manifest.version}`)
  }, SLOW)
})

describe("the public declarations", () => {
  /** Names bound to a namespace import of one of the package's internal modules. */
  const internalNamespaces = (source: ts.SourceFile): Set<string> => {
    const names = new Set<string>()
    for (const statement of source.statements) {
      if (!ts.isImportDeclaration(statement) || !ts.isStringLiteral(statement.moduleSpecifier)) continue
      const bindings = statement.importClause?.namedBindings
      if (statement.moduleSpecifier.text.startsWith("./internal/") && bindings && ts.isNamespaceImport(bindings)) {
        names.add(bindings.name.text)
      }
    }
    return names
  }

  it("name no internal.* type, so what an editor shows on hover is a public name", () => {
    const dist = path.join(installed, "dist")
    const found: Array<string> = []
    for (const file of fs.readdirSync(dist).filter((name) => name.endsWith(".d.ts"))) {
      const source = ts.createSourceFile(file, fs.readFileSync(path.join(dist, file), "utf8"), ts.ScriptTarget.Latest)
      const namespaces = internalNamespaces(source)
      const visit = (node: ts.Node): void => {
        const qualifier = ts.isQualifiedName(node)
          ? node.left
          : ts.isPropertyAccessExpression(node)
          ? node.expression
          : undefined
        const internal = qualifier && ts.isIdentifier(qualifier) &&
          (namespaces.has(qualifier.text) || qualifier.text === "internal")
        if (internal) {
          const { line } = source.getLineAndCharacterOfPosition(node.getStart(source))
          found.push(`${file}:${line + 1}: ${node.getText(source)}`)
        }
        const imported = ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) &&
          ts.isStringLiteral(node.argument.literal) && node.argument.literal.text
        if (imported && imported.startsWith("./internal/")) found.push(`${file}: ${node.getText(source)}`)
        ts.forEachChild(node, visit)
      }
      visit(source)
    }
    expect(found).toEqual([])
  })
})
