/**
 * `response.timings` from real loopback servers: which phases a request passes through (a connection opened for
 * it or reused, DNS or an IP literal, TLS or not, a wait for a busy pool), how long the slow ones took, HTTP/1.1
 * and HTTP/2, buffered and streaming responses, redirect hops, and the zero timings of a transport with no socket.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Stream } from "effect"
import { Client, Pool, Transport } from "httpfx"
import type { Response } from "httpfx"
import type * as http from "node:http"
import * as net from "node:net"
import { h2Server } from "../h2/servers.js"
import { ca, serverCert, serverKey } from "../h2/servers.js"
import { httpServer, httpsServer, rawServer } from "../utils/servers.js"

// ---- helpers -------------------------------------------------------------------------------------------------------

const DELAY = 100
/** What a server's 100 ms wait must show at least: timers fire late, never early, but the clock's edges blur. */
const AT_LEAST = 90

const ms = (duration: Duration.Duration): number => Duration.toMillis(duration)

const PHASES = ["poolWait", "dns", "connect", "tls", "send", "firstByte", "download"] as const

/** Every phase in milliseconds, for one `toEqual` or a readable failure. */
const phasesOf = (timings: Response.Timings): Record<(typeof PHASES)[number], number> =>
  Object.fromEntries(PHASES.map((phase) => [phase, ms(timings[phase])])) as Record<(typeof PHASES)[number], number>

const ZERO = Object.fromEntries(PHASES.map((phase) => [phase, 0]))

/** A server whose handler is chosen by path; anything else answers "ok" at once. */
const routes = (table: Record<string, http.RequestListener>) =>
  httpServer((req, res) => {
    const handler = table[new URL(req.url!, "http://x").pathname]
    if (handler === undefined) res.end("ok")
    else handler(req, res)
  })

/** Read the request body, then wait `DELAY` ms before the head. */
const slowHead: http.RequestListener = (req, res) => {
  req.resume()
  req.on("end", () => setTimeout(() => res.end("late"), DELAY))
}

/** Answer once the whole request body is in. */
const afterBody: http.RequestListener = (req, res) => {
  req.resume()
  req.on("end", () => res.end("ok"))
}

/** The head and half the body at once, the other half `DELAY` ms later. */
const slowBody: http.RequestListener = (req, res) => {
  req.resume()
  res.writeHead(200, { "content-type": "text/plain", "content-length": "10" })
  res.write("first")
  setTimeout(() => res.end("secon"), DELAY)
}

const redirectAfterDelay: http.RequestListener = (req, res) => {
  req.resume()
  setTimeout(() => {
    res.writeHead(302, { location: "/fast" })
    res.end()
  }, DELAY)
}

/** A CONNECT proxy that takes `DELAY` ms to open each tunnel, then splices the streams. */
const slowTunnelProxy = () =>
  rawServer((socket) => {
    let buffered = ""
    const onData = (data: Buffer) => {
      buffered += data.toString("latin1")
      if (!buffered.includes("\r\n\r\n")) return
      socket.removeListener("data", onData)
      const authority = buffered.split(" ")[1]!
      const port = Number(authority.slice(authority.lastIndexOf(":") + 1))
      setTimeout(() => {
        const upstream = net.connect({ host: "127.0.0.1", port }, () => {
          socket.write("HTTP/1.1 200 Connection established\r\n\r\n")
          socket.pipe(upstream).pipe(socket)
        })
        upstream.on("error", () => socket.destroy())
        socket.on("close", () => upstream.destroy())
      }, DELAY)
    }
    socket.on("data", onData)
  })

