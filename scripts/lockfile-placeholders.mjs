// Some npm registries mirror only the native binaries of one platform. npm then leaves the other platforms'
// optional packages (esbuild's, rollup's …) out of package-lock.json, and `npm ci` rejects the lockfile as out of
// sync. This adds a placeholder entry, marked optional, for each such package, so `npm ci` validates the lockfile
// and skips what it cannot fetch. Run it after every `npm install` that changes dependencies:
//   npm install && node scripts/lockfile-placeholders.mjs
import fs from "node:fs"

const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"))
const packages = lock.packages
let added = 0
for (const [path, meta] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(meta.optionalDependencies ?? {})) {
    if (packages[`node_modules/${name}`] !== undefined || packages[`${path}/node_modules/${name}`] !== undefined) continue
    packages[`node_modules/${name}`] = { version: range.replace(/^[\^~=]+/, ""), dev: meta.dev, optional: true }
    added++
  }
}
fs.writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n")
console.log(`lockfile: ${added} optional placeholder${added === 1 ? "" : "s"} added`)
