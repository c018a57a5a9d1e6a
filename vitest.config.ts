import { defaultServerConditions } from "vite"
import { defineConfig } from "vitest/config"

export default defineConfig({
  // Resolve `httpfx` to the TypeScript sources, so tests and examples need no build. Tests run in Vite's server
  // environment, which takes its conditions from `ssr.resolve`, not `resolve`.
  resolve: { conditions: ["httpfx-source"] },
  // Vitest also hands these conditions to the test processes' Node, which must not take "module": Node never does
  // by itself, and @opentelemetry/api's "module" build has extensionless imports that only a bundler resolves.
  ssr: { resolve: { conditions: ["httpfx-source", ...defaultServerConditions.filter((c) => c !== "module")] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Tests open real loopback servers; separate processes keep each file's sockets to itself.
    pool: "forks"
  }
})
