/**
 * TLS through the pool (verification, private CAs, SNI, ALPN, client certificates, keep-alive) and what a response
 * offers once it is in: charset decoding, JSON, status predicates, raiseForStatus, elapsed, and content decoding
 * for buffered and streamed bodies.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Duration, Effect, Stream } from "effect"
import { Client, Pool } from "httpfx"
import { readFileSync } from "node:fs"
import type * as http from "node:http"
import type * as tls from "node:tls"
import * as zlib from "node:zlib"
import { httpServer, httpsServer, rawServer } from "../utils/servers.js"

// ---- fixtures ------------------------------------------------------------------------------------------------------

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url))
const ca = fixture("ca.crt")
const serverCert = fixture("server.crt")
const serverKey = fixture("server.key")
const clientCert = fixture("client.crt")
const clientKey = fixture("client.key")
const serverTls = { cert: serverCert, key: serverKey }

const bytesOf = (chunks: Chunk.Chunk<Uint8Array>): Buffer => Buffer.concat(Chunk.toArray(chunks))

/**
 * Fail fast (as a defect, keeping the error channel for the expected HttpError) instead of waiting for the test
 * timeout when a body stream hangs.
 */
const within = <A, E>(effect: Effect.Effect<A, E>, what: string) =>
  Effect.timeoutFailCause(effect, {
    duration: "3 seconds",
    onTimeout: () => Cause.die(new Error(`${what} neither ended nor failed within 3 s: the stream hangs`))
  })

/** The TLS facts the server saw for each request. */
interface Seen {
  servername: string | false | undefined
  alpnProtocol: string | false | null | undefined
  authorized: boolean
  peerCommonName: string | undefined
}

/** An https server answering "secure" and recording what TLS negotiated, per request. */
const recordingHttpsServer = (options: tls.TlsOptions) =>
  Effect.gen(function*() {
    const seen: Array<Seen> = []
    const server = yield* httpsServer(options, (req, res) => {
      const socket = req.socket as tls.TLSSocket
      const peer = socket.getPeerCertificate()
      seen.push({
        servername: (socket as tls.TLSSocket & { servername?: string | false }).servername,
        alpnProtocol: socket.alpnProtocol,
        authorized: socket.authorized,
        peerCommonName: peer?.subject?.CN === undefined ? undefined : String(peer.subject.CN)
      })
      req.resume()
      res.end("secure")
    })
    return { server, seen }
  })

// ---- TLS -----------------------------------------------------------------------------------------------------------

