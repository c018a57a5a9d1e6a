/**
 * Interop: the Client against a real httpbin (python3-httpbin under gunicorn, gthread workers) on loopback — a
 * server written by others, whose framing, redirects, cookies, encodings and auth challenges the client must take
 * as they come. httpbin echoes what it received, so each test checks both directions.
 *
 * Without gunicorn or httpbin the suite is skipped, with a banner saying why (`.ci/run` installs both).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Schedule, Stream } from "effect"
import type { Scope } from "effect"
import { Auth, Client } from "httpfx"
import type { HttpbinServer } from "./httpbinServer.js"
import { httpbinAvailability, skipBanner, startHttpbin } from "./httpbinServer.js"

const availability = httpbinAvailability()
if (!availability.available) {
  console.warn(skipBanner("httpbin interop tests (test/interop/httpbin.test.ts)", availability))
}

const utf8 = new TextEncoder()

/** httpbin's echo, loosely typed: its shape is httpbin's, not ours. */
type Echo = Record<string, any>

const json = (response: { readonly json: Effect.Effect<unknown, unknown> }) =>
  response.json as Effect.Effect<Echo, unknown>

describe.skipIf(!availability.available)("Client against httpbin (gunicorn)", () => {
  let server: HttpbinServer | undefined

  beforeAll(async () => {
    server = await startHttpbin()
  }, 30_000)

  afterAll(async () => {
    await server?.stop()
  }, 10_000)

  /** A fresh client per test (its own pool and cookie jar), closed with the test's scope. */
  const withClient = <A, E>(
    use: (client: Client.Client) => Effect.Effect<A, E, Scope.Scope>,
    options?: Client.Options
  ): Effect.Effect<A, E> =>
    Effect.scoped(Effect.flatMap(Effect.orDie(Client.make({ baseUrl: server!.url, ...options })), use))

  // ---- query and request bodies ----------------------------------------------------------------------------------

  describe("query params", () => {
    it.live("a record with repeated keys", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const response = yield* client.get("/get", { params: { a: 1, b: ["x", "y"], "sp ace": "v&w" } })
          expect(response.status).toBe(200)
          const echo = yield* json(response)
          expect(echo.args).toEqual({ a: "1", b: ["x", "y"], "sp ace": "v&w" })
          expect(response.url).toBe(`${server!.url}/get?a=1&b=x&b=y&sp+ace=v%26w`)
        })
      ))

    it.live("a list of pairs, appended to a query already in the URL, merged with client params", () =>
      withClient(
        (client) =>
          Effect.gen(function*() {
            const response = yield* client.get("/get?q=0", { params: [["b", "1"], ["b", "2"], ["c", "3"]] })
            const echo = yield* json(response)
            // The request's `c` replaces the client's; the client's `d` stays.
            expect(echo.args).toEqual({ q: "0", b: ["1", "2"], c: "3", d: "4" })
          }),
        { params: { c: "client", d: "4" } }
      ))
  })

  describe("request bodies", () => {
    it.live("json to /post", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const value = { n: 1, s: "κόσμε", list: [true, null, 2.5], nested: { a: "b" } }
          const echo = yield* json(yield* client.post("/post", { json: value }))
          expect(echo.json).toEqual(value)
          expect(echo.headers["Content-Type"]).toBe("application/json")
          expect(Number(echo.headers["Content-Length"])).toBe(utf8.encode(JSON.stringify(value)).length)
        })
      ))

    it.live("form to /post, urlencoded with repeated fields", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const echo = yield* json(
            yield* client.post("/post", { form: { a: "1", b: ["x", "y"], "sp ace": "v&w=z", u: "κόσμε" } })
          )
          expect(echo.form).toEqual({ a: "1", b: ["x", "y"], "sp ace": "v&w=z", u: "κόσμε" })
          expect(echo.headers["Content-Type"]).toBe("application/x-www-form-urlencoded")
        })
      ))

    it.live("multipart files and fields to /post", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const binary = new Uint8Array([0, 255, 1, 254, 0x89, 0x50, 0x4e, 0x47])
          const response = yield* client.post("/post", {
            form: { field: "value", many: ["1", "2"] },
            files: {
              doc: { filename: "doc.txt", content: "hello file\r\n--not-a-boundary\r\n", contentType: "text/plain" },
              bare: "bare content",
              image: { filename: "x.png", content: binary, contentType: "image/png" },
              streamed: { filename: "s.txt", content: Stream.make(utf8.encode("str"), utf8.encode("eamed")) }
            }
          })
          const echo = yield* json(response)
          // httpbin lists a part under `files` only when it came with a filename, and shows binary contents as a
          // data: URL carrying the part's Content-Type.
          expect(echo.files).toEqual({
            doc: "hello file\r\n--not-a-boundary\r\n",
            bare: "bare content",
            image: `data:image/png;base64,${Buffer.from(binary).toString("base64")}`,
            streamed: "streamed"
          })
          expect(echo.form).toEqual({ field: "value", many: ["1", "2"] })
          expect(echo.headers["Content-Type"]).toMatch(/^multipart\/form-data; boundary=/)
        })
      ))

    it.live("raw content (string and bytes) to /anything, with PUT and PATCH", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const put = yield* json(yield* client.put("/anything/x", { content: "raw text body" }))
          expect(put.method).toBe("PUT")
          expect(put.data).toBe("raw text body")
          expect(put.headers["Content-Length"]).toBe("13")
          // Raw content is sent without a Content-Type (as httpx does).
          expect(put.headers["Content-Type"]).toBeUndefined()
          const patch = yield* json(
            yield* client.patch("/anything", {
              content: utf8.encode("{\"k\":1}"),
              headers: { "content-type": "application/json" }
            })
          )
          expect(patch.method).toBe("PATCH")
          expect(patch.json).toEqual({ k: 1 })
          const del = yield* json(yield* client.delete("/anything"))
          expect(del.method).toBe("DELETE")
          expect(del.data).toBe("")
        })
      ))

    it.live("streamed content goes chunked and arrives whole", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const parts = Array.from({ length: 50 }, (_, i) => `part-${i};`)
          const body = Stream.fromIterable(parts).pipe(Stream.map((part) => utf8.encode(part)))
          const echo = yield* json(yield* client.post("/anything", { content: body }))
          expect(echo.headers["Transfer-Encoding"]).toBe("chunked")
          expect(echo.headers["Content-Length"]).toBeUndefined()
          expect(echo.data).toBe(parts.join(""))
        })
      ))
  })

  // ---- content encodings -----------------------------------------------------------------------------------------

  describe("content encodings", () => {
    it.live("gzip, deflate and brotli bodies are decoded", () =>
      withClient((client) =>
        Effect.gen(function*() {
          for (const [path, flag, coding] of [["/gzip", "gzipped", "gzip"], ["/deflate", "deflated", "deflate"], [
            "/brotli",
            "brotli",
            "br"
          ]] as const) {
            const response = yield* client.get(path)
            expect(response.status).toBe(200)
            expect(response.headers["content-encoding"]).toBe(coding)
            const echo = yield* json(response)
            expect(echo[flag]).toBe(true)
            expect(echo.method).toBe("GET")
          }
        })
      ))

    it.live("a gzip body read as a stream is decoded too", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const response = yield* client.stream("GET", "/gzip")
          const text = yield* Stream.mkString(response.text)
          expect(JSON.parse(text).gzipped).toBe(true)
        })
      ))
  })

  // ---- redirects -------------------------------------------------------------------------------------------------

  describe("redirects", () => {
    it.live("not followed by default", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const response = yield* client.get("/redirect/1")
          expect(response.status).toBe(302)
          expect(response.isRedirect).toBe(true)
          expect(response.headers["location"]).toBe("/get")
        })
      ))

    it.live("/redirect/3, /relative-redirect/2 and /absolute-redirect/2 end at /get with their history", () =>
      withClient(
        (client) =>
          Effect.gen(function*() {
            const chains = [["/redirect/3", 3], ["/relative-redirect/2", 2], ["/absolute-redirect/2", 2]] as const
            for (const [path, hops] of chains) {
              const response = yield* client.get(path)
              expect(response.status).toBe(200)
              expect(response.url).toBe(`${server!.url}/get`)
              expect(response.history.map((hop) => hop.status)).toEqual(Array(hops).fill(302))
              expect(response.history[0]!.url).toBe(`${server!.url}${path}`)
              expect((yield* json(response)).url).toBe(`${server!.url}/get`)
            }
          }),
        { followRedirects: true }
      ))

    it.live("307 keeps the method and body; 303 and 302 turn POST into a bodiless GET", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const redirectTo = (status: number, json: unknown) =>
            client.post("/redirect-to", {
              params: { url: "/anything/target", status_code: status },
              json,
              followRedirects: true
            })
          const kept = yield* redirectTo(307, { keep: "me" })
          const keptEcho = yield* json(kept)
          expect(keptEcho.method).toBe("POST")
          expect(keptEcho.json).toEqual({ keep: "me" })
          expect(kept.history.map((hop) => hop.status)).toEqual([307])
          for (const status of [303, 302]) {
            const changed = yield* redirectTo(status, { drop: 1 })
            const echo = yield* json(changed)
            expect(echo.method).toBe("GET")
            expect(echo.data).toBe("")
            expect(echo.headers["Content-Type"]).toBeUndefined()
            expect(echo.headers["Content-Length"]).toBeUndefined()
          }
        })
      ))

    it.live("maxRedirects bounds the chain", () =>
      withClient(
        (client) =>
          Effect.gen(function*() {
            const error = yield* Effect.flip(client.get("/redirect/3"))
            expect(error._tag).toBe("TooManyRedirects")
          }),
        { followRedirects: true, maxRedirects: 2 }
      ))
  })

  // ---- cookies ---------------------------------------------------------------------------------------------------

  describe("cookies", () => {
    it.live("the jar keeps what /cookies/set sets and forgets what /cookies/delete deletes", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const set = yield* client.get("/cookies/set", { params: { a: "1", b: "two" } })
          expect(set.status).toBe(302)
          expect((yield* json(yield* client.get("/cookies"))).cookies).toEqual({ a: "1", b: "two" })
          yield* client.get("/cookies/delete", { params: { a: "" } })
          expect((yield* json(yield* client.get("/cookies"))).cookies).toEqual({ b: "two" })
        })
      ))

    it.live("a cookie set mid-redirect is sent on the next hop", () =>
      withClient(
        (client) =>
          Effect.gen(function*() {
            const response = yield* client.get("/cookies/set/name/value")
            expect(response.history.length).toBe(1)
            expect((yield* json(response)).cookies).toEqual({ name: "value" })
          }),
        { followRedirects: true }
      ))

    it.live("cookies: false keeps no jar", () =>
      withClient(
        (client) =>
          Effect.gen(function*() {
            yield* client.get("/cookies/set", { params: { a: "1" } })
            expect((yield* json(yield* client.get("/cookies"))).cookies).toEqual({})
          }),
        { cookies: false }
      ))
  })

  // ---- auth ------------------------------------------------------------------------------------------------------

  describe("auth", () => {
    it.live("basic: right credentials 200, wrong ones 401", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const ok = yield* client.get("/basic-auth/user/passwd", { auth: Auth.basic("user", "passwd") })
          expect(ok.status).toBe(200)
          expect(yield* json(ok)).toEqual({ authenticated: true, user: "user" })
          const pair = yield* client.get("/basic-auth/user/passwd", { auth: ["user", "passwd"] })
          expect(pair.status).toBe(200)
          const wrong = yield* client.get("/basic-auth/user/passwd", { auth: Auth.basic("user", "wrong") })
          expect(wrong.status).toBe(401)
        })
      ))

    /** Two requests with one Auth: the first answers httpbin's challenge, the second answers ahead of time. */
    const digestTwice = (algorithm: string) =>
      withClient((client) =>
        Effect.gen(function*() {
          const auth = Auth.digest("user", "passwd")
          const path = `/digest-auth/auth/user/passwd/${algorithm}`
          const first = yield* client.get(path, { auth })
          expect(first.status).toBe(200)
          expect(yield* json(first)).toEqual({ authenticated: true, user: "user" })
          const second = yield* client.get(path, { auth })
          expect(second.status).toBe(200)
        })
      )

    // SHA-512 is outside RFC 7616's registry, but httpbin (like httpx) speaks it.
    for (const algorithm of ["MD5", "SHA-256", "SHA-512"]) {
      it.live(`digest ${algorithm}: the challenge is answered; a second request answers preemptively`, () =>
        digestTwice(algorithm))
    }

    it.live("digest with qop=auth-int (the hash covers the empty body), as the client's auth", () =>
      withClient(
        (client) =>
          Effect.gen(function*() {
            const response = yield* client.get("/digest-auth/auth-int/user/passwd/MD5")
            expect(response.status).toBe(200)
          }),
        { auth: Auth.digest("user", "passwd") }
      ))

    it.live("digest with a wrong password ends at 401 after one answer", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const response = yield* client.get("/digest-auth/auth/user/passwd/MD5", { auth: Auth.digest("user", "nope") })
          expect(response.status).toBe(401)
          expect(response.headers["www-authenticate"]).toMatch(/^Digest /)
        })
      ))
  })

  // ---- statuses and heads ----------------------------------------------------------------------------------------

  describe("statuses", () => {
    it.live("418 with raiseForStatus fails with HttpStatusError; 204 has no body", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const teapot = yield* client.get("/status/418")
          expect(teapot.status).toBe(418)
          expect(teapot.isClientError).toBe(true)
          const error = yield* Effect.flip(teapot.raiseForStatus)
          expect(error._tag).toBe("HttpStatusError")
          expect(error.response.status).toBe(418)
          const caught = yield* teapot.raiseForStatus.pipe(
            Effect.as("no error"),
            Effect.catchTag("HttpStatusError", (e) => Effect.succeed(`caught ${e.response.status}`))
          )
          expect(caught).toBe("caught 418")
          const empty = yield* client.get("/status/204")
          expect(empty.status).toBe(204)
          expect(empty.content.length).toBe(0)
          // The connection is still good after a bodiless response.
          expect((yield* client.get("/status/200")).status).toBe(200)
        })
      ))

    it.live("HEAD /get: headers and no body, and the connection stays usable", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const head = yield* client.head("/get")
          expect(head.status).toBe(200)
          expect(Number(head.headers["content-length"])).toBeGreaterThan(0)
          expect(head.content.length).toBe(0)
          const get = yield* client.get("/get")
          expect(get.status).toBe(200)
          expect(get.content.length).toBe(Number(get.headers["content-length"]))
        })
      ))

    it.live("/etag/xyz with If-None-Match answers 304 with no body; the next request still works", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const fresh = yield* client.get("/etag/xyz")
          expect(fresh.status).toBe(200)
          expect(fresh.headers["etag"]).toBe("xyz")
          const cached = yield* client.get("/etag/xyz", { headers: { "if-none-match": "\"xyz\"" } })
          expect(cached.status).toBe(304)
          expect(cached.content.length).toBe(0)
          const other = yield* client.get("/etag/xyz", { headers: { "if-none-match": "\"abc\"" } })
          expect(other.status).toBe(200)
          const connections = yield* client.pool
          expect(connections.length).toBe(1)
          expect(connections[0]!.requestCount).toBe(3)
        })
      ))
  })

  // ---- headers ---------------------------------------------------------------------------------------------------

  describe("headers", () => {
    it.live("/headers shows our User-Agent, Accept and Accept-Encoding, and merged custom headers", () =>
      withClient(
        (client) =>
          Effect.gen(function*() {
            const response = yield* client.get("/headers", { headers: { "X-Request": "r", "X-Both": "request" } })
            const { headers } = yield* json(response)
            expect(headers["User-Agent"]).toMatch(/^httpfx\/\d+\.\d+\.\d+/)
            expect(headers["Accept"]).toBe("*/*")
            const encodings = String(headers["Accept-Encoding"]).split(/,\s*/)
            expect(encodings).toEqual(expect.arrayContaining(["gzip", "deflate", "br"]))
            expect(headers["Accept-Encoding"]).toBe(response.request.headers["accept-encoding"])
            expect(headers["X-Client"]).toBe("c")
            expect(headers["X-Request"]).toBe("r")
            expect(headers["X-Both"]).toBe("request")
            expect(headers["Host"]).toBe(`127.0.0.1:${server!.port}`)
          }),
        { headers: { "X-Client": "c", "X-Both": "client" } }
      ))

    it.live("/user-agent echoes a custom User-Agent", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const echo = yield* json(yield* client.get("/user-agent", { headers: { "user-agent": "interop/1" } }))
          expect(echo["user-agent"]).toBe("interop/1")
        })
      ))

    it.live("/response-headers?x=1&x=2: repeated fields, joined in headers, separate in rawHeaders", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const response = yield* client.get("/response-headers", { params: { x: ["1", "2"] } })
          expect(response.headers["x"]).toBe("1, 2")
          expect(response.rawHeaders.filter(([name]) => name.toLowerCase() === "x").map(([, value]) => value))
            .toEqual(["1", "2"])
        })
      ))
  })

  // ---- bodies of every kind --------------------------------------------------------------------------------------

  describe("response bodies", () => {
    it.live("/stream/20 read with client.stream + lines: 20 JSON lines", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const response = yield* client.stream("GET", "/stream/20")
          expect(response.status).toBe(200)
          expect(response.headers["transfer-encoding"]).toBe("chunked")
          const lines = Chunk.toReadonlyArray(yield* Stream.runCollect(response.lines))
          expect(lines.length).toBe(20)
          expect(lines.map((line) => JSON.parse(line).id)).toEqual(Array.from({ length: 20 }, (_, i) => i))
        })
      ))

    it.live("/bytes/102400, buffered and streamed", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const buffered = yield* client.get("/bytes/102400", { params: { seed: 7 } })
          expect(buffered.content.length).toBe(102_400)
          expect(buffered.headers["content-type"]).toBe("application/octet-stream")
          const streamed = yield* client.stream("GET", "/bytes/102400", { params: { seed: 7 } })
          const chunks = yield* Stream.runCollect(streamed.stream)
          const total = Chunk.reduce(chunks, 0, (n, chunk) => n + chunk.length)
          expect(total).toBe(102_400)
          // Same seed, same bytes: the streamed body is the buffered one.
          expect(Buffer.concat(Chunk.toReadonlyArray(chunks)).equals(Buffer.from(buffered.content))).toBe(true)
        })
      ))

    it.live("text: /encoding/utf8, /html, and UTF-8 from /base64", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const encoding = yield* client.get("/encoding/utf8")
          expect(encoding.status).toBe(200)
          expect(encoding.headers["content-type"]).toBe("text/html; charset=utf-8")
          expect(encoding.text).toBe(new TextDecoder().decode(encoding.content))
          expect(encoding.text.length).toBeGreaterThan(0)
          const html = yield* client.get("/html")
          expect(html.text).toContain("Herman Melville - Moby-Dick")
          const sample = "κόσμε ∮ E⋅da = Q, n → ∞ — 日本語"
          // httpbin's urlsafe_b64decode wants the padding that "base64url" leaves out.
          const encoded = Buffer.from(sample).toString("base64").replace(/\+/g, "-").replace(/\//g, "_")
          const base64 = yield* client.get(`/base64/${encoded}`)
          expect(base64.headers["content-type"]).toBe("text/html; charset=utf-8")
          expect(base64.text).toBe(sample)
        })
      ))

    // Debian's httpbin 0.7.0 has no /json route; /get stands in for a plain JSON document.
    it.live("json: /get, /uuid, /ip; HTML is not JSON", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const get = yield* client.get("/get")
          expect(get.headers["content-type"]).toBe("application/json")
          expect((yield* json(get)).url).toBe(`${server!.url}/get`)
          const { uuid } = yield* json(yield* client.get("/uuid"))
          expect(uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
          const { origin } = yield* json(yield* client.get("/ip"))
          expect(origin).toBe("127.0.0.1")
          const html = yield* client.get("/html")
          expect((yield* Effect.flip(html.json))._tag).toBe("DecodingError")
        })
      ))
  })

  // ---- timeouts and connections ----------------------------------------------------------------------------------

  describe("timeouts and connections", () => {
    it.live("/delay/3 with a 500 ms read timeout fails with ReadTimeout; the client stays usable", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(client.get("/delay/3", { timeout: { read: 500 } }))
          expect(error._tag).toBe("ReadTimeout")
          const caught = yield* client.get("/delay/3", { timeout: { read: 500 } }).pipe(
            Effect.as("answered"),
            Effect.catchTag("ReadTimeout", () => Effect.succeed("timed out"))
          )
          expect(caught).toBe("timed out")
          expect((yield* client.get("/get")).status).toBe(200)
        })
      ))

    it.live("/drip (10 bytes over 2 s) with an 800 ms total timeout fails with RequestTimeout", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(
            client.get("/drip", { params: { duration: 2, numbytes: 10, delay: 0 }, timeout: { total: 800 } })
          )
          expect(error._tag).toBe("RequestTimeout")
          expect((yield* client.get("/get")).status).toBe(200)
        })
      ))

    it.live("/drip read whole as a stream, byte by byte", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const response = yield* client.stream("GET", "/drip", { params: { duration: 0.5, numbytes: 5, delay: 0 } })
          const text = yield* Stream.mkString(response.text)
          expect(text).toBe("*****")
        })
      ))

    it.live("20 concurrent requests share the pool; connections gunicorn closes when idle leave the pool", () =>
      withClient((client) =>
        Effect.gen(function*() {
          const responses = yield* Effect.forEach(
            Array.from({ length: 20 }, (_, i) => i),
            (i) => client.get("/anything", { params: { i } }),
            { concurrency: "unbounded" }
          )
          expect(responses.map((response) => response.status)).toEqual(Array(20).fill(200))
          const echoes = yield* Effect.forEach(responses, json)
          expect(echoes.map((echo) => echo.args.i)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)))
          const before = yield* client.pool
          expect(before.length).toBeGreaterThan(0)
          expect(before.every((connection) => connection.state === "IDLE")).toBe(true)
          // gunicorn's gthread worker closes idle keep-alive connections after 2 s (checked about once a second);
          // our pool would keep them for 5 s, so it must notice the server's close and drop them by itself.
          yield* client.pool.pipe(
            Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (open) => open.length === 0 }),
            Effect.timeout("6 seconds")
          )
          expect(yield* client.pool).toEqual([])
          const after = yield* Effect.forEach([1, 2, 3], () => client.get("/get"))
          expect(after.map((response) => response.status)).toEqual([200, 200, 200])
        })
      ))
  })
})
