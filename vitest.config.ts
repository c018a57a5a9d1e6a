import { defineConfig } from "vitest/config"

export default defineConfig({
  // Resolve `httpfx` to the TypeScript sources, so tests and examples need no build.
  resolve: { conditions: ["source"] },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Tests open real loopback servers; threads keep each file's sockets to itself.
    pool: "forks",
    reporters: ["default"]
  }
})
