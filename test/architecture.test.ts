/**
 * Imports point down (ARCHITECTURE.md): every module of src belongs to a layer, and imports only from its own layer or
 * a lower one, types included; and no module reaches itself through its imports. The layer of a file under
 * src/internal is its folder's name; a public module at the top of src is on the layer it is the face of
 * (PUBLIC_LAYERS).
 */
import { describe, expect, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import ts from "typescript"

const src = path.resolve(import.meta.dirname, "../src")

/** Bottom up. A folder under src/internal/ that is not here fails the test until it is given its place. */
const LAYERS = [
  "core",
  "observability",
  "wire",
  "message",
  "exchange",
  "connection",
  "pool",
  "transport",
  "pipeline",
  "client",
  "platform",
  "concurrency",
  "public"
] as const

/**
 * The public modules at the top of src, each on the layer it is the face of: what that layer and the ones above may
 * use of it. HttpError.ts is at the bottom because every layer raises its errors; Transport.ts declares the Transport
 * type (and its TypeId) that the pipeline and the client hand to user middleware. A public module not listed here is
 * on top, with index.ts.
 */
const PUBLIC_LAYERS: Readonly<Record<string, Layer>> = {
  "HttpError.ts": "core",
  "Response.ts": "message",
  "Pool.ts": "pool",
  "Transport.ts": "transport",
  "Auth.ts": "pipeline",
  "Client.ts": "client",
  "Platform.ts": "platform",
  "Concurrent.ts": "concurrency",
  "Nursery.ts": "concurrency"
}

type Layer = typeof LAYERS[number]

const rank = (layer: Layer): number => LAYERS.indexOf(layer)

/** A module's place, or why it has none. */
const layerOf = (file: string): Layer | string => {
  const parts = path.relative(src, file).split(path.sep)
  if (parts.length === 1) return PUBLIC_LAYERS[parts[0]!] ?? "public"
  if (parts[0] !== "internal" || parts.length !== 3) {
    return `${path.relative(src, file)} is not in a layer folder: put it in one of src/internal/{${
      LAYERS.filter((l) => l !== "public").join(",")
    }}/`
  }
  const folder = parts[1]!
  return (LAYERS as ReadonlyArray<string>).includes(folder) && folder !== "public"
    ? folder as Layer
    : `src/internal/${folder}/ is not a known layer: add "${folder}" to LAYERS in test/architecture.test.ts, in its ` +
      `place bottom up, and to ARCHITECTURE.md`
}

const sourceFiles = (dir: string): Array<string> =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name)
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith(".ts") ? [full] : []
  })

interface Import {
  readonly from: string
  readonly to: string
  /** the line of the import, for the message */
  readonly line: number
}

/**
 * Every relative module a file names: `import` and `export … from` (type-only included), `import("…")` in types and
 * in code. Read from the syntax tree, so a multi-line import or one in a comment counts as it should.
 */
const importsOf = (file: string): Array<Import> => {
  const text = fs.readFileSync(file, "utf8")
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true)
  const found: Array<Import> = []
  const add = (specifier: ts.Node | undefined) => {
    if (specifier === undefined || !ts.isStringLiteralLike(specifier) || !specifier.text.startsWith(".")) return
    const to = path.resolve(path.dirname(file), specifier.text).replace(/\.js$/, ".ts")
    found.push({ from: file, to, line: source.getLineAndCharacterOfPosition(specifier.getStart()).line + 1 })
  }
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier)
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal)
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0])
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

const relative = (file: string) => path.relative(src, file)

/** Each circle once, as a path that starts and ends at the same module: one per module that is on one. */
const circles = (graph: ReadonlyMap<string, ReadonlyArray<string>>): Array<string> => {
  const found = new Set<string>()
  for (const start of graph.keys()) {
    // The shortest way back to `start`, breadth first.
    const cameFrom = new Map<string, string>()
    const queue = [start]
    let closing: string | undefined
    for (let i = 0; i < queue.length && closing === undefined; i++) {
      for (const next of graph.get(queue[i]!) ?? []) {
        if (next === start) {
          closing = queue[i]
          break
        }
        if (!cameFrom.has(next)) {
          cameFrom.set(next, queue[i]!)
          queue.push(next)
        }
      }
    }
    if (closing === undefined) continue
    const cycle = [closing]
    while (cycle[0] !== start) cycle.unshift(cameFrom.get(cycle[0]!)!)
    // The same circle found from each of its modules is printed once, from its first module in name order.
    const first = cycle.indexOf([...cycle].sort()[0]!)
    const rotated = [...cycle.slice(first), ...cycle.slice(0, first)]
    found.add([...rotated, rotated[0]!].map(relative).join(" → "))
  }
  return [...found].sort()
}

describe("architecture", () => {
  const files = sourceFiles(src)
  const imports = files.flatMap(importsOf)

  it("every module of src/internal is in a known layer folder", () => {
    expect(files.map(layerOf).filter((layer) => !(LAYERS as ReadonlyArray<string>).includes(layer))).toEqual([])
  })

  it("imports point down: to the same layer or a lower one, types included", () => {
    const upward = imports.flatMap(({ from, line, to }) => {
      const [a, b] = [layerOf(from), layerOf(to)]
      if (!fs.existsSync(to) || typeof a !== "string" || typeof b !== "string") return []
      if (!(LAYERS as ReadonlyArray<string>).includes(a) || !(LAYERS as ReadonlyArray<string>).includes(b)) return []
      return rank(b as Layer) > rank(a as Layer) ? [`${relative(from)}:${line} (${a}) imports ${relative(to)} (${b})`] : []
    })
    expect(upward).toEqual([])
  })

  it("no module imports itself through others, types included", () => {
    const graph = new Map<string, Array<string>>(files.map((file) => [file, []]))
    for (const { from, to } of imports) if (graph.has(to)) graph.get(from)!.push(to)
    expect(circles(graph)).toEqual([])
  })

  it("every import names a module that exists", () => {
    expect(imports.filter(({ to }) => !fs.existsSync(to)).map(({ from, line, to }) =>
      `${relative(from)}:${line} imports ${relative(to)}`
    )).toEqual([])
  })
})
