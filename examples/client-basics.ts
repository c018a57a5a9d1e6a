/**
 * The client in one sitting: a base URL with default headers and params, query params, JSON, form and multipart
 * bodies, typed status errors, redirects with their history, the cookie jar, Basic auth, event hooks, timeouts and
 * the pool behind it all.
 *
 * It starts its own server on loopback, so it needs no network:
 * `npx tsx --conditions=httpfx-source examples/client-basics.ts`.
 */
import { Console, Effect } from "effect"
import * as http from "node:http"
import type * as net from "node:net"
import { Auth, Client } from "httpfx"

// ---- a small loopback server -----------------------------------------------------------------------------------

const readBody = (request: http.IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => resolve(Buffer.concat(chunks)))
    request.on("error", reject)
  })

const sendJson = (
  response: http.ServerResponse,
  status: number,
  value: unknown,
  headers: http.OutgoingHttpHeaders = {}
) => {
  response.writeHead(status, { "content-type": "application/json", ...headers })
  response.end(JSON.stringify(value))
}

const handler = async (request: http.IncomingMessage, response: http.ServerResponse) => {
  const url = new URL(request.url!, "http://127.0.0.1")
  const path = url.pathname
  if (path === "/api/echo") {
    const body = await readBody(request)
    const contentType = request.headers["content-type"] ?? ""
    return sendJson(response, 200, {
      method: request.method,
      query: url.search,
      userAgent: request.headers["user-agent"],
      example: request.headers["x-example"],
      contentType: contentType.replace(/boundary=.*/, "boundary=…"),
      // A multipart body is long; its part headers are what is worth showing.
      body: contentType.startsWith("multipart/")
        ? body.toString("latin1").match(/Content-Disposition: [^\r]*/g)
        : body.toString("utf8")
    })
  }
  const status = /^\/api\/status\/(\d{3})$/.exec(path)
  if (status !== null) return sendJson(response, Number(status[1]), { status: Number(status[1]) })
  const redirect = /^\/api\/redirect\/(\d+)$/.exec(path)
  if (redirect !== null) {
    const left = Number(redirect[1])
    response.writeHead(302, { location: left > 1 ? `/api/redirect/${left - 1}` : "/api/echo" })
    return response.end()
  }
  if (path === "/api/cookies/set") {
    const cookies = [...url.searchParams].filter(([name]) => name !== "lang").map(([name, value]) =>
      `${name}=${value}; Path=/`
    )
    return sendJson(response, 200, { set: cookies }, { "set-cookie": cookies })
  }
  if (path === "/api/cookies") return sendJson(response, 200, { cookie: request.headers.cookie ?? null })
  if (path === "/api/private") {
    const expected = "Basic " + Buffer.from("alice:s3cret").toString("base64")
    if (request.headers.authorization === expected) return sendJson(response, 200, { user: "alice" })
    return sendJson(response, 401, { error: "who are you?" }, { "www-authenticate": "Basic realm=\"example\"" })
  }
  if (path === "/api/slow") {
    const timer = setTimeout(() => sendJson(response, 200, { slow: true }), 1_000)
    response.on("close", () => clearTimeout(timer))
    return
  }
  sendJson(response, 404, { error: "not found" })
}

