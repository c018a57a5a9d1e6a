import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Pool } from "httpfx"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { microsocks, reportMissing, tinyproxy, which } from "./utils/proxies.js"
import { eventually, httpServer, httpsServer, rawServer } from "./utils/servers.js"

const tlsDir = path.join(import.meta.dirname, "fixtures", "tls")
const ca = fs.readFileSync(path.join(tlsDir, "ca.crt"))
const serverTls = { cert: fs.readFileSync(path.join(tlsDir, "server.crt")), key: fs.readFileSync(path.join(tlsDir, "server.key")) }

const hello = httpServer((request, response) => {
  response.setHeader("x-seen-url", request.url ?? "")
  response.setHeader("x-seen-via", String(request.headers.via ?? ""))
  response.end("hello from the origin")
})
const helloTls = httpsServer(serverTls, (_, response) => response.end("hello over tls"))

/** A CONNECT proxy in a few lines: records each CONNECT head, then splices the streams. */
const connectProxy = (answer?: (head: string, socket: net.Socket) => boolean) =>
  Effect.gen(function*() {
    const heads: Array<string> = []
    const server = yield* rawServer((socket) => {
      let buffered = ""
      const onData = (data: Buffer) => {
        buffered += data.toString("latin1")
        const end = buffered.indexOf("\r\n\r\n")
        if (end < 0) return
        socket.removeListener("data", onData)
        const head = buffered.slice(0, end)
        heads.push(head)
        if (answer !== undefined && answer(head, socket)) return
        const [, authority] = head.split("\r\n")[0]!.split(" ")
        const [host, port] = [authority!.slice(0, authority!.lastIndexOf(":")), authority!.slice(authority!.lastIndexOf(":") + 1)]
        const upstream = net.connect({ host, port: Number(port) }, () => {
          socket.write("HTTP/1.1 200 Connection established\r\n\r\n")
          socket.pipe(upstream).pipe(socket)
        })
        upstream.on("error", () => socket.destroy())
        socket.on("close", () => upstream.destroy())
      }
      socket.on("data", onData)
    })
    return { server, heads }
  })

describe("proxies (fake peers)", () => {
  it.scoped("tunnels https through an HTTP proxy with CONNECT, sending credentials from the proxy URL", () =>
    Effect.gen(function*() {
      const origin = yield* helloTls
      const { heads, server } = yield* connectProxy()
      const pool = yield* Pool.make({ proxy: `http://alice:s%20cret@127.0.0.1:${server.port}`, tls: { ca } })
      const response = yield* pool.request("GET", `${origin.url}/x`)
      expect(response.text).toBe("hello over tls")
      expect(heads[0]).toMatch(new RegExp(`^CONNECT 127\\.0\\.0\\.1:${origin.port} HTTP/1\\.1\\r\\n`))
      expect(heads[0]).toContain(`Proxy-Authorization: Basic ${Buffer.from("alice:s cret").toString("base64")}`)
      // The tunnel is the connection: a second request reuses it.
      yield* pool.request("GET", `${origin.url}/y`)
      expect(heads).toHaveLength(1)
    }))

  it.scoped("sends plain-http requests to a forward proxy in absolute-form", () =>
    Effect.gen(function*() {
      const seen: Array<{ url: string; auth: string | undefined }> = []
      const proxy = yield* httpServer((request, response) => {
        seen.push({ url: request.url ?? "", auth: request.headers["proxy-authorization"] })
        response.end("from the proxy")
      })
      const pool = yield* Pool.make({ proxy: `http://bob:pw@127.0.0.1:${proxy.port}` })
      const response = yield* pool.request("GET", "http://origin.test:8080/a?b=1")
      expect(response.text).toBe("from the proxy")
      expect(seen[0]!.url).toBe("http://origin.test:8080/a?b=1")
      expect(seen[0]!.auth).toBe(`Basic ${Buffer.from("bob:pw").toString("base64")}`)
    }))

  it.scoped("a proxy that refuses the tunnel fails with ProxyError naming the status", () =>
    Effect.gen(function*() {
      const { server } = yield* connectProxy((_, socket) => {
        socket.end("HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n")
        return true
      })
      const pool = yield* Pool.make({ proxy: `http://127.0.0.1:${server.port}` })
      const error = yield* Effect.flip(pool.request("GET", "https://127.0.0.1:1/"))
      expect(error._tag).toBe("ProxyError")
      expect(error.message).toContain("407")
      expect(error.message).toContain("credentials")
      expect(yield* pool.connections).toHaveLength(0)
      yield* eventually(() => server.openSockets() === 0, 2_000, "the proxy to see the socket closed")
    }))

  it.scoped("a proxy answering garbage, or closing, fails with ProxyError", () =>
    Effect.gen(function*() {
      const garbage = yield* connectProxy((_, socket) => {
        socket.write("SSH-2.0-OpenSSH\r\n\r\n")
        return true
      })
      const closing = yield* connectProxy((_, socket) => {
        socket.end()
        return true
      })
      const pool1 = yield* Pool.make({ proxy: `http://127.0.0.1:${garbage.server.port}` })
      const pool2 = yield* Pool.make({ proxy: `http://127.0.0.1:${closing.server.port}` })
      const e1 = yield* Effect.flip(pool1.request("GET", "https://example.test/"))
      const e2 = yield* Effect.flip(pool2.request("GET", "https://example.test/"))
      expect([e1._tag, e2._tag]).toEqual(["ProxyError", "ProxyError"])
      expect(e1.message).toContain("SSH-2.0")
      expect(e2.message).toContain("closed the connection")
    }))

  it.scoped("an unreachable proxy is a ConnectError that names the proxy", () =>
    Effect.gen(function*() {
      const closed = yield* rawServer(() => {})
      const port = closed.port
      const pool = yield* Pool.make({ proxy: `http://127.0.0.1:1` })
      const error = yield* Effect.flip(pool.request("GET", `http://127.0.0.1:${port}/`))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toContain("the proxy http://127.0.0.1:1")
    }))

  it.scoped("a proxy that never answers CONNECT hits the connect timeout and its socket is closed", () =>
    Effect.gen(function*() {
      const { server } = yield* connectProxy((_, socket) => {
        socket.resume()
        return true
      })
      const pool = yield* Pool.make({ proxy: `http://127.0.0.1:${server.port}`, timeout: { connect: 150 } })
      const error = yield* Effect.flip(pool.request("GET", "https://example.test/"))
      expect(error._tag).toBe("ConnectTimeout")
      yield* eventually(() => server.openSockets() === 0, 2_000, "the proxy to see the socket closed")
    }))

  it.scoped("noProxy sends matching hosts direct", () =>
    Effect.gen(function*() {
      const origin = yield* hello
      const pool = yield* Pool.make({ proxy: { http: "http://127.0.0.1:1", noProxy: "localhost, 127.0.0.1" } })
      const response = yield* pool.request("GET", `${origin.url}/direct`)
      expect(response.headers["x-seen-url"]).toBe("/direct")
    }))

  it.scoped("an invalid proxy URL is refused when the pool is made", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Pool.make({ proxy: "ftp://x" }))
      expect(error._tag).toBe("InvalidUrl")
      expect(error.message).toContain(`uses the scheme "ftp"`)
    }))
})

