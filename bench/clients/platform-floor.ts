// The floor of @effect/platform's HttpClient: `HttpClient.make` over a backend that answers every request at once
// with a canned response, no network. What it costs per request is platform's own machinery (the request built by
// `client.get`, the URL, the client span and its attributes, the trace headers, the AbortController, the response
// registered for collection and wrapped to be interruptible), which every layer providing HttpClient.HttpClient pays
// on top of its transport. Driven by the very program the other platform rows run (platform-common.ts).
//
// The canned response is a minimal HttpClientResponse of our own rather than `HttpClientResponse.fromWeb` over a
// `new Response(…)`: a web Response per request (its Headers, its body stream) would cost more than the machinery
// measured here. It carries the head the bench server sends (platform's span records every response header), and
// every read hands out a fresh copy of the body, as a transport's would.
import { Cookies, Headers, HttpClient, HttpClientResponse, HttpIncomingMessage, UrlParams } from "@effect/platform"
import type { HttpClientError, HttpClientRequest } from "@effect/platform"
import { Effect, Inspectable, Layer, Option, Stream } from "effect"
import { main, variantName } from "./harness.js"
import type { ClientConfig } from "./harness.js"
import { runPlatform } from "./platform-common.js"

class CannedResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly status = 200
  readonly remoteAddress = Option.none<string>()

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    readonly headers: Headers.Headers,
    readonly cookies: Cookies.Cookies,
    private readonly body: Uint8Array
  ) {
    super()
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    return Effect.sync(() => this.body.slice().buffer)
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    return Effect.sync(() => new TextDecoder().decode(this.body))
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.map(this.text, (text) => JSON.parse(text) as unknown)
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.map(this.text, (text) => UrlParams.fromInput(new URLSearchParams(text)))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.die("the canned response has no form data")
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    return Stream.sync(() => this.body.slice())
  }

  toJSON(): unknown {
    return { _id: "CannedResponse", status: this.status }
  }
}

const layer = (config: ClientConfig): Layer.Layer<HttpClient.HttpClient> => {
  if (config.workload.mode !== "loop") {
    throw new Error("n/a: the platform floor answers without a connection, so it runs the request loops only")
  }
  const body = new Uint8Array(config.workload.responseBytes).fill(0x61)
  // What bench/server.ts's node:http answers, field for field.
  const headers = Headers.fromInput({
    "content-type": "application/octet-stream",
    "content-length": String(body.length),
    date: new Date().toUTCString(),
    connection: "keep-alive",
    "keep-alive": "timeout=60"
  })
  const answer = (request: HttpClientRequest.HttpClientRequest) =>
    new CannedResponse(request, headers, Cookies.empty, body)
  return Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make(
      config.variant === "async"
        // The answer on the next turn of the event loop, as a transport's comes: the request's fiber suspends and
        // resumes, and what platform keeps for the request lives across that turn.
        ? (request) => Effect.async((resume) => void setImmediate(() => resume(Effect.succeed(answer(request)))))
        : (request) => Effect.succeed(answer(request))
    )
  )
}

main("platform-floor", (config) => {
  const name = variantName("platform-floor", config, { async: "loop" })
  return runPlatform(name, config, layer(config))
})
