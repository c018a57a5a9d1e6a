/**
 * Testing code that uses the client without a network, the way httpx's MockTransport and ASGITransport are used:
 *
 * - `Transport.mock` answers each request with a web `Response` you build from the request;
 * - `Transport.handler` runs a web app in-process: a fetch-style handler, or an @effect/platform HttpApp.
 *
 * The code under test only asks for `Client.Client`; each check provides a different `Client.layer`.
 * Run it with `npx tsx --conditions=httpfx-source examples/testing-with-transports.ts`.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Cause, Console, Effect, Exit } from "effect"
import { Client, HttpError, Transport } from "httpfx"
import * as assert from "node:assert/strict"

// ---- the code under test -------------------------------------------------------------------------------------------

interface User {
  readonly id: number
  readonly name: string
}

/** Fetches a user from an API whose base URL the client was configured with. */
const fetchUser = (id: number) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const response = yield* client.get(`users/${id}`, { headers: { "x-trace": "example" } })
    yield* response.raiseForStatus
    return (yield* response.json) as User
  })

/** Creates a user and returns the id the server gave it. */
const createUser = (name: string) =>
  Effect.gen(function*() {
    const client = yield* Client.Client
    const response = yield* client.post("users", { json: { name } })
    return ((yield* response.json) as User).id
  })

const check = (label: string) => Console.log(`ok - ${label}`)

// ---- 1. a mock: assert on the request, answer with a canned response ---------------------------------------------

const withMock = Effect.gen(function*() {
  const seen: Array<string> = []
  const transport = Transport.mock((request) => {
    seen.push(`${request.method} ${request.url} trace=${request.headers["x-trace"]}`)
    return request.url.endsWith("/users/1")
      ? Response.json({ id: 1, name: "Ada" })
      : new Response("no such user", { status: 404 })
  })
  const layer = Client.layer({ baseUrl: "http://api.test/v1", transport })

  const user = yield* Effect.provide(fetchUser(1), layer)
  assert.deepEqual(user, { id: 1, name: "Ada" })
  assert.deepEqual(seen, ["GET http://api.test/v1/users/1 trace=example"])
  yield* check("Transport.mock: fetchUser(1) sent GET /v1/users/1 and decoded the JSON")

  const missing = yield* Effect.exit(Effect.provide(fetchUser(2), layer))
  assert.ok(Exit.isFailure(missing))
  assert.equal(Cause.squash(missing.cause) instanceof Error, true)
  assert.equal((Cause.squash(missing.cause) as { _tag?: string })._tag, "HttpStatusError")
  yield* check("Transport.mock: a 404 makes fetchUser fail with HttpStatusError")

  // A handler that throws is a bug in the test double, not an HTTP answer: the request dies with that very error.
  const broken = new Error("the mock itself is broken")
  const dead = yield* Effect.exit(Effect.provide(
    fetchUser(1),
    Client.layer({
      baseUrl: "http://api.test/v1",
      transport: Transport.mock(() => {
        throw broken
      })
    })
  ))
  assert.ok(Exit.isFailure(dead) && Cause.isDie(dead.cause))
  assert.equal(Cause.squash(dead.cause), broken)
  yield* check("Transport.mock: a throwing handler makes the request die with its own error")

  // An httpfx error is a simulated network failure: the request fails with it, typed, and retries see it.
  let attempts = 0
  const flaky = Transport.mock(() =>
    ++attempts === 1 ? Effect.fail(new HttpError.ReadTimeout({ message: "no byte in time" })) : Response.json({ id: 1 })
  )
  const timedOut = yield* Effect.provide(
    fetchUser(1).pipe(Effect.as("answered"), Effect.catchTag("ReadTimeout", (error) => Effect.succeed(error.message))),
    Client.layer({ baseUrl: "http://api.test/v1", transport: flaky })
  )
  assert.equal(timedOut, "GET http://api.test/v1/users/1: no byte in time")
  yield* check("Transport.mock: a handler failing with ReadTimeout makes the request fail with ReadTimeout")
})

// ---- 2. a fetch-style handler: a tiny in-process app ---------------------------------------------------------------

const withFetchHandler = Effect.gen(function*() {
  const users = new Map<number, User>()
  const transport = Transport.handler(async (request) => {
    const url = new URL(request.url)
    if (request.method === "POST" && url.pathname === "/v1/users") {
      const { name } = await request.json() as { name: string }
      const user = { id: users.size + 1, name }
      users.set(user.id, user)
      return Response.json(user, { status: 201 })
    }
    const match = /^\/v1\/users\/(\d+)$/.exec(url.pathname)
    const user = match === null ? undefined : users.get(Number(match[1]))
    return user === undefined ? new Response(null, { status: 404 }) : Response.json(user)
  })

  const user = yield* Effect.gen(function*() {
    const id = yield* createUser("Grace")
    return yield* fetchUser(id)
  }).pipe(Effect.provide(Client.layer({ baseUrl: "http://api.test/v1", transport })))
  assert.deepEqual(user, { id: 1, name: "Grace" })
  yield* check("Transport.handler(fetch): createUser then fetchUser round-trip through the app")
})

// ---- 3. an @effect/platform HttpApp ------------------------------------------------------------------------------

const app = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/v1/users/:id",
    Effect.gen(function*() {
      const { id } = yield* HttpRouter.params
      return yield* HttpServerResponse.json({ id: Number(id), name: "Edsger" })
    })
  ),
  HttpRouter.post(
    "/v1/users",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const body = (yield* request.json) as { name: string }
      return yield* HttpServerResponse.json({ id: 42, name: body.name }, { status: 201 })
    })
  )
)

const withHttpApp = Effect.gen(function*() {
  const layer = Client.layer({ baseUrl: "http://api.test/v1", transport: Transport.handler(app) })
  const user = yield* Effect.provide(fetchUser(7), layer)
  assert.deepEqual(user, { id: 7, name: "Edsger" })
  const id = yield* Effect.provide(createUser("Barbara"), layer)
  assert.equal(id, 42)
  yield* check("Transport.handler(HttpApp): an HttpRouter answers fetchUser and createUser")

  const missing = yield* Effect.provide(
    Effect.flatMap(Client.Client, (client) => client.get("nowhere")),
    layer
  )
  assert.equal(missing.status, 404)
  yield* check("Transport.handler(HttpApp): an unknown route is platform's 404")
})

Effect.runPromise(Effect.all([withMock, withFetchHandler, withHttpApp], { discard: true })).then(
  () => console.log("all checks passed"),
  (error) => {
    console.error(error)
    process.exit(1)
  }
)
