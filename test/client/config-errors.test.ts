/**
 * Options that cannot work fail Client.make, Client.layer, Pool.make, Transport.pool and Platform.layer with a typed
 * error that names the option, shows the value without credentials and with CR/LF escaped, and says what to do.
 */
import { HttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Client, Platform, Pool, Transport } from "httpfx"
import { h2Server } from "../h2/servers.js"
import { withEnv } from "../utils/env.js"
import { httpServer } from "../utils/servers.js"

const PROXY_VARIABLES = ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]

/** No proxy variable but these: a developer's own proxy settings must not change what a test sees. */
const onlyProxyEnv = (vars: Record<string, string>) =>
  Object.fromEntries([...PROXY_VARIABLES, "no_proxy", "NO_PROXY"].map((name) => [name, vars[name]]))

const noRawLineBreak = (message: string) => expect(/[\r\n]/.test(message)).toBe(false)

describe("baseUrl", () => {
  it.scoped("a host and port without a scheme is an InvalidUrl that suggests http://", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Client.make({ baseUrl: "localhost:8080" }))
      expect(error._tag).toBe("InvalidUrl")
      expect(error.message).toBe(`baseUrl "localhost:8080" has no scheme: add one, as in "http://localhost:8080"`)
    }))

  it.scoped("an IP address and port without a scheme suggests http:// too", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Client.make({ baseUrl: "127.0.0.1:8080/api" }))
      expect(error._tag).toBe("InvalidUrl")
      expect(error.message).toContain(`as in "http://127.0.0.1:8080/api"`)
    }))

  it.scoped("a lone host name suggests http:// too", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Client.make({ baseUrl: "api.example.com" }))
      expect(error._tag).toBe("InvalidUrl")
      expect(error.message).toContain(`as in "http://api.example.com"`)
    }))

  it.scoped("a relative URL is an InvalidUrl that asks for the scheme and host", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Client.make({ baseUrl: "/api" }))
      expect(error._tag).toBe("InvalidUrl")
      expect(error.message).toBe(
        `baseUrl "/api" is not an absolute URL: give the scheme and host, as in "http://127.0.0.1:8080/api"`
      )
    }))

  it.scoped("a scheme other than http and https is an InvalidUrl that names the ones that work", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Client.make({ baseUrl: "ftp://files.example/pub" }))
      expect(error._tag).toBe("InvalidUrl")
      expect(error.message).toContain(`baseUrl "ftp://files.example/pub" uses the scheme "ftp"`)
      expect(error.message).toContain("start it with http:// or https://")
    }))

  it.scoped("the message shows the value without its credentials", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Client.make({ baseUrl: "ftp://alice:s3cret@files.example/" }))
      expect(error.message).toContain(`"ftp://***@files.example/"`)
      expect(error.message).not.toContain("s3cret")
      expect(error.message).not.toContain("alice")
    }))

  it.scoped("a CR or LF in it is refused, escaped in the message", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Client.make({ baseUrl: "http://127.0.0.1/api\r\nX-Injected: 1" }))
      expect(error._tag).toBe("InvalidUrl")
      expect(error.message).toContain(String.raw`"http://127.0.0.1/api\r\nX-Injected: 1"`)
      noRawLineBreak(error.message)
    }))

  it.scoped("Client.layer fails to build with the same typed error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(Client.Client, Client.layer({ baseUrl: "localhost:8080" })))
      expect(error._tag).toBe("InvalidUrl")
      expect(error.message).toContain("http://localhost:8080")
    }))

  it.scoped("Platform.layer fails to build with the same typed error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.provide(HttpClient.HttpClient, Platform.layer({ baseUrl: "localhost:8080" }))
      )
      expect(error._tag).toBe("InvalidUrl")
    }))

  it.scoped("is checked when a transport is given too", () =>
    Effect.gen(function*() {
      const transport = Transport.mock(() => new Response("unused"))
      const error = yield* Effect.flip(Client.make({ baseUrl: "/api", transport }))
      expect(error._tag).toBe("InvalidUrl")
    }))
})

