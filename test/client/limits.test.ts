/**
 * A request's own `limits` through the client, on each of its paths (the direct one of a plain client, the full one
 * of a client with features, and streaming): they reach the pool, over the client's own, and bad ones are refused;
 * so is a request's own timeout that is not a duration.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { Client } from "httpfx"
import { httpServer } from "../utils/servers.js"

const body = Buffer.alloc(4096, 120)
const server = httpServer((_request, response) => {
  response.setHeader("content-length", body.length)
  response.end(body)
})

describe("a request's own limits through the client", () => {
  for (const features of [{}, { followRedirects: true }]) {
    const path = "followRedirects" in features ? "the full path" : "the direct path"

    it.scoped(`a buffered request's maxBodySize is enforced on ${path}`, () =>
      Effect.gen(function*() {
        const { url } = yield* server
        const client = yield* Client.make({ ...features, trustEnv: false })
        const error = yield* Effect.flip(client.get(url, { limits: { maxBodySize: 1024 } }))
        expect(error._tag).toBe("ResponseTooLarge")
        expect((yield* client.get(url)).content.length).toBe(body.length)
      }))

    it.scoped(`a streamed request's maxBodySize is enforced on ${path}`, () =>
      Effect.gen(function*() {
        const { url } = yield* server
        const client = yield* Client.make({ ...features, trustEnv: false })
        const error = yield* Effect.flip(
          Effect.scoped(Effect.flatMap(client.stream("GET", url, { limits: { maxBodySize: 1024 } }), (response) =>
            Stream.runDrain(response.stream)))
        )
        expect(error._tag).toBe("ResponseTooLarge")
      }))
  }

  it.scoped("a request's limit replaces the client's", () =>
    Effect.gen(function*() {
      const { url } = yield* server
      const client = yield* Client.make({ limits: { maxBodySize: 1024 }, trustEnv: false })
      expect((yield* Effect.flip(client.get(url)))._tag).toBe("ResponseTooLarge")
      expect((yield* client.get(url, { limits: { maxBodySize: 8192 } })).content.length).toBe(body.length)
    }))

  it.scoped("a bad limit on a request is a LocalProtocolError naming it, and nothing is sent", () =>
    Effect.gen(function*() {
      let requests = 0
      const { url } = yield* httpServer((_request, response) => {
        requests++
        response.end("ok")
      })
      const client = yield* Client.make({ trustEnv: false })
      const error = yield* Effect.flip(client.get(url, { limits: { maxBodySize: -1 } }))
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain("limits.maxBodySize")
      expect(requests).toBe(0)
    }))
})

describe("a request's own timeout", () => {
  for (const features of [{}, { followRedirects: true }]) {
    const path = "followRedirects" in features ? "the full path" : "the direct path"
    it.scoped(`one that is not a duration is a LocalProtocolError naming it on ${path}, and nothing is sent`, () =>
      Effect.gen(function*() {
        let requests = 0
        const { url } = yield* httpServer((_request, response) => {
          requests++
          response.end("ok")
        })
        const client = yield* Client.make({ ...features, trustEnv: false })
        const error = yield* Effect.flip(client.get(url, { timeout: { read: "soon" as any } }))
        expect(error._tag).toBe("LocalProtocolError")
        expect(error.message).toContain("timeout.read")
        const whole = yield* Effect.flip(client.get(url, { timeout: "whenever" as any }))
        expect(whole._tag).toBe("LocalProtocolError")
        expect(requests).toBe(0)
      }))
  }
})
