/**
 * Response.schemaBodyJson: a JSON body decoded with a Schema, as @effect/platform's HttpClientResponse.schemaBodyJson
 * does; a body that is not JSON is a DecodingError, a value the schema refuses a ParseError.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, ParseResult, Schema } from "effect"
import { Client, Response, Transport } from "httpfx"

const User = Schema.Struct({ id: Schema.Number, name: Schema.String })

const transport = Transport.mock((request) =>
  request.url.endsWith("/user")
    ? globalThis.Response.json({ id: 1, name: "Ada" })
    : request.url.endsWith("/wrong")
    ? globalThis.Response.json({ id: "one" })
    : new globalThis.Response("<html>not json</html>")
)

const fetchUser = (path: string) =>
  Effect.scoped(
    Effect.flatMap(
      Client.make({ baseUrl: "http://api.test", transport }),
      (client) => Effect.flatMap(Effect.orDie(client.get(path)), Response.schemaBodyJson(User))
    )
  )

describe("Response.schemaBodyJson", () => {
  it.effect("decodes a JSON body with the schema", () =>
    Effect.gen(function*() {
      expect(yield* Effect.orDie(fetchUser("/user"))).toEqual({ id: 1, name: "Ada" })
    }))

  it.effect("fails with ParseError when the JSON does not fit the schema", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(fetchUser("/wrong"))
      expect(ParseResult.isParseError(error)).toBe(true)
    }))

  it.effect("fails with DecodingError, naming the request, when the body is not JSON", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(fetchUser("/page"))
      expect(error._tag).toBe("DecodingError")
      expect(error.message).toContain("GET http://api.test/page")
    }))

  it.effect("schemaBodyJsonStreaming reads a streaming response, then decodes it", () =>
    Effect.gen(function*() {
      const user = yield* Effect.scoped(
        Effect.flatMap(
          Client.make({ baseUrl: "http://api.test", transport }),
          (client) => Effect.flatMap(client.stream("GET", "/user"), Response.schemaBodyJsonStreaming(User))
        )
      )
      expect(user).toEqual({ id: 1, name: "Ada" })
    }).pipe(Effect.orDie))
})