describe("TLS", () => {
  it.scopedLive("the default verification rejects a certificate from an unknown CA with a ConnectError about TLS", () =>
    Effect.gen(function*() {
      const { server } = yield* recordingHttpsServer(serverTls)
      const pool = yield* Pool.make()
      const url = `${server.url}/`
      const error = yield* Effect.flip(pool.request("GET", url))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toMatch(/TLS|certificate/i)
      expect(error.message).toContain(url)
    }))

  it.scopedLive("tls.ca trusts the private CA for https://127.0.0.1", () =>
    Effect.gen(function*() {
      const { server } = yield* recordingHttpsServer(serverTls)
      const pool = yield* Pool.make({ tls: { ca } })
      const response = yield* pool.request("GET", `https://127.0.0.1:${server.port}/`)
      expect(response.status).toBe(200)
      expect(response.text).toBe("secure")
    }))

  it.scopedLive("tls.ca trusts the private CA for https://localhost", () =>
    Effect.gen(function*() {
      const { server } = yield* recordingHttpsServer(serverTls)
      const pool = yield* Pool.make({ tls: { ca } })
      const response = yield* pool.request("GET", `https://localhost:${server.port}/`)
      expect(response.text).toBe("secure")
    }))

  it.scopedLive("rejectUnauthorized: false accepts the certificate without a CA", () =>
    Effect.gen(function*() {
      const { server } = yield* recordingHttpsServer(serverTls)
      const pool = yield* Pool.make({ tls: { rejectUnauthorized: false } })
      const response = yield* pool.request("GET", `${server.url}/`)
      expect(response.text).toBe("secure")
    }))

  it.scopedLive("SNI carries the host name for a localhost URL", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* recordingHttpsServer(serverTls)
      const pool = yield* Pool.make({ tls: { ca } })
      yield* pool.request("GET", `https://localhost:${server.port}/`)
      expect(seen.map((s) => s.servername)).toEqual(["localhost"])
    }))

  it.scopedLive("no SNI is sent for an IP-literal URL (RFC 6066 §3)", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* recordingHttpsServer(serverTls)
      const pool = yield* Pool.make({ tls: { ca } })
      yield* pool.request("GET", `https://127.0.0.1:${server.port}/`)
      expect(seen).toHaveLength(1)
      expect(seen[0]!.servername).toBeFalsy()
    }))

  it.scopedLive("ALPN negotiates http/1.1 with a server that offers it", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* recordingHttpsServer({ ...serverTls, ALPNProtocols: ["http/1.1"] })
      const pool = yield* Pool.make({ tls: { ca } })
      yield* pool.request("GET", `${server.url}/`)
      expect(seen.map((s) => s.alpnProtocol)).toEqual(["http/1.1"])
    }))

  it.scopedLive("mutual TLS: a client certificate signed by the CA is accepted", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* recordingHttpsServer({
        ...serverTls,
        ca,
        requestCert: true,
        rejectUnauthorized: true
      })
      const pool = yield* Pool.make({ tls: { ca, cert: clientCert, key: clientKey } })
      const response = yield* pool.request("GET", `${server.url}/`)
      expect(response.text).toBe("secure")
      expect(seen.map((s) => [s.authorized, s.peerCommonName])).toEqual([[true, "httpfx test client"]])
    }))

  it.scopedLive("mutual TLS: a client without a certificate is refused", () =>
    Effect.gen(function*() {
      const { seen, server } = yield* recordingHttpsServer({
        ...serverTls,
        ca,
        requestCert: true,
        rejectUnauthorized: true
      })
      const pool = yield* Pool.make({ tls: { ca } })
      const error = yield* Effect.flip(pool.request("GET", `${server.url}/`))
      // ReadError, not ConnectError: with TLS 1.3 (Node's default on both ends) the client's handshake completes
      // (secureConnect) before the server has checked the missing certificate; the server's "certificate required"
      // alert (116) arrives after the request was written, while the response is awaited. (Under TLS 1.2 the
      // handshake itself would fail, a ConnectError.) Either way the request never reached the handler.
      expect(error._tag).toBe("ReadError")
      expect(error.message).toMatch(/certificate required/i)
      expect(seen).toEqual([])
    }))

  it.scopedLive("keep-alive reuses one TLS connection for two requests", () =>
    Effect.gen(function*() {
      const { server } = yield* recordingHttpsServer(serverTls)
      const pool = yield* Pool.make({ tls: { ca } })
      yield* pool.request("GET", `${server.url}/one`)
      yield* pool.request("GET", `${server.url}/two`)
      expect(server.acceptedSockets()).toBe(1)
      const connections = yield* pool.connections
      expect(connections.map((c) => [c.origin, c.state, c.requestCount])).toEqual([
        [`https://127.0.0.1:${server.port}`, "IDLE", 2]
      ])
    }))
})

// ---- the wrong scheme for the port --------------------------------------------------------------------------------

/** A plain-HTTP server answering "plain". */
const plainServer = httpServer((req, res) => {
  req.resume()
  res.end("plain")
})

/** A raw server that answers whatever it reads with these bytes (a TLS record, as some TLS servers send). */
const answering = (bytes: Buffer) => rawServer((socket) => socket.once("data", () => socket.end(bytes)))

// A fatal "unexpected message" alert and the start of a ServerHello (RFC 8446 §5.1, §6).
const TLS_ALERT = Buffer.from([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x0a])
const TLS_HANDSHAKE = Buffer.from([0x16, 0x03, 0x03, 0x00, 0x31, 0x02, 0x00, 0x00, 0x2d, 0x03, 0x03])

