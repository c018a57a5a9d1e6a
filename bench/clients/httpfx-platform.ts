// @effect/platform's HttpClient API on httpfx's engine: Platform.layer(options)
// provides HttpClient.HttpClient, and the application code is the very code
// the @effect/platform-node clients run (platform-common.ts).
import { Layer } from "effect"
import { Platform } from "../../src/index.js"
import { main } from "./harness.js"
import { runPlatform } from "./platform-common.js"

main("httpfx-platform", (config) =>
  runPlatform(
    "httpfx-platform",
    config,
    Layer.orDie(Platform.layer({
      maxConnections: config.concurrency,
      maxKeepaliveConnections: config.concurrency,
      // A burst queues 10,000 requests for 100 connections: waiting longer
      // than the default 5 s pool timeout is the point there, not a failure.
      ...(config.workload.mode === "burst" ? { timeout: { pool: null } } : {})
    }))
  ))
