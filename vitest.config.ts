import { defaultServerConditions } from "vite"
import { defineConfig } from "vitest/config"

export default defineConfig({
  // Resolve `httpfx` to the TypeScript sources, so tests and examples need no build. Tests run in Vite's server
  // environment, which takes its conditions from `ssr.resolve`, not `resolve`.
  resolve: { conditions: ["httpfx-source"] },
  ssr: { resolve: { conditions: ["httpfx-source", ...defaultServerConditions] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Tests open real loopback servers; separate processes keep each file's sockets to itself.
    pool: "forks"
  }
})