describe("the wrong scheme for the port", () => {
  it.scopedLive("https:// to a plain-HTTP server is a ConnectError that says so and suggests the http:// URL", () =>
    Effect.gen(function*() {
      const server = yield* plainServer
      const pool = yield* Pool.make({ tls: { ca } })
      const error = yield* Effect.flip(pool.request("GET", `https://127.0.0.1:${server.port}/items?page=2`))
      expect(error._tag).toBe("ConnectError")
      expect(error.message).toContain("the server answered in plain HTTP, not TLS: use http://")
      expect(error.message).toContain(`"http://127.0.0.1:${server.port}/items?page=2"`)
      expect(error.message).not.toMatch(/tls\.ca|CA|ssl3_get_record|[\r\n]/)
    }))

  it.scopedLive("the same through the Client, without the URL's credentials, and over HTTP/2 as well", () =>
    Effect.gen(function*() {
      const server = yield* plainServer
      for (const http2 of [false, true]) {
        const client = yield* Client.make({ tls: { ca }, http2 })
        const error = yield* Effect.flip(client.get(`https://alice:s3cret@127.0.0.1:${server.port}/`))
        expect(error._tag).toBe("ConnectError")
        expect(error.message).toContain(`plain HTTP, not TLS: use http://, as in "http://127.0.0.1:${server.port}/"`)
        expect(error.message).not.toMatch(/alice|s3cret/)
      }
    }))

  it.scopedLive("http:// to a server that answers with a TLS record says the server answered with TLS", () =>
    Effect.gen(function*() {
      for (const bytes of [TLS_ALERT, TLS_HANDSHAKE]) {
        const server = yield* answering(bytes)
        const pool = yield* Pool.make()
        const error = yield* Effect.flip(pool.request("GET", `http://127.0.0.1:${server.port}/`))
        expect(error._tag).toBe("RemoteProtocolError")
        expect(error.message).toContain("the server answered with TLS, not plain HTTP: use https://")
      }
    }))

  it.scopedLive("http:// to a Node https server, which closes without a byte, suggests https:// (Client)", () =>
    Effect.gen(function*() {
      const { server } = yield* recordingHttpsServer(serverTls)
      const client = yield* Client.make()
      const error = yield* Effect.flip(client.get(`http://127.0.0.1:${server.port}/`))
      expect(error._tag).toBe("RemoteProtocolError")
      expect(error.message).toContain("if the server expects TLS on this port, use https://")
    }))
})

// ---- responses -----------------------------------------------------------------------------------------------------

/** A server that answers every request with these headers and body bytes. */
const fixedServer = (headers: http.OutgoingHttpHeaders, body: Buffer, status = 200) =>
  httpServer((req, res) => {
    req.resume()
    res.writeHead(status, headers)
    res.end(body)
  })

describe("response text and json", () => {
  it.scopedLive("text decodes UTF-8 when the content type names no charset", () =>
    Effect.gen(function*() {
      const server = yield* fixedServer({ "content-type": "text/plain" }, Buffer.from("café ☕ 𝄞", "utf8"))
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/`)
      expect(response.text).toBe("café ☕ 𝄞")
    }))

  it.scopedLive("text decodes per the charset parameter: iso-8859-1 byte 0xE9 is é", () =>
    Effect.gen(function*() {
      const server = yield* fixedServer(
        { "content-type": "text/plain; charset=iso-8859-1" },
        Buffer.from([0x63, 0x61, 0x66, 0xe9])
      )
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/`)
      expect(response.text).toBe("café")
    }))

  it.scopedLive("text replaces invalid UTF-8 bytes with U+FFFD", () =>
    Effect.gen(function*() {
      const server = yield* fixedServer(
        { "content-type": "text/plain; charset=utf-8" },
        Buffer.from([0x61, 0xff, 0x62])
      )
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/`)
      expect(response.text).toBe("a\uFFFDb")
    }))

  it.scopedLive("json parses the body", () =>
    Effect.gen(function*() {
      const server = yield* fixedServer(
        { "content-type": "application/json" },
        Buffer.from(JSON.stringify({ a: [1, 2], b: "é", c: null }))
      )
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/`)
      expect(yield* response.json).toEqual({ a: [1, 2], b: "é", c: null })
    }))

  it.scopedLive("json on an invalid body fails with a DecodingError that names the URL", () =>
    Effect.gen(function*() {
      const server = yield* fixedServer({ "content-type": "application/json" }, Buffer.from("{not json"))
      const pool = yield* Pool.make()
      const url = `${server.url}/bad-json`
      const response = yield* pool.request("GET", url)
      const error = yield* Effect.flip(response.json)
      expect(error._tag).toBe("DecodingError")
      expect(error.message).toContain(url)
    }))
})