describe("proxy", () => {
  it.scoped("an http proxy without a port is on port 80, as its URL says", () =>
    Effect.gen(function*() {
      expect(Client.isClient(yield* Client.make({ proxy: "http://proxy.test" }))).toBe(true)
      expect(Client.isClient(yield* Client.make({ proxy: "http://proxy.test:80" }))).toBe(true)
    }))

  it.scoped("a host and port without a scheme is an InvalidUrl that suggests http://", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Pool.make({ proxy: "proxy.test:3128" }))
      expect(error._tag).toBe("InvalidUrl")
      expect(error.message).toContain(`as in "http://proxy.test:3128"`)
    }))

  it.scoped("an https:// proxy is an InvalidUrl that names the schemes that work", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Pool.make({ proxy: "https://proxy.test:3128" }))
      expect(error._tag).toBe("InvalidUrl")
      expect(error.message).toContain(`uses the scheme "https"`)
      expect(error.message).toContain("http://")
      expect(error.message).toContain("socks5://")
    }))

  it.scoped("the message names the per-scheme option and hides credentials", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Pool.make({ proxy: { https: "ftp://bob:hunter2@proxy.test" } }))
      expect(error._tag).toBe("InvalidUrl")
      expect(error.message).toContain(`proxy.https "ftp://***@proxy.test"`)
      expect(error.message).not.toContain("hunter2")
    }))

  it.scoped("a CR or LF in it is refused, escaped in the message", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Pool.make({ proxy: "http://127.0.0.1:3128\r\n" }))
      expect(error._tag).toBe("InvalidUrl")
      expect(error.message).toContain(String.raw`"http://127.0.0.1:3128\r\n"`)
      noRawLineBreak(error.message)
    }))

  it.scoped("Transport.pool fails with the same typed error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Transport.pool({ proxy: "ftp://proxy.test:21" }))
      expect(error._tag).toBe("InvalidUrl")
    }))

  for (const name of PROXY_VARIABLES) {
    it.scoped(`a malformed ${name} in the environment fails Client.make with an InvalidUrl naming it`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(withEnv(onlyProxyEnv({ [name]: "proxy.test" }), Client.make()))
        expect(error._tag).toBe("InvalidUrl")
        expect(error.message).toContain(`the environment variable ${name} "proxy.test"`)
      }))
  }
})

// ---- a host or port that cannot work, named precisely --------------------------------------------------------------

/** A URL whose host or port cannot work, and what its message must say about it. */
const BAD_AUTHORITIES: ReadonlyArray<readonly [url: string, why: string]> = [
  ["http://127.0.0.1:99999/", "the port 99999 is out of range (1–65535)"],
  ["https://127.0.0.1:65536/", "the port 65536 is out of range (1–65535)"],
  ["http://127.0.0.1:0/", "port 0 cannot be connected to"],
  ["http://[::1]:0/", "port 0 cannot be connected to"],
  ["http://host:port/", `the port "port" is not a number (1–65535)`],
  ["http://example.com:-1/", `the port "-1" is not a number (1–65535)`],
  ["http://:80/", "the host is empty"],
  ["http:///path", "the host is empty"],
  ["http://exa mple.com/", `the host "exa mple.com" contains a space`],
  ["http://exa%20mple.com/", `the host "exa%20mple.com" contains a space`],
  ["http://exa^mple.com/", `the host "exa^mple.com" contains "^", which a host name cannot have`],
  ["http://[::1/", `the IPv6 address "[::1" has no closing "]"`],
  ["http://[::g]/", "the host [::g] is not an IPv6 address"],
  ["http://[::1]x/", `the IPv6 address [::1] is followed by "x": a port goes after a colon, as in [::1]:8080`],
  ["http://256.1.1.1/", "the host 256.1.1.1 is not an IPv4 address (four numbers from 0 to 255"],
  ["http://1.2.3.4.5/", "the host 1.2.3.4.5 is not an IPv4 address"]
]

