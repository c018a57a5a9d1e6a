// @effect/platform's HttpClient on @effect/platform-node, in two flavours
// chosen with --variant: "undici" (NodeHttpClient.layerUndici's transport) and
// "http" (NodeHttpClient.layer's node:http transport).
//
// Both get the same connection limits as the other clients rather than the
// stock layers' defaults: NodeHttpClient.layer builds `new http.Agent()`,
// which does not keep connections alive, so it would measure TCP setup
// instead of the client.
import { HttpBody, HttpClient } from "@effect/platform"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Agent } from "undici"
import { Effect, Layer } from "effect"
import { checkResponse, main, measureEffect } from "./harness.js"
import type { ClientConfig } from "./harness.js"

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
  const url = config.url.href
  const body = HttpBody.uint8Array(config.payload, "application/octet-stream")
  const program = Effect.gen(function*() {
    // Resolved once, as a service would; the loop then measures the client
    // itself rather than a context lookup per request.
    const client = yield* HttpClient.HttpClient
    // No Effect.scoped here: since @effect/platform 0.7x a response does not
    // need a Scope; its connection is released once the body has been read.
    const post = config.workload.method === "POST"
    const send = () =>
      Effect.flatMap(post ? client.post(url, { body }) : client.get(url), (response) =>
        Effect.flatMap(response.arrayBuffer, (content) =>
          Effect.sync(() => checkResponse(config, response.status, content.byteLength))))
    return yield* measureEffect(name, config, send)
  })
  return Effect.runPromise(program.pipe(Effect.provide(clientLayer(config))))
})
