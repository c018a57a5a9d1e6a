import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Client } from "httpfx"
import { withEnv } from "../utils/env.js"
import { httpServer } from "../utils/servers.js"

/** A forward proxy that answers itself and records the absolute-form targets it was asked for. */
const forwardProxy = Effect.gen(function*() {
  const seen: Array<string> = []
  const server = yield* httpServer((request, response) => {
    seen.push(request.url ?? "")
    response.end("via proxy")
  })
  return { server, seen }
})

describe("trustEnv", () => {
  it.scoped("honours HTTP_PROXY by default", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* forwardProxy
      const response = yield* withEnv(
        { HTTP_PROXY: server.url, http_proxy: server.url },
        Effect.flatMap(Client.make(), (client) => client.get("http://origin.test/x"))
      )
      expect(response.text).toBe("via proxy")
      expect(seen).toEqual(["http://origin.test/x"])
    }))

  it.scoped("ignores the environment with trustEnv: false", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* forwardProxy
      const origin = yield* httpServer((_, response) => response.end("direct"))
      const response = yield* withEnv(
        { http_proxy: server.url },
        Effect.flatMap(Client.make({ trustEnv: false }), (client) => client.get(`${origin.url}/`))
      )
      expect(response.text).toBe("direct")
      expect(seen).toEqual([])
    }))

  it.scoped("sends NO_PROXY hosts direct", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* forwardProxy
      const origin = yield* httpServer((_, response) => response.end("direct"))
      const response = yield* withEnv(
        { http_proxy: server.url, no_proxy: "127.0.0.1" },
        Effect.flatMap(Client.make(), (client) => client.get(`${origin.url}/`))
      )
      expect(response.text).toBe("direct")
      expect(seen).toEqual([])
    }))

  it.scoped("sends hosts in a NO_PROXY CIDR range direct", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* forwardProxy
      const origin = yield* httpServer((_, response) => response.end("direct"))
      const response = yield* withEnv(
        { http_proxy: server.url, no_proxy: "10.0.0.0/8, 127.0.0.0/8" },
        Effect.flatMap(Client.make(), (client) => client.get(`${origin.url}/`))
      )
      expect(response.text).toBe("direct")
      expect(seen).toEqual([])
    }))

  it.scoped("an explicit proxy wins over the environment", () =>
    Effect.gen(function*() {
      const env = yield* forwardProxy
      const explicit = yield* forwardProxy
      yield* withEnv(
        { http_proxy: env.server.url },
        Effect.flatMap(Client.make({ proxy: explicit.server.url }), (client) => client.get("http://origin.test/y"))
      )
      expect(explicit.seen).toEqual(["http://origin.test/y"])
      expect(env.seen).toEqual([])
    }))
})

describe("client extras", () => {
  it.scoped("client.cookies is the jar: seeded cookies are sent, received ones can be read", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((request, response) => {
        response.setHeader("set-cookie", "fresh=1; Path=/")
        response.end(String(request.headers.cookie))
      })
      const client = yield* Client.make()
      client.cookies!.set("seeded", "yes")
      const response = yield* client.get(`${server.url}/`)
      expect(response.text).toBe("seeded=yes")
      expect(client.cookies!.toArray().map((cookie) => cookie.name).sort()).toEqual(["fresh", "seeded"])
      const without = yield* Client.make({ cookies: false })
      expect(without.cookies).toBeUndefined()
    }))

  it.scoped("a jar passed in is shared between clients", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((request, response) => {
        if (request.url === "/set") response.setHeader("set-cookie", "shared=1")
        response.end(String(request.headers.cookie))
      })
      const jar = new Client.CookieJar()
      const a = yield* Client.make({ cookies: jar })
      const b = yield* Client.make({ cookies: jar })
      yield* a.get(`${server.url}/set`)
      expect((yield* b.get(`${server.url}/read`)).text).toBe("shared=1")
    }))

  it.scoped("a request that could not be built still fails after being copied", () =>
    Effect.gen(function*() {
      const client = yield* Client.make()
      const request = client.buildRequest("POST", "http://127.0.0.1:1/", { json: { n: 1n } })
      const copy = { ...request, headers: request.headers }
      const error = yield* Effect.flip(client.send(copy))
      expect(error._tag).toBe("LocalProtocolError")
    }))

  it.scoped("HttpStatusError carries the whole response, typed", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_, response) => {
        response.statusCode = 404
        response.end("no such thing")
      })
      const client = yield* Client.make()
      const response = yield* client.get(`${server.url}/missing`)
      const error = yield* Effect.flip(response.raiseForStatus)
      expect(error.response.status).toBe(404)
      expect("content" in error.response && new TextDecoder().decode(error.response.content)).toBe("no such thing")
    }))
})
