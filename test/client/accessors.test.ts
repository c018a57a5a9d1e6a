/**
 * The module accessors (`Client.get`, `Client.send` …): each takes the client from the context and does what the
 * method of the same name does, against a loopback server that echoes what it saw.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"
import { Client } from "httpfx"
import { httpServer } from "../utils/servers.js"

/** Answers every request with "METHOD /path body" (HEAD gets the head only). */
const echoServer = () =>
  httpServer((req, res) => {
    const parts: Array<Buffer> = []
    req.on("data", (part: Buffer) => parts.push(part))
    req.on("end", () => {
      res.setHeader("content-type", "text/plain")
      res.end(`${req.method} ${req.url} ${Buffer.concat(parts).toString("utf8")}`)
    })
  })

const withClient = <A, E, R>(baseUrl: string, body: Effect.Effect<A, E, R>) =>
  Effect.provide(body, Layer.orDie(Client.layer({ baseUrl })))

describe("Client accessors", () => {
  it.scopedLive("get, head, options, delete, post, put, patch and request send their method to the base URL", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const texts = yield* withClient(
        server.url,
        Effect.all([
          Client.get("/a"),
          Client.options("/b"),
          Client.delete("/c"),
          Client.post("/d", { content: "dd" }),
          Client.put("/e", { content: "ee" }),
          Client.patch("/f", { content: "ff" }),
          Client.request("PROPFIND", "/g")
        ]).pipe(Effect.map((responses) => responses.map((response) => response.text)))
      )
      expect(texts).toEqual([
        "GET /a ",
        "OPTIONS /b ",
        "DELETE /c ",
        "POST /d dd",
        "PUT /e ee",
        "PATCH /f ff",
        "PROPFIND /g "
      ])
      const head = yield* withClient(server.url, Client.head("/h"))
      expect(head.request.method).toBe("HEAD")
      expect(head.status).toBe(200)
      expect(head.content.length).toBe(0)
    }))

  it.scopedLive("stream returns a streaming response whose body belongs to the caller's scope", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const text = yield* withClient(
        server.url,
        Effect.scoped(
          Effect.flatMap(
            Client.stream("POST", "/s", { content: Stream.make(new TextEncoder().encode("streamed")) }),
            (response) => Stream.mkString(response.text)
          )
        )
      )
      expect(text).toBe("POST /s streamed")
    }))

  it.scopedLive("buildRequest merges the client's defaults, and send sends it buffered or streaming", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const [request, buffered, streamed] = yield* withClient(
        server.url,
        Effect.gen(function*() {
          const request = yield* Client.buildRequest("PUT", "/built", { params: { q: 1 }, content: "x" })
          const buffered = yield* Client.send(request)
          const streamed = yield* Effect.scoped(
            Effect.flatMap(Client.send(request, { stream: true }), (response) => Stream.mkString(response.text))
          )
          return [request, buffered, streamed] as const
        })
      )
      expect(request.url).toBe(`${server.url}/built?q=1`)
      expect(buffered.text).toBe("PUT /built?q=1 x")
      expect(streamed).toBe("PUT /built?q=1 x")
    }))

  it.scopedLive("pool lists the connections of the client from the context", () =>
    Effect.gen(function*() {
      const server = yield* echoServer()
      const connections = yield* withClient(
        server.url,
        Effect.zipRight(Client.get("/"), Client.pool)
      )
      expect(connections.map((connection) => connection.origin)).toEqual([server.url])
    }))
})