describe("a host or port that cannot work is an InvalidUrl that names the problem", () => {
  for (const [url, why] of BAD_AUTHORITIES) {
    it.scoped(`request ${url}: ${why}`, () =>
      Effect.gen(function*() {
        const client = yield* Client.make()
        const error = yield* Effect.flip(client.get(url))
        expect(error._tag).toBe("InvalidUrl")
        expect(error.message).toContain(`The URL ${JSON.stringify(url)} is not valid: ${why}`)
      }))

    it.scoped(`baseUrl ${url}: ${why}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Client.make({ baseUrl: url }))
        expect(error._tag).toBe("InvalidUrl")
        expect(error.message).toContain(`baseUrl ${JSON.stringify(url)} is not valid: ${why}`)
      }))

    it.scoped(`proxy ${url}: ${why}`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Pool.make({ proxy: url }))
        expect(error._tag).toBe("InvalidUrl")
        expect(error.message).toContain(`proxy ${JSON.stringify(url)} is not valid: ${why}`)
      }))
  }

  it.scoped("credentials in such a URL stay out of the message", () =>
    Effect.gen(function*() {
      const url = "http://alice:s3cret@127.0.0.1:99999/"
      const client = yield* Client.make()
      const messages = [
        (yield* Effect.flip(client.get(url))).message,
        (yield* Effect.flip(Client.make({ baseUrl: url }))).message,
        (yield* Effect.flip(Pool.make({ proxy: url }))).message,
        (yield* Effect.flip(withEnv(onlyProxyEnv({ HTTPS_PROXY: url }), Client.make()))).message
      ]
      for (const message of messages) {
        expect(message).toContain("the port 99999 is out of range (1–65535)")
        expect(message).not.toContain("s3cret")
        expect(message).not.toContain("alice")
      }
    }))
})

describe("default headers", () => {
  it.scoped("a value outside Latin-1 fails Client.make with a LocalProtocolError naming the character", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Client.make({ headers: { "x-price": "5 €" } }))
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain(`headers: The value of header "x-price" contains "€" (U+20AC)`)
      expect(error.message).toContain("percent-encode")
    }))

  it.scoped("a CR or LF fails Client.make, escaped in the message", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Client.make({ headers: { "x-a": "1\r\nx-injected: 2" } }))
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain("a line break (CR)")
      expect(error.message).toContain(String.raw`"1\r\nx-injected: 2"`)
      noRawLineBreak(error.message)
    }))

  it.scoped("Content-Length cannot be a default header", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Client.make({ headers: { "content-length": "5" } }))
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain("Content-Length cannot be a default header")
    }))

  it.scoped("a bad one fails Platform.layer's build", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.provide(HttpClient.HttpClient, Platform.layer({ headers: { "x-name": "Zoë ☃" } }))
      )
      expect(error._tag).toBe("LocalProtocolError")
    }))
})

describe("other options", () => {
  const cases: ReadonlyArray<readonly [string, Pool.Options, string]> = [
    ["maxConnections 0", { maxConnections: 0 }, "maxConnections must be a whole number of at least 1"],
    ["a negative maxConnectionsPerHost", { maxConnectionsPerHost: -2 }, "maxConnectionsPerHost must be"],
    ["a negative maxKeepaliveConnections", { maxKeepaliveConnections: -1 }, "maxKeepaliveConnections must be"],
    ["retries NaN", { retries: NaN }, "retries must be a whole number of at least 0, got NaN"],
    ["a keepaliveExpiry that is not a duration", { keepaliveExpiry: "forever" as never }, "keepaliveExpiry is not"],
    ["a timeout phase that is not a duration", { timeout: { read: "soon" as never } }, "timeout.read is not"],
    ["limits.maxHeadSize 0", { limits: { maxHeadSize: 0 } }, "limits.maxHeadSize must be a whole number of bytes"],
    ["http1: false without http2", { http1: false }, "set http2: true as well"],
    ["a localAddress that is not an IP", { localAddress: "eth0" }, "localAddress must be an IP address"]
  ]
  for (const [what, options, message] of cases) {
    it.scoped(`${what} fails Pool.make with a LocalProtocolError`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Pool.make(options))
        expect(error._tag).toBe("LocalProtocolError")
        expect(error.message).toContain(message)
      }))
  }

  it.scoped("a negative maxRedirects fails Client.make", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Client.make({ maxRedirects: -1 }))
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain("maxRedirects must be a whole number of at least 0, got -1")
    }))

  it.scoped("a captureHeaders name that is not a header name fails Client.make, naming the list", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Client.make({ captureHeaders: { response: ["x-ok", "x id"] } }))
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toBe(`captureHeaders.response: The header name "x id" is not a valid HTTP token`)
    }))

  it.scoped("captureHeaders may name the credentials: they are accepted and never captured", () =>
    Effect.gen(function*() {
      yield* Client.make({ captureHeaders: { request: ["Authorization", "x-id"], response: ["set-cookie"] } })
    }))

  it.scoped("a bad timeout fails Client.make over a transport too", () =>
    Effect.gen(function*() {
      const transport = Transport.mock(() => new Response("unused"))
      const error = yield* Effect.flip(Client.make({ transport, timeout: "a while" as never }))
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain(`timeout is not a duration: "a while"`)
    }))
})

describe("per-request values HTTP cannot carry", () => {
  it.scoped("a header value outside Latin-1 fails that request only, naming the character", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((_, response) => response.end("ok"))
      const client = yield* Client.make()
      const error = yield* Effect.flip(client.get(`${server.url}/`, { headers: { "x-name": "☃" } }))
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain(`contains "☃" (U+2603)`)
      expect((yield* client.get(`${server.url}/`)).text).toBe("ok")
      expect(server.acceptedSockets()).toBe(1)
    }))

  it.scoped("a method with CR/LF is refused with the method escaped in the message", () =>
    Effect.gen(function*() {
      const client = yield* Client.make()
      const error = yield* Effect.flip(client.request("GET\r\nX-INJECTED: 1\r\n", "http://127.0.0.1:1/"))
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toMatch(/^"GET\\r\\nX-INJECTED: 1\\r\\n" http:\/\/127\.0\.0\.1:1\//)
      noRawLineBreak(error.message)
    }))

  it.scoped("over HTTP/2 a header value outside Latin-1 is the same LocalProtocolError, nothing sent", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({ secure: false, onStream: (stream) => stream.respond({ ":status": 200 }) })
      const pool = yield* Pool.make({ http1: false, http2: true })
      const error = yield* Effect.flip(pool.request("GET", `${server.url}/`, { headers: { "x-name": "€" } }))
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain("(U+20AC)")
      expect(server.streams()).toBe(0)
    }))
})

describe("proxy credentials", () => {
  it.scoped("a % that starts no escape in a proxy's password is kept as it is, not a defect", () =>
    Effect.gen(function*() {
      expect(Client.isClient(yield* Client.make({ proxy: "http://bob:100%zz@127.0.0.1:3128" }))).toBe(true)
    }))
})
