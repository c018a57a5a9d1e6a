/**
 * Responses: a buffered `Response` that holds no connection, and a `StreamingResponse` whose body belongs to a scope.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type { ParseOptions } from "effect/SchemaAST"
import type * as HttpError from "./HttpError.js"
import type { Response, StreamingResponse } from "./internal/core/model.js"
import { StreamingTypeId, TypeId } from "./internal/core/model.js"

// Declared below the layers that build responses (internal/core), with the error that carries one.
export { StreamingTypeId, TypeId } from "./internal/core/model.js"
export type {
  HttpVersion,
  Request,
  RequestBody,
  Response,
  ResponseHead,
  RunForEachOptions,
  StreamingResponse,
  Timings
} from "./internal/core/model.js"

/**
 * Decode a buffered response's JSON body with a Schema, as `@effect/platform`'s `HttpClientResponse.schemaBodyJson`
 * does: a body that is not JSON fails with `DecodingError`, a value the schema refuses with `ParseError`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Client, Response } from "httpfx"
 *
 * const User = Schema.Struct({ id: Schema.Number, name: Schema.String })
 *
 * const user = Client.get("https://api.example.org/users/1").pipe(Effect.flatMap(Response.schemaBodyJson(User)))
 * ```
 *
 * @since 0.2.0
 * @category schema
 */
export const schemaBodyJson = <A, I, R>(schema: Schema.Schema<A, I, R>, options?: ParseOptions | undefined) => {
  const parse = Schema.decodeUnknown(schema, options)
  return (response: Response): Effect.Effect<A, HttpError.DecodingError | ParseResult.ParseError, R> =>
    Effect.flatMap(response.json, parse)
}

/**
 * A buffered `Response` (from `request`, the verbs, `read` …), whatever made it.
 *
 * @since 0.2.0
 * @category guards
 */
export const isResponse = (u: unknown): u is Response => typeof u === "object" && u !== null && TypeId in u

/**
 * A `StreamingResponse` (from `stream` or `send(request, { stream: true })`), whatever made it.
 *
 * @since 0.2.0
 * @category guards
 */
export const isStreamingResponse = (u: unknown): u is StreamingResponse =>
  typeof u === "object" && u !== null && StreamingTypeId in u

/**
 * `schemaBodyJson` for a streaming response: reads the whole body, then decodes it. Fails as `read` does, then as
 * `schemaBodyJson`.
 *
 * @since 0.2.0
 * @category schema
 */
export const schemaBodyJsonStreaming = <A, I, R>(
  schema: Schema.Schema<A, I, R>,
  options?: ParseOptions | undefined
) => {
  const decode = schemaBodyJson(schema, options)
  return (response: StreamingResponse): Effect.Effect<A, HttpError.BodyError | ParseResult.ParseError, R> =>
    Effect.flatMap(response.read, decode)
}