describe("status", () => {
  const none = { isSuccess: false, isRedirect: false, isClientError: false, isServerError: false, isError: false }
  const cases = [
    { status: 200, headers: {}, predicates: { ...none, isSuccess: true } },
    { status: 301, headers: { location: "/elsewhere" }, predicates: { ...none, isRedirect: true } },
    { status: 404, headers: {}, predicates: { ...none, isClientError: true, isError: true } },
    { status: 500, headers: {}, predicates: { ...none, isServerError: true, isError: true } }
  ] as const

  for (const expected of cases) {
    it.scopedLive(`the predicates of a ${expected.status} response`, () =>
      Effect.gen(function*() {
        const server = yield* fixedServer(expected.headers, Buffer.from("body"), expected.status)
        const pool = yield* Pool.make()
        const response = yield* pool.request("GET", `${server.url}/`)
        expect(response.status).toBe(expected.status)
        expect({
          isSuccess: response.isSuccess,
          isRedirect: response.isRedirect,
          isClientError: response.isClientError,
          isServerError: response.isServerError,
          isError: response.isError
        }).toEqual(expected.predicates)
      }))
  }

  it.scopedLive("raiseForStatus fails on a 404 with an HttpStatusError carrying the response", () =>
    Effect.gen(function*() {
      const server = yield* fixedServer({}, Buffer.from("missing"), 404)
      const pool = yield* Pool.make()
      const url = `${server.url}/missing`
      const response = yield* pool.request("GET", url)
      const error = yield* Effect.flip(response.raiseForStatus)
      expect(error._tag).toBe("HttpStatusError")
      expect(error.response.status).toBe(404)
      expect(error.message).toContain("404")
      expect(error.message).toContain(url)
    }))

  it.scopedLive("raiseForStatus succeeds on a 200 with the response itself", () =>
    Effect.gen(function*() {
      const server = yield* fixedServer({}, Buffer.from("fine"))
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/`)
      expect(yield* response.raiseForStatus).toBe(response)
    }))

  it.scopedLive("elapsed is a positive Duration", () =>
    Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        req.resume()
        // A little server time, so that elapsed cannot round down to zero.
        setTimeout(() => res.end("late"), 20)
      })
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/`)
      expect(Duration.isDuration(response.elapsed)).toBe(true)
      expect(Duration.toMillis(response.elapsed)).toBeGreaterThan(0)
    }))
})

// ---- content decoding ----------------------------------------------------------------------------------------------

// Repetitive enough to compress well, long enough to span several socket reads, with multi-byte characters.
const payload = Buffer.from("httpfx decodes content ✓ ".repeat(4000) + "the end", "utf8")

const encodings = [
  { name: "gzip", header: "gzip", encode: (b: Buffer) => zlib.gzipSync(b) },
  { name: "deflate (zlib-wrapped, as RFC 9110 says)", header: "deflate", encode: (b: Buffer) => zlib.deflateSync(b) },
  { name: "deflate (raw, as some servers send it)", header: "deflate", encode: (b: Buffer) => zlib.deflateRawSync(b) },
  { name: "br", header: "br", encode: (b: Buffer) => zlib.brotliCompressSync(b) },
  // Codings are listed in the order they were applied: gzip first, then br.
  { name: "gzip, br (stacked)", header: "gzip, br", encode: (b: Buffer) => zlib.brotliCompressSync(zlib.gzipSync(b)) },
  { name: "x-gzip", header: "x-gzip", encode: (b: Buffer) => zlib.gzipSync(b) },
  // zstd where the running Node has it (22.15+, 23.8+); on older Nodes it is not offered in Accept-Encoding either.
  ...(typeof (zlib as any).zstdCompressSync === "function"
    ? [{ name: "zstd", header: "zstd", encode: (b: Buffer): Buffer => (zlib as any).zstdCompressSync(b) }]
    : [])
]