const hasTinyproxy = which("tinyproxy") !== undefined
const hasMicrosocks = which("microsocks") !== undefined
if (!hasTinyproxy) reportMissing("tinyproxy", "apt-get install tinyproxy")
if (!hasMicrosocks) reportMissing("microsocks", "apt-get install microsocks")

describe.skipIf(!hasTinyproxy)("through tinyproxy", () => {
  it.scoped("forwards plain http", () =>
    Effect.gen(function*() {
      const origin = yield* hello
      const proxy = yield* tinyproxy()
      const pool = yield* Pool.make({ proxy: proxy.url })
      const response = yield* pool.request("GET", `${origin.url}/via`)
      expect(response.text).toBe("hello from the origin")
      expect(response.headers["x-seen-via"]).toContain("tinyproxy")
    }))

  it.scoped("tunnels https", () =>
    Effect.gen(function*() {
      const origin = yield* helloTls
      const proxy = yield* tinyproxy()
      const pool = yield* Pool.make({ proxy: proxy.url, tls: { ca } })
      const responses = yield* Effect.all([1, 2, 3].map(() => pool.request("GET", `${origin.url}/`)), {
        concurrency: "unbounded"
      })
      expect(responses.map((r) => r.text)).toEqual(["hello over tls", "hello over tls", "hello over tls"])
    }))

  it.scoped("with BasicAuth: right credentials pass, none are refused", () =>
    Effect.gen(function*() {
      const origin = yield* helloTls
      const proxy = yield* tinyproxy({ user: "carol", password: "pw123" })
      const good = yield* Pool.make({ proxy: `http://carol:pw123@127.0.0.1:${proxy.port}`, tls: { ca } })
      expect((yield* good.request("GET", `${origin.url}/`)).text).toBe("hello over tls")
      const bad = yield* Pool.make({ proxy: proxy.url, tls: { ca } })
      const error = yield* Effect.flip(bad.request("GET", `${origin.url}/`))
      expect(error._tag).toBe("ProxyError")
      expect(error.message).toContain("407")
    }))
})

describe.skipIf(!hasMicrosocks)("through microsocks (SOCKS5)", () => {
  it.scoped("carries http and https", () =>
    Effect.gen(function*() {
      const origin = yield* hello
      const originTls = yield* helloTls
      const proxy = yield* microsocks()
      const pool = yield* Pool.make({ proxy: proxy.url, tls: { ca } })
      expect((yield* pool.request("GET", `${origin.url}/s`)).headers["x-seen-url"]).toBe("/s")
      expect((yield* pool.request("GET", `${originTls.url}/`)).text).toBe("hello over tls")
      // Names are resolved by the proxy (socks5h semantics).
      expect((yield* pool.request("GET", `http://localhost:${origin.port}/n`)).headers["x-seen-url"]).toBe("/n")
    }))

  it.scoped("with credentials: right ones pass, wrong ones fail with ProxyError", () =>
    Effect.gen(function*() {
      const origin = yield* hello
      const proxy = yield* microsocks({ user: "dave", password: "pw" })
      const good = yield* Pool.make({ proxy: `socks5://dave:pw@127.0.0.1:${proxy.port}` })
      expect((yield* good.request("GET", `${origin.url}/ok`)).status).toBe(200)
      const bad = yield* Pool.make({ proxy: `socks5://dave:nope@127.0.0.1:${proxy.port}` })
      const error = yield* Effect.flip(bad.request("GET", `${origin.url}/`))
      expect(error._tag).toBe("ProxyError")
      expect(error.message).toContain("rejected the username and password")
      const none = yield* Pool.make({ proxy: proxy.url })
      expect((yield* Effect.flip(none.request("GET", `${origin.url}/`)))._tag).toBe("ProxyError")
    }))
})
