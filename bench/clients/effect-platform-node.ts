// @effect/platform's HttpClient on @effect/platform-node, in two flavours
// chosen with --variant: "undici" (NodeHttpClient.layerUndici's transport) and
// "http" (NodeHttpClient.layer's node:http transport).
//
// Both get the same connection limits as the other clients rather than the
// stock layers' defaults: NodeHttpClient.layer builds `new http.Agent()`,
// which does not keep connections alive, so it would measure TCP setup
// instead of the client.
import type { HttpClient } from "@effect/platform"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Agent } from "undici"
import { Effect, Layer } from "effect"
import { main } from "./harness.js"
import type { ClientConfig } from "./harness.js"
import { runPlatform } from "./platform-common.js"

const clientLayer = (config: ClientConfig): Layer.Layer<HttpClient.HttpClient> => {
  switch (config.variant ?? "undici") {
    case "undici":
      return NodeHttpClient.layerUndiciWithoutDispatcher.pipe(
        Layer.provide(
          Layer.scoped(
            NodeHttpClient.Dispatcher,
            Effect.acquireRelease(
              Effect.sync(() => new Agent({ connections: config.concurrency })),
              (agent) => Effect.promise(() => agent.destroy())
            )
          )
        )
      )
    case "http":
      return NodeHttpClient.layerWithoutAgent.pipe(
        Layer.provide(NodeHttpClient.makeAgentLayer({ keepAlive: true, maxSockets: config.concurrency }))
      )
    default:
      throw new Error(`unknown --variant ${config.variant}, expected undici or http`)
  }
}

main("effect-platform-node", (config) => {
  const name = config.variant === "http" ? "effect-platform-node-http" : "effect-platform-node"
  return runPlatform(name, config, clientLayer(config))
})
