/**
 * The published declarations name only public types: hovering over `Client.Options` shows its fields, not an alias
 * of `internal.ClientOptions`. The declarations are built in memory from tsconfig.build.json, as `npm run build`
 * builds them.
 */
import { describe, expect, it } from "@effect/vitest"
import * as path from "node:path"
import ts from "typescript"

const root = path.resolve(import.meta.dirname, "../..")

/** The top-level .d.ts files `tsc -p tsconfig.build.json` would write, by file name. */
const buildDeclarations = (): Map<string, string> => {
  const configPath = path.join(root, "tsconfig.build.json")
  const config = ts.readConfigFile(configPath, ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root)
  const program = ts.createProgram({
    rootNames: parsed.fileNames,
    // noCheck: the declarations only, as fast as they come; `npm run typecheck` checks the types.
    options: {
      ...parsed.options,
      noEmit: false,
      noCheck: true,
      emitDeclarationOnly: true,
      declarationMap: false,
      sourceMap: false
    }
  })
  const files = new Map<string, string>()
  const result = program.emit(undefined, (fileName, text) => {
    const relative = path.relative(parsed.options.outDir!, fileName)
    if (relative.endsWith(".d.ts") && !relative.includes(path.sep)) files.set(relative, text)
  })
  expect(result.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))).toEqual([])
  return files
}

describe("declarations", () => {
  it("no top-level declaration file refers to an internal module's namespace", () => {
    const files = buildDeclarations()
    expect([...files.keys()].sort()).toEqual(expect.arrayContaining(["Client.d.ts", "index.d.ts", "Response.d.ts"]))
    const leaks = [...files].flatMap(([name, text]) =>
      text.split("\n").filter((line) => /\binternal\./.test(line)).map((line) => `${name}: ${line.trim()}`)
    )
    expect(leaks).toEqual([])
    // The models are declared where users find them, with their fields.
    expect(files.get("Client.d.ts")).toMatch(/export interface Options extends Pool\.Options \{[^}]*baseUrl\?/)
    expect(files.get("Transport.d.ts")).toContain("export declare const TypeId: unique symbol;")
    expect(files.get("Nursery.d.ts")).toContain("export declare const ChildTypeId: unique symbol;")
  }, 60_000)
})