const sleep = (millis: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

/** A request body in two chunks, the second `DELAY` ms after the first. */
const slowUpload = Stream.concat(
  Stream.make(new TextEncoder().encode("first")),
  Stream.fromEffect(Effect.as(sleep(DELAY), new TextEncoder().encode("second")))
)

// ---- tests ---------------------------------------------------------------------------------------------------------

describe("timings: the connection", () => {
  it.scopedLive("only the request that opened the connection has connect time; the next one on it has none", () =>
    Effect.gen(function*() {
      const server = yield* routes({})
      const client = yield* Client.make()
      const first = yield* client.get(server.url)
      const second = yield* client.get(server.url)
      expect(ms(first.timings.connect)).toBeGreaterThan(0)
      const reused = phasesOf(second.timings)
      expect({ dns: reused.dns, connect: reused.connect, tls: reused.tls }).toEqual({ dns: 0, connect: 0, tls: 0 })
      // The reused connection's request still took time to send and to answer.
      expect(reused.send).toBeGreaterThan(0)
      expect(reused.firstByte).toBeGreaterThan(0)
    }))

  it.scopedLive("an IP literal needs no DNS lookup, localhost does", () =>
    Effect.gen(function*() {
      const server = yield* routes({})
      // Two clients: the second must open a connection of its own, through the resolver.
      const literal = yield* (yield* Client.make()).get(`http://127.0.0.1:${server.port}/`)
      const named = yield* (yield* Client.make()).get(`http://localhost:${server.port}/`)
      expect(ms(literal.timings.dns)).toBe(0)
      expect(ms(literal.timings.connect)).toBeGreaterThan(0)
      expect(ms(named.timings.dns)).toBeGreaterThan(0)
      expect(ms(named.timings.connect)).toBeGreaterThan(0)
    }))

  it.scopedLive("https has a TLS handshake after the connect; http:// has none", () =>
    Effect.gen(function*() {
      const secure = yield* httpsServer({ cert: serverCert, key: serverKey }, (_req, res) => res.end("secure"))
      const plain = yield* routes({})
      const client = yield* Client.make({ tls: { ca } })
      const overTls = yield* client.get(secure.url)
      const overTcp = yield* client.get(plain.url)
      expect(ms(overTls.timings.connect)).toBeGreaterThan(0)
      expect(ms(overTls.timings.tls)).toBeGreaterThan(0)
      expect(ms(overTcp.timings.connect)).toBeGreaterThan(0)
      expect(ms(overTcp.timings.tls)).toBe(0)
    }))
})

describe("timings: proxies", () => {
  it.scopedLive("through a CONNECT proxy, connect includes opening the tunnel, and TLS comes after it", () =>
    Effect.gen(function*() {
      const origin = yield* httpsServer({ cert: serverCert, key: serverKey }, (_req, res) => res.end("tunnelled"))
      const proxy = yield* slowTunnelProxy()
      const client = yield* Client.make({ proxy: proxy.url, tls: { ca } })
      const response = yield* client.get(origin.url)
      expect(response.text).toBe("tunnelled")
      expect(ms(response.timings.connect)).toBeGreaterThanOrEqual(AT_LEAST)
      expect(ms(response.timings.tls)).toBeGreaterThan(0)
      expect(ms(response.timings.tls)).toBeLessThan(AT_LEAST)
    }))
})

describe("timings: the pool", () => {
  it.scopedLive("the second of two requests on one busy connection waits in the pool for the first to finish", () =>
    Effect.gen(function*() {
      const server = yield* routes({ "/slow": slowHead })
      const client = yield* Client.make({ maxConnections: 1 })
      const [a, b] = yield* Effect.all([client.get(`${server.url}/slow`), client.get(`${server.url}/slow`)], {
        concurrency: "unbounded"
      })
      const waits = [ms(a.timings.poolWait), ms(b.timings.poolWait)].sort((x, y) => x - y)
      // The first is checked out at once (its connection is opened for it); the second waits the first's 100 ms.
      expect(waits[0]).toBeLessThan(AT_LEAST / 2)
      expect(waits[1]).toBeGreaterThanOrEqual(AT_LEAST)
    }))

  it.scopedLive("Pool.request's responses have timings too", () =>
    Effect.gen(function*() {
      const server = yield* routes({ "/slow": slowHead })
      const pool = yield* Pool.make()
      const response = yield* pool.request("GET", `${server.url}/slow`)
      expect(ms(response.timings.connect)).toBeGreaterThan(0)
      expect(ms(response.timings.firstByte)).toBeGreaterThanOrEqual(AT_LEAST)
    }))
})

describe("timings: the exchange", () => {
  it.scopedLive("firstByte is the wait from the request sent to the response head", () =>
    Effect.gen(function*() {
      const server = yield* routes({ "/slow": slowHead })
      const client = yield* Client.make()
      const response = yield* client.get(`${server.url}/slow`)
      expect(ms(response.timings.firstByte)).toBeGreaterThanOrEqual(AT_LEAST)
      expect(ms(response.timings.download)).toBeLessThan(AT_LEAST)
    }))

  it.scopedLive("send lasts until the request body's last byte is written", () =>
    Effect.gen(function*() {
      const server = yield* routes({ "/upload": afterBody })
      const client = yield* Client.make()
      const response = yield* client.post(`${server.url}/upload`, { content: slowUpload })
      expect(response.text).toBe("ok")
      expect(ms(response.timings.send)).toBeGreaterThanOrEqual(AT_LEAST)
      expect(ms(response.timings.firstByte)).toBeLessThan(AT_LEAST)
    }))

  it.scopedLive("download is the time from the head to the body's last byte, on a buffered response", () =>
    Effect.gen(function*() {
      const server = yield* routes({ "/slow-body": slowBody })
      const client = yield* Client.make()
      const response = yield* client.get(`${server.url}/slow-body`)
      expect(response.text).toBe("firstsecon")
      expect(ms(response.timings.download)).toBeGreaterThanOrEqual(AT_LEAST)
      expect(ms(response.timings.firstByte)).toBeLessThan(AT_LEAST)
    }))

  it.scopedLive("a streaming response's download is zero until its body is read to the end, then set", () =>
    Effect.gen(function*() {
      const server = yield* routes({ "/slow-body": slowBody })
      const client = yield* Client.make()
      const response = yield* client.stream("GET", `${server.url}/slow-body`)
      expect(ms(response.timings.download)).toBe(0)
      expect(ms(response.timings.connect)).toBeGreaterThan(0)
      const chunks = yield* Stream.runCollect(response.stream)
      expect(Buffer.concat([...chunks]).toString()).toBe("firstsecon")
      expect(ms(response.timings.download)).toBeGreaterThanOrEqual(AT_LEAST)
    }))

  it.scopedLive("a streaming response read whole gives a response with the same timings", () =>
    Effect.gen(function*() {
      const server = yield* routes({ "/slow-body": slowBody })
      const client = yield* Client.make()
      const streaming = yield* client.stream("GET", `${server.url}/slow-body`)
      const response = yield* streaming.read
      expect(ms(response.timings.download)).toBeGreaterThanOrEqual(AT_LEAST)
      expect(phasesOf(response.timings)).toEqual(phasesOf(streaming.timings))
    }))

  it.scopedLive("the phases of a response add up to no more than its elapsed time", () =>
    Effect.gen(function*() {
      const secure = yield* httpsServer({ cert: serverCert, key: serverKey }, slowBody)
      const client = yield* Client.make({ tls: { ca } })
      const response = yield* client.get(`${secure.url}/`)
      const phases = phasesOf(response.timings)
      for (const phase of PHASES) {
        if (phase !== "poolWait" && phase !== "dns") expect(phases[phase], phase).toBeGreaterThan(0)
      }
      const sum = PHASES.reduce((total, phase) => total + phases[phase], 0)
      // A Duration keeps whole nanoseconds: seven rounded phases may pass the unrounded total by a few.
      expect(sum).toBeLessThanOrEqual(ms(response.elapsed) + 1e-5)
      expect(sum).toBeGreaterThanOrEqual(AT_LEAST)
    }))

  it.scopedLive("each redirect hop's response has timings of its own", () =>
    Effect.gen(function*() {
      const server = yield* routes({ "/redirect": redirectAfterDelay })
      const client = yield* Client.make({ followRedirects: true })
      const response = yield* client.get(`${server.url}/redirect`)
      expect(response.history).toHaveLength(1)
      const hop = response.history[0]!.timings
      expect(ms(hop.firstByte)).toBeGreaterThanOrEqual(AT_LEAST)
      expect(ms(hop.connect)).toBeGreaterThan(0)
      // The final hop went on the redirect's connection, and its server answered at once.
      expect(ms(response.timings.firstByte)).toBeLessThan(AT_LEAST)
      expect(ms(response.timings.connect)).toBe(0)
      expect(ms(response.timings.send)).toBeGreaterThan(0)
    }))
})

describe("timings: HTTP/2", () => {
  it.scopedLive("an HTTP/2 request has send and firstByte times, and TLS on its new connection", () =>
    Effect.gen(function*() {
      const server = yield* h2Server({
        onStream: (stream) => {
          setTimeout(() => {
            if (stream.destroyed) return
            stream.respond({ ":status": 200 })
            stream.end("h2")
          }, DELAY)
        }
      })
      const client = yield* Client.make({ http2: true, tls: { ca } })
      const response = yield* client.get(server.url)
      expect(response.httpVersion).toBe("HTTP/2")
      expect(ms(response.timings.send)).toBeGreaterThan(0)
      expect(ms(response.timings.firstByte)).toBeGreaterThanOrEqual(AT_LEAST)
      expect(ms(response.timings.tls)).toBeGreaterThan(0)
    }))
})

describe("timings: transports with no socket", () => {
  it.scopedLive("a mock transport's responses have every phase zero, where the pool's are measured", () =>
    Effect.gen(function*() {
      const server = yield* routes({})
      const pooled = yield* (yield* Client.make()).get(server.url)
      expect(ms(pooled.timings.connect)).toBeGreaterThan(0)
      const client = yield* Client.make({ transport: Transport.mock(() => new globalThis.Response("mocked")) })
      const response = yield* client.get("http://api.test/")
      expect(response.text).toBe("mocked")
      expect(phasesOf(response.timings)).toEqual(ZERO)
      const streaming = yield* client.stream("GET", "http://api.test/")
      expect(phasesOf(streaming.timings)).toEqual(ZERO)
    }))
})
