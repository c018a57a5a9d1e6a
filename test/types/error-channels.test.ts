/**
 * The error channels of the public API, pinned as types: `npm run typecheck` compiles this file (CI runs it), so a
 * wider or narrower channel fails the build. The tests only build the values; nothing is sent.
 */
import { describe, it } from "@effect/vitest"
import { Effect, type ParseResult, Schema, type Scope, Stream } from "effect"
import { Auth, Client, HttpError, Pool, Response, Transport } from "httpfx"
import { expectTypeOf } from "vitest"

type Answer<E = HttpError.HttpError> = Effect.Effect<Response.Response, E, Client.Client>

class Boom extends Schema.TaggedError<Boom>()("Boom", {}) {}

type ClientOf<T> = T extends Effect.Effect<infer C, any, any> ? C : never

const made = <C>(make: Effect.Effect<C, any, any>): C => make as unknown as C

/** The body is type-checked, never run: `made` only pretends to build a client. */
const typesOnly = (body: () => void) => () => void body

describe("error channels", () => {
  it("a client made without options fails a plain call with RequestError only", typesOnly(() => {
    const client = made(Client.make())
    expectTypeOf<ClientOf<ReturnType<typeof Client.make<{}>>>>().toEqualTypeOf<Client.Client<never>>()
    expectTypeOf(client.get("/")).toEqualTypeOf<Effect.Effect<Response.Response, HttpError.RequestError>>()
    expectTypeOf(client.head("/")).toEqualTypeOf<Effect.Effect<Response.Response, HttpError.RequestError>>()
    expectTypeOf(client.options("/")).toEqualTypeOf<Effect.Effect<Response.Response, HttpError.RequestError>>()
    expectTypeOf(client.delete("/", { params: { a: 1 }, auth: ["user", "pass"] })).toEqualTypeOf<
      Effect.Effect<Response.Response, HttpError.RequestError>
    >()
    expectTypeOf(client.stream("GET", "/")).toEqualTypeOf<
      Effect.Effect<Response.StreamingResponse, HttpError.RequestError, Scope.Scope>
    >()
    expectTypeOf(client.websocket("ws://h/")).toEqualTypeOf<
      Effect.Effect<
        Client.WebSocket,
        HttpError.RequestError | HttpError.HttpStatusError | HttpError.WebSocketError,
        Scope.Scope
      >
    >()
    expectTypeOf<Client.WebSocket["messages"]>().toEqualTypeOf<
      Stream.Stream<string | Uint8Array, HttpError.WebSocketError>
    >()
    // @ts-expect-error a plain GET never checks the status
    Effect.catchTag(client.get("/"), "HttpStatusError", () => Effect.void)
    // @ts-expect-error nor follows redirects
    Effect.catchTag(client.get("/"), "TooManyRedirects", () => Effect.void)
    // @ts-expect-error nor reads a body twice
    Effect.catchTag(client.get("/"), "StreamConsumed", () => Effect.void)
  }))

  it("a stream body adds its own error", typesOnly(() => {
    const client = made(Client.make())
    const content = Stream.fail(new Boom())
    expectTypeOf(client.post("/", { content })).toEqualTypeOf<
      Effect.Effect<Response.Response, HttpError.RequestError | Boom>
    >()
    expectTypeOf(client.put("/", { content })).toEqualTypeOf<
      Effect.Effect<Response.Response, HttpError.RequestError | Boom>
    >()
    expectTypeOf(client.patch("/", { content })).toEqualTypeOf<
      Effect.Effect<Response.Response, HttpError.RequestError | Boom>
    >()
    expectTypeOf(client.request("PUT", "/", { content })).toEqualTypeOf<
      Effect.Effect<Response.Response, HttpError.RequestError | Boom>
    >()
  }))

  it("a call that may follow redirects or brings an Auth of its own may fail with any HttpError", typesOnly(() => {
    const client = made(Client.make())
    expectTypeOf(client.get("/", { followRedirects: true })).toEqualTypeOf<
      Effect.Effect<Response.Response, HttpError.HttpError>
    >()
    expectTypeOf(client.get("/", { auth: Auth.bearer("token") })).toEqualTypeOf<
      Effect.Effect<Response.Response, HttpError.HttpError>
    >()
    const options: Client.RequestOptions = {}
    expectTypeOf(client.get("/", options)).toEqualTypeOf<Effect.Effect<Response.Response, HttpError.HttpError>>()
    expectTypeOf(client.send(client.buildRequest("GET", "/"))).toEqualTypeOf<
      Effect.Effect<Response.Response, HttpError.HttpError>
    >()
  }))

  it("the client's options add what they can raise", typesOnly(() => {
    expectTypeOf<ClientOf<ReturnType<typeof Client.make<{ readonly followRedirects: true }>>>>().toEqualTypeOf<
      Client.Client<HttpError.RedirectError>
    >()
    const following = made(Client.make({ followRedirects: true, baseUrl: "http://h" }))
    expectTypeOf(following.get("/")).toEqualTypeOf<
      Effect.Effect<Response.Response, HttpError.RequestError | HttpError.RedirectError>
    >()
    const notFollowing = made(Client.make({ followRedirects: false, retry: 2 }))
    expectTypeOf(notFollowing).toEqualTypeOf<Client.Client<never>>()
    const basic = made(Client.make({ auth: ["user", "pass"] }))
    expectTypeOf(basic).toEqualTypeOf<Client.Client<never>>()
    const raising = made(Client.make({ eventHooks: { response: [(response) => response.raiseForStatus] } }))
    expectTypeOf(raising).toEqualTypeOf<Client.Client<HttpError.HttpStatusError>>()
    expectTypeOf(raising.get("/")).toEqualTypeOf<
      Effect.Effect<Response.Response, HttpError.RequestError | HttpError.HttpStatusError>
    >()
    const logging = made(Client.make({ eventHooks: { request: [(request) => Effect.log(request.url)] } }))
    expectTypeOf(logging).toEqualTypeOf<Client.Client<never>>()
    const refuse = () => Effect.fail(new HttpError.ProxyError({ message: "" }))
    const failing = made(Client.make({ eventHooks: { request: [refuse] } }))
    expectTypeOf(failing).toEqualTypeOf<Client.Client<HttpError.ProxyError>>()
    expectTypeOf(made(Client.make({ auth: Auth.bearer("token") }))).toEqualTypeOf<Client.Client<HttpError.HttpError>>()
    const transport = Transport.mock(() => new globalThis.Response("ok"))
    expectTypeOf(made(Client.make({ transport }))).toEqualTypeOf<Client.Client<HttpError.HttpError>>()
    const step: Transport.Middleware = (next) => next
    expectTypeOf(made(Client.make({ middleware: [step] }))).toEqualTypeOf<Client.Client<HttpError.HttpError>>()
    expectTypeOf(made(Client.make({ middleware: [] }))).toEqualTypeOf<Client.Client<never>>()
    const options: Client.Options = {}
    expectTypeOf(made(Client.make(options))).toEqualTypeOf<Client.Client<HttpError.HttpError>>()
  }))

  it("any client fits the service, whose calls may fail with any HttpError", typesOnly(() => {
    expectTypeOf<Client.Client<never>>().toMatchTypeOf<Client.Client>()
    expectTypeOf<Client.Client<HttpError.HttpStatusError>>().toMatchTypeOf<Client.Client>()
    expectTypeOf(Client.get("/")).toEqualTypeOf<Effect.Effect<Response.Response, HttpError.HttpError, Client.Client>>()
  }))

  it("the accessors need the Client, and stream and send { stream: true } a Scope", typesOnly(() => {
    expectTypeOf(Client.head("/")).toEqualTypeOf<Effect.Effect<Response.Response, HttpError.HttpError, Client.Client>>()
    expectTypeOf(Client.options("/")).toEqualTypeOf<
      Effect.Effect<Response.Response, HttpError.HttpError, Client.Client>
    >()
    expectTypeOf(Client.delete("/")).toEqualTypeOf<Answer>()
    expectTypeOf(Client.put("/", { content: Stream.fail(new Boom()) })).toEqualTypeOf<
      Effect.Effect<Response.Response, HttpError.HttpError | Boom, Client.Client>
    >()
    expectTypeOf(Client.patch("/")).toEqualTypeOf<Answer>()
    expectTypeOf(Client.stream("GET", "/")).toEqualTypeOf<
      Effect.Effect<Response.StreamingResponse, HttpError.HttpError, Client.Client | Scope.Scope>
    >()
    expectTypeOf(Client.buildRequest("GET", "/")).toEqualTypeOf<Effect.Effect<Response.Request, never, Client.Client>>()
    const request = {} as Response.Request
    expectTypeOf(Client.send(request)).toEqualTypeOf<Answer>()
    expectTypeOf(Client.send(request, { stream: true })).toEqualTypeOf<
      Effect.Effect<Response.StreamingResponse, HttpError.HttpError, Client.Client | Scope.Scope>
    >()
    expectTypeOf(Client.pool).toEqualTypeOf<Effect.Effect<ReadonlyArray<Pool.ConnectionInfo>, never, Client.Client>>()
  }))

  it("the pool fails with RequestError, plus a stream body's own error", typesOnly(() => {
    const pool = made(Pool.make())
    expectTypeOf(pool.request("GET", "http://h/")).toEqualTypeOf<
      Effect.Effect<Response.Response, HttpError.RequestError>
    >()
    expectTypeOf(pool.stream("POST", "http://h/", { content: Stream.fail(new Boom()) })).toEqualTypeOf<
      Effect.Effect<Response.StreamingResponse, HttpError.RequestError | Boom, Scope.Scope>
    >()
  }))

  it("a streaming body fails with BodyError: never the status, the URL or redirects", typesOnly(() => {
    const response = {} as Response.StreamingResponse
    expectTypeOf(response.read).toEqualTypeOf<Effect.Effect<Response.Response, HttpError.BodyError>>()
    expectTypeOf(response.stream).toEqualTypeOf<Stream.Stream<Uint8Array, HttpError.BodyError>>()
    expectTypeOf(response.raw).toEqualTypeOf<Stream.Stream<Uint8Array, HttpError.BodyError>>()
    expectTypeOf(response.text).toEqualTypeOf<Stream.Stream<string, HttpError.BodyError>>()
    expectTypeOf(response.lines).toEqualTypeOf<Stream.Stream<string, HttpError.BodyError>>()
    expectTypeOf(response.runForEach(() => Effect.fail(new Boom()))).toEqualTypeOf<
      Effect.Effect<void, HttpError.BodyError | Boom>
    >()
    // @ts-expect-error reading a body never checks the status
    Effect.catchTag(response.read, "HttpStatusError", () => Effect.void)
    expectTypeOf(Effect.catchTag(response.read, "StreamConsumed", () => Effect.void)).not.toBeNever()
    expectTypeOf(Response.schemaBodyJsonStreaming(Schema.Number)(response)).toEqualTypeOf<
      Effect.Effect<number, HttpError.BodyError | ParseResult.ParseError>
    >()
  }))

  it("schemaBodyJson fails with DecodingError or ParseError", typesOnly(() => {
    const decode = Response.schemaBodyJson(Schema.Struct({ id: Schema.Number }))
    expectTypeOf(decode).returns.toEqualTypeOf<
      Effect.Effect<{ readonly id: number }, HttpError.DecodingError | ParseResult.ParseError>
    >()
  }))
})