describe("content decoding", () => {
  for (const encoding of encodings) {
    it.scopedLive(`pool.request decodes ${encoding.name}`, () =>
      Effect.gen(function*() {
        const server = yield* fixedServer({ "content-encoding": encoding.header }, encoding.encode(payload))
        const pool = yield* Pool.make()
        const response = yield* pool.request("GET", `${server.url}/`)
        expect(Buffer.from(response.content).equals(payload)).toBe(true)
        expect(response.headers["content-encoding"]).toBe(encoding.header)
      }))

    it.scopedLive(`pool.stream decodes ${encoding.name} in stream`, () =>
      Effect.gen(function*() {
        const server = yield* fixedServer({ "content-encoding": encoding.header }, encoding.encode(payload))
        const pool = yield* Pool.make()
        const response = yield* pool.stream("GET", `${server.url}/`)
        const decoded = bytesOf(yield* within(Stream.runCollect(response.stream), "the decoded stream"))
        expect(decoded.length).toBe(payload.length)
        expect(decoded.equals(payload)).toBe(true)
      }))

    it.scopedLive(`pool.stream leaves ${encoding.name} as it is in raw`, () =>
      Effect.gen(function*() {
        const encoded = encoding.encode(payload)
        const server = yield* fixedServer({ "content-encoding": encoding.header }, encoded)
        const pool = yield* Pool.make()
        const response = yield* pool.stream("GET", `${server.url}/`)
        expect(bytesOf(yield* within(Stream.runCollect(response.raw), "the raw stream")).equals(encoded)).toBe(true)
      }))
  }

  const corrupt = Buffer.from("this was never gzip, whatever the header says")

  it.scopedLive("a corrupt gzip body fails pool.request with a DecodingError", () =>
    Effect.gen(function*() {
      const server = yield* fixedServer({ "content-encoding": "gzip" }, corrupt)
      const pool = yield* Pool.make()
      const url = `${server.url}/corrupt`
      const error = yield* Effect.flip(pool.request("GET", url))
      expect(error._tag).toBe("DecodingError")
      expect(error.message).toContain(url)
    }))

  it.scopedLive("a corrupt gzip body fails the decoded stream with a DecodingError", () =>
    Effect.gen(function*() {
      const server = yield* fixedServer({ "content-encoding": "gzip" }, corrupt)
      const pool = yield* Pool.make()
      const response = yield* pool.stream("GET", `${server.url}/corrupt`)
      const error = yield* Effect.flip(within(Stream.runDrain(response.stream), "the decoded stream of a corrupt body"))
      expect(error._tag).toBe("DecodingError")
    }))

  it.scopedLive("an unknown Content-Encoding fails pool.request with a DecodingError", () =>
    Effect.gen(function*() {
      const server = yield* fixedServer({ "content-encoding": "foo" }, Buffer.from("opaque"))
      const pool = yield* Pool.make()
      const error = yield* Effect.flip(pool.request("GET", `${server.url}/foo`))
      expect(error._tag).toBe("DecodingError")
      expect(error.message).toContain("foo")
    }))

  it.scopedLive("an unknown Content-Encoding fails the decoded stream with a DecodingError", () =>
    Effect.gen(function*() {
      const server = yield* fixedServer({ "content-encoding": "foo" }, Buffer.from("opaque"))
      const pool = yield* Pool.make()
      const response = yield* pool.stream("GET", `${server.url}/foo`)
      const drained = within(Stream.runDrain(response.stream), "the decoded stream of an unknown coding")
      const error = yield* Effect.flip(drained)
      expect(error._tag).toBe("DecodingError")
    }))
})