/** The server lives as long as the scope: closing it drops every socket and stops listening. */
const startServer = Effect.acquireRelease(
  Effect.async<http.Server>((resume) => {
    const server = http.createServer((request, response) => {
      handler(request, response).catch(() => response.destroy())
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      server.closeAllConnections()
      server.close(() => resume(Effect.void))
    })
)

// ---- the tour --------------------------------------------------------------------------------------------------

const show = (label: string, value: unknown) => Console.log(`${label}:`, JSON.stringify(value))

const tour = Effect.gen(function*() {
  const client = yield* Client.Client

  // GET with params: they join the client's own `lang=en`, and a request param of the same name would replace it.
  const search = yield* client.get("/echo", { params: { q: "effect http", tags: ["a", "b"], page: 2 } })
  yield* show("GET /echo", yield* search.json)

  // JSON, urlencoded form and multipart bodies; each sets its own Content-Type.
  const posted = yield* client.post("/echo", { json: { name: "httpfx", stars: 5 } })
  yield* show("POST json", yield* posted.json)
  const form = yield* client.post("/echo", { form: { user: "alice", colours: ["red", "blue"] } })
  yield* show("POST form", yield* form.json)
  const upload = yield* client.post("/echo", {
    form: { title: "Q3" },
    files: { report: { filename: "report.csv", content: "region,total\nnorth,42\n", contentType: "text/csv" } }
  })
  yield* show("POST multipart", yield* upload.json)

  // `text` is the body decoded per its charset; `content` the bytes.
  yield* Console.log("text:", search.text.slice(0, 40) + "…", `(${search.content.length} bytes)`)

  // A 4xx/5xx is a response, not a failure, until raiseForStatus makes it a typed one.
  const missing = yield* client.get("/status/404").pipe(
    Effect.flatMap((response) => response.raiseForStatus),
    Effect.as("found"),
    Effect.catchTag("HttpStatusError", (error) => Effect.succeed(`HttpStatusError: ${error.message}`))
  )
  yield* Console.log(missing)

  // The client follows redirects (followRedirects: true below); `history` holds each hop, oldest first.
  const redirected = yield* client.get("/redirect/3")
  yield* Console.log(`redirect: ${redirected.status} at ${redirected.url}`)
  for (const hop of redirected.history) yield* Console.log(`  via ${hop.status} ${hop.url}`)
  // One request can opt out and see the 302 itself.
  const first = yield* client.get("/redirect/3", { followRedirects: false })
  yield* Console.log(`not followed: ${first.status} (isRedirect: ${first.isRedirect}) to ${first.headers.location}`)

  // Cookies set by a response go to the jar and back to the server on later requests.
  yield* client.get("/cookies/set", { params: { flavour: "oatmeal", session: "abc123" } })
  yield* show("cookies sent back", yield* (yield* client.get("/cookies")).json)

  // Auth per request (or for every request with the client's `auth` option).
  const anonymous = yield* client.get("/private")
  const alice = yield* client.get("/private", { auth: Auth.basic("alice", "s3cret") })
  yield* Console.log(`auth: without ${anonymous.status}, with Basic ${alice.status} ${alice.text}`)

  // The connections of the client's pool, as they are right now: sequential requests shared one.
  for (const connection of yield* client.pool) yield* Console.log(String(connection))

  // A per-request timeout overrides the client's; each phase fails with its own tag.
  const slow = yield* client.get("/slow", { timeout: { read: "200 millis" } }).pipe(
    Effect.as("answered"),
    Effect.catchTag("ReadTimeout", (error) => Effect.succeed(`ReadTimeout: ${error.message}`))
  )
  yield* Console.log(slow)

  // A timed-out exchange cannot be resumed, so its connection was closed rather than kept.
  yield* Console.log(`after the timeout: ${(yield* client.pool).length} connections`)
})

const main = Effect.gen(function*() {
  const server = yield* startServer
  const { port } = server.address() as net.AddressInfo

  const ClientLive = Client.layer({
    baseUrl: `http://127.0.0.1:${port}/api`,
    headers: { "x-example": "client-basics" },
    params: { lang: "en" },
    timeout: { connect: "2 seconds", read: "5 seconds", total: "10 seconds" },
    followRedirects: true,
    eventHooks: {
      // Hooks run for every hop of a redirect chain; the response hook sees the head before the body is read.
      request: [(request) => Console.log(`  → ${request.method} ${request.url}`)],
      response: [(response) => Console.log(`  ← ${response.status} ${response.reasonPhrase}`)]
    }
  })

  // The layer's scope ends with `tour`: the client's pool closes then, before the server does.
  yield* tour.pipe(Effect.provide(ClientLive))
})

Effect.runPromise(Effect.scoped(main)).catch((error) => {
  console.error(error)
  process.exitCode = 1
})
