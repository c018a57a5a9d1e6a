/**
 * The interruption audit: a request is interrupted (Fiber.interrupt) in each phase of its life, through the Pool
 * and through the Client, and each time the test proves that nothing is left behind:
 *
 * - the slot comes back: with maxConnections 1, a waiter queued behind the victim proceeds and succeeds;
 * - the socket is closed: the server sees it close (counted on the server side);
 * - no fiber is left: the victim's fiber is Done, Fiber.await completes, and a supervisor that saw every fiber
 *   the request forked finds none alive;
 * - no Node handle or timer is left: after the test's scope closes, process.getActiveResourcesInfo() is back to
 *   what it was before the test;
 * - no error escapes: no unhandledRejection or uncaughtException during the whole file (checked last).
 *
 * Phases, for both: waiting for a slot (with and without a streamed body), DNS, an HTTP proxy's CONNECT, the TLS
 * handshake, the backoff between connect retries, writing a streamed body, writing a 16 MiB buffered body, waiting
 * for the head (buffered and streaming), mid-body (buffered and streamed), inside gzip decoding. Client only: a
 * redirect hop (to another origin, streamed, on the same connection), draining a redirect's body, a response hook,
 * the retry backoff after a 503, a Digest auth retry (buffered and streamed). Then, for both: a streamed body
 * released (response.close, or its scope closing) while another fiber reads it.
 *
 * Not here: the bare TCP connect. On loopback the kernel completes the three-way handshake before anyone calls
 * accept(), and this machine's network stack (gVisor) keeps completing it even when the listener never accepts
 * and its backlog is long full (tried: 300 connections to a listener with backlog 0 in a process blocked in
 * Atomics.wait all connected), so no loopback server can hold a client in `connect`. The CONNECTING state is held
 * instead by a DNS lookup that does not answer (dns.lookup held by the test: resolving `localhost` itself is
 * answered from /etc/hosts at once), a proxy that does not answer CONNECT, a TLS handshake that is never answered,
 * and the backoff between refused connects.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import { Auth, Client, HttpError, Pool } from "httpfx"
import type { Response } from "httpfx"
import type * as http from "node:http"
import * as zlib from "node:zlib"
import { eventually, httpServer, rawServer } from "../utils/servers.js"
import {
  busy,
  clientAgent,
  holdLookups,
  interruptAndHandOver,
  interruptVictim,
  leakFree,
  onRequestHead,
  poolAgent,
  startVictim,
  trackGunzips,
  trackProcessFaults
} from "./helpers.js"
import type { Agent, Victim } from "./helpers.js"

const faults = trackProcessFaults()

// ---- the two subjects ----------------------------------------------------------------------------------------------

/** The Pool or the Client, seen through the operations every phase needs. */
interface Subject extends Agent {
  readonly post: (
    url: string,
    content: Stream.Stream<Uint8Array> | Uint8Array
  ) => Effect.Effect<Response.Response, HttpError.HttpError>
  readonly stream: (
    method: string,
    url: string
  ) => Effect.Effect<Response.StreamingResponse, HttpError.HttpError, Scope.Scope>
}

const makeSubject = (kind: "Pool" | "Client", options: Pool.Options = {}): Effect.Effect<Subject, never, Scope.Scope> =>
  kind === "Pool"
    ? Effect.map(Effect.orDie(Pool.make({ maxConnections: 1, ...options })), (pool) => ({
      ...poolAgent(pool),
      post: (url, content) => pool.request("POST", url, { content }),
      stream: (method, url) => pool.stream(method, url)
    }))
    : Effect.map(Effect.orDie(Client.make({ maxConnections: 1, ...options })), (client) => ({
      ...clientAgent(client),
      post: (url, content) => client.post(url, { content }),
      stream: (method, url) => client.stream(method, url)
    }))

// ---- servers -------------------------------------------------------------------------------------------------------

/** Takes every request and never answers; counts the requests. */
const silentHttpServer = () =>
  Effect.suspend(() => {
    const seen = { requests: 0 }
    return Effect.map(
      httpServer((req) => {
        seen.requests++
        req.resume()
      }),
      (server) => ({ server, seen })
    )
  })

/** Answers with a head announcing 100 000 bytes, sends 1 000 of them, then stalls forever. */
const stallingBodyServer = () =>
  Effect.suspend(() => {
    const seen = { heads: 0 }
    return Effect.map(
      rawServer((socket) =>
        onRequestHead(socket, () => {
          socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + "x".repeat(1000))
          seen.heads++
        })
      ),
      (server) => ({ server, seen })
    )
  })

/**
 * Answers with a gzip body, sends the first half of the compressed bytes and stalls: the client's Gunzip is in the
 * middle of a stream when it is interrupted.
 */
const stallingGzipServer = () => {
  const text = Array.from({ length: 20_000 }, (_, i) => `line ${i} of a body that compresses well\n`).join("")
  const gzipped = zlib.gzipSync(text)
  return rawServer((socket) =>
    onRequestHead(socket, () => {
      socket.write(
        "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: text/plain\r\n" +
          `Content-Length: ${gzipped.length}\r\n\r\n`
      )
      socket.write(gzipped.subarray(0, gzipped.length >> 1))
    })
  )
}

const bytes = (s: string) => new TextEncoder().encode(s)

/** Read the body until the first chunk arrives, then keep reading (the server stalls): the victim is mid-body. */
const readUntilInterrupted = (response: Response.StreamingResponse, firstChunk: Deferred.Deferred<number>) =>
  Stream.runForEach(response.stream, (chunk) => Deferred.succeed(firstChunk, chunk.length))

// ---- every phase, for the Pool and for the Client -----------------------------------------------------------------

for (const kind of ["Pool", "Client"] as const) {
  describe(`${kind}: interrupting a request`, () => {
    it.live("while it waits for a slot: it leaves the queue, nothing reaches the server, the next one is served", () =>
      leakFree(Effect.gen(function*() {
        const held: Array<http.ServerResponse> = []
        let requests = 0
        const server = yield* httpServer((req, res) => {
          requests++
          req.resume()
          if (req.url === "/hold") held.push(res)
          else res.end(`served ${req.url}`)
        })
        const subject = yield* makeSubject(kind)
        const occupant = yield* Effect.fork(subject.get(`${server.url}/hold`))
        yield* eventually(() => held.length === 1, 2_000, "the occupying request to reach the server")

        const victim = yield* startVictim(subject.get(`${server.url}/victim`))
        yield* Effect.sleep("30 millis")
        yield* interruptVictim(victim)
        // The victim never got a connection, so nothing of it reached the server. (leakFree also checks that its
        // pool-timeout timer went with it: a forgotten 5 s timer would show as an extra Timeout.)
        expect(requests).toBe(1)

        held[0]!.end("released")
        const occupied = yield* Fiber.join(occupant)
        expect(occupied.text).toBe("released")
        const later = yield* subject.get(`${server.url}/later`)
        expect(later.text).toBe("served /later")
        expect(requests).toBe(2)
        expect(server.acceptedSockets()).toBe(1)
      })))

    it.live("while DNS resolves the host: no socket opens, even when the answer comes late; the waiter proceeds", () =>
      leakFree(Effect.gen(function*() {
        const server = yield* httpServer((_req, res) => res.end("never asked"))
        const dns = yield* holdLookups("localhost")
        const subject = yield* makeSubject(kind)
        const victim = yield* startVictim(subject.get(`http://localhost:${server.port}/`))
        yield* eventually(() => dns.held() === 1, 2_000, "the lookup of localhost to start")
        expect((yield* subject.connections).map((c) => c.state)).toEqual(["CONNECTING"])

        yield* interruptAndHandOver(subject, victim, [server])
        // The answer arrives after the request is gone: it must not open a connection nobody owns.
        dns.release()
        yield* Effect.sleep("100 millis")
        expect(server.acceptedSockets()).toBe(0)
      })))

    it.live("while an HTTP proxy leaves CONNECT unanswered: the proxy sees the socket close, the waiter proceeds", () =>
      leakFree(Effect.gen(function*() {
        let connectLines = 0
        const proxy = yield* rawServer((socket) => onRequestHead(socket, () => connectLines++))
        const target = yield* httpServer((_req, res) => res.end("never reached"))
        // Only https goes through the proxy, so the waiter (plain http) connects directly.
        const subject = yield* makeSubject(kind, { proxy: { https: proxy.url } })
        const victim = yield* startVictim(subject.get(`https://127.0.0.1:${target.port}/`))
        yield* eventually(() => connectLines === 1, 2_000, "the proxy to receive the CONNECT request")
        expect((yield* subject.connections).map((c) => c.state)).toEqual(["CONNECTING"])

        yield* interruptAndHandOver(subject, victim, [proxy])
        expect(target.acceptedSockets()).toBe(0)
      })))

    it.live("during a TLS handshake that is never answered: the socket closes, the waiter proceeds", () =>
      leakFree(Effect.gen(function*() {
        // Accepts and never says a word: the ClientHello goes unanswered.
        const silent = yield* rawServer(() => {})
        const subject = yield* makeSubject(kind)
        const victim = yield* startVictim(subject.get(`https://127.0.0.1:${silent.port}/`))
        yield* eventually(() => silent.acceptedSockets() === 1, 2_000, "the TCP connection to be accepted")
        expect((yield* subject.connections).map((c) => c.state)).toEqual(["CONNECTING"])

        yield* interruptAndHandOver(subject, victim, [silent], { silent: true })
      })))

    it.live("while it writes a request body stream that never ends: the socket closes, the waiter proceeds", () =>
      leakFree(Effect.gen(function*() {
        let bodyBytes = 0
        const server = yield* httpServer((req) => {
          req.on("data", (data: Buffer) => bodyBytes += data.length)
        })
        const subject = yield* makeSubject(kind)
        const content = Stream.make(bytes("first chunk")).pipe(Stream.concat(Stream.never))
        const victim = yield* startVictim(subject.post(`${server.url}/upload`, content))
        yield* eventually(() => bodyBytes > 0, 2_000, "the first body chunk to reach the server")

        yield* interruptAndHandOver(subject, victim, [server])
      })))

    it.live("while a streamed-body request waits for a slot: it leaves the queue, the body is never pulled", () =>
      leakFree(Effect.gen(function*() {
        const held: Array<http.ServerResponse> = []
        const server = yield* httpServer((req, res) => {
          req.resume()
          if (req.url === "/hold") held.push(res)
          else res.end(`served ${req.url}`)
        })
        const subject = yield* makeSubject(kind)
        const occupant = yield* Effect.fork(subject.get(`${server.url}/hold`))
        yield* eventually(() => held.length === 1, 2_000, "the occupying request to reach the server")

        let pulled = 0
        const content = Stream.repeatEffect(Effect.sync(() => {
          pulled++
          return bytes("chunk")
        })).pipe(Stream.take(3))
        const victim = yield* startVictim(subject.post(`${server.url}/victim`, content))
        yield* Effect.sleep("30 millis")
        yield* interruptVictim(victim)
        expect(pulled).toBe(0)

        held[0]!.end("released")
        expect((yield* Fiber.join(occupant)).text).toBe("released")
        expect((yield* subject.get(`${server.url}/later`)).text).toBe("served /later")
        expect(server.acceptedSockets()).toBe(1)
      })))

    it.live("during the backoff between connect retries: the retry timer goes, the waiter proceeds", () =>
      leakFree(Effect.gen(function*() {
        // A port nothing listens on: every attempt is refused at once. The first retry is immediate, the second
        // waits 500 ms (httpcore's backoff), so 100 ms in, the request is sleeping between attempts.
        const refused = yield* Effect.scoped(Effect.map(httpServer((_req, res) => res.end()), (server) => server.port))
        const subject = yield* makeSubject(kind, { retries: 3 })
        const victim = yield* startVictim(subject.get(`http://127.0.0.1:${refused}/`))
        yield* Effect.sleep("100 millis")
        expect((yield* subject.connections).map((c) => c.state)).toEqual(["CONNECTING"])

        // leakFree checks that the (ref'd) retry timer did not outlive the request.
        yield* interruptAndHandOver(subject, victim, [])
      })))

    it.live("while it writes 16 MiB to a server that stopped reading: the socket closes, the waiter proceeds", () =>
      leakFree(Effect.gen(function*() {
        let gotData = false
        const server = yield* rawServer((socket) => {
          socket.once("data", () => {
            gotData = true
            // Stop reading: the kernel buffers fill up and the client's write stalls.
            socket.pause()
          })
        })
        const subject = yield* makeSubject(kind)
        const victim = yield* startVictim(subject.post(`${server.url}/upload`, new Uint8Array(16 * 1024 * 1024)))
        yield* eventually(() => gotData, 2_000, "the request to start arriving")

        yield* interruptAndHandOver(subject, victim, [server], { silent: true })
      })))

    it.live("while a buffered request waits for the head: the socket closes, the waiter proceeds", () =>
      leakFree(Effect.gen(function*() {
        const { seen, server } = yield* silentHttpServer()
        const subject = yield* makeSubject(kind)
        const victim = yield* startVictim(subject.get(`${server.url}/silent`))
        yield* eventually(() => seen.requests === 1, 2_000, "the server to get the request")

        yield* interruptAndHandOver(subject, victim, [server])
      })))

    it.live("while a streaming request waits for the head: the socket closes, the waiter proceeds", () =>
      leakFree(Effect.gen(function*() {
        const { seen, server } = yield* silentHttpServer()
        const subject = yield* makeSubject(kind)
        const victim = yield* startVictim(Effect.scoped(subject.stream("GET", `${server.url}/silent`)))
        yield* eventually(() => seen.requests === 1, 2_000, "the server to get the request")

        yield* interruptAndHandOver(subject, victim, [server])
      })))

    it.live("in the middle of a buffered body: the socket closes, the waiter proceeds", () =>
      leakFree(Effect.gen(function*() {
        const { seen, server } = yield* stallingBodyServer()
        const subject = yield* makeSubject(kind)
        const victim = yield* startVictim(subject.get(`${server.url}/partial`))
        yield* eventually(() => seen.heads === 1, 2_000, "the server to send the head and part of the body")
        // Let the head and the first body bytes reach the client.
        yield* Effect.sleep("30 millis")

        yield* interruptAndHandOver(subject, victim, [server])
      })))

    it.live("in the middle of a streamed body: the socket closes, the waiter proceeds", () =>
      leakFree(Effect.gen(function*() {
        const { server } = yield* stallingBodyServer()
        const subject = yield* makeSubject(kind)
        const firstChunk = yield* Deferred.make<number>()
        const victim = yield* startVictim(Effect.scoped(Effect.flatMap(
          subject.stream("GET", `${server.url}/partial`),
          (response) => readUntilInterrupted(response, firstChunk)
        )))
        // The client itself has read body bytes: it is truly mid-body.
        expect(yield* Deferred.await(firstChunk)).toBeGreaterThan(0)

        yield* interruptAndHandOver(subject, victim, [server])
      })))

    it.live("inside gzip decoding of a body stream: the Gunzip is destroyed and the socket closes", () =>
      leakFree(Effect.gen(function*() {
        const gunzips = yield* trackGunzips
        const server = yield* stallingGzipServer()
        const subject = yield* makeSubject(kind)
        const firstChunk = yield* Deferred.make<number>()
        const victim = yield* startVictim(Effect.scoped(Effect.flatMap(
          subject.stream("GET", `${server.url}/gzip`),
          (response) => readUntilInterrupted(response, firstChunk)
        )))
        // Decoded bytes came out: the Gunzip is mid-stream, waiting for the rest of the compressed body.
        expect(yield* Deferred.await(firstChunk)).toBeGreaterThan(0)
        expect(gunzips.seen.size).toBe(1)

        yield* interruptAndHandOver(subject, victim, [server])
        expect([...gunzips.seen].map((gunzip) => gunzip.destroyed)).toEqual([true])
      })))
  })
}

// ---- Client only: the layers above the pool -----------------------------------------------------------------------

/** `/start` redirects (302, empty body) to `location`; counts requests. */
const redirectingServer = (location: (self: string) => string, onOther?: http.RequestListener) =>
  Effect.suspend(() => {
    let url = ""
    const seen = { starts: 0, others: 0 }
    return Effect.map(
      httpServer((req, res) => {
        req.resume()
        if (req.url === "/start") {
          seen.starts++
          res.writeHead(302, { Location: location(url) })
          res.end()
          return
        }
        seen.others++
        onOther?.(req, res)
      }),
      (server) => {
        url = server.url
        return { server, seen }
      }
    )
  })

/** Challenges with Digest MD5 qop=auth; takes an answered request and never responds to it. */
const digestThenSilentServer = () =>
  Effect.suspend(() => {
    const seen = { challenges: 0, answered: 0 }
    return Effect.map(
      httpServer((req, res) => {
        req.resume()
        if (req.headers.authorization === undefined) {
          seen.challenges++
          res.writeHead(401, {
            "WWW-Authenticate": `Digest realm="lifetimes", qop="auth", nonce="abc123", algorithm=MD5, opaque="op"`
          })
          res.end("who are you?")
          return
        }
        seen.answered++
      }),
      (server) => ({ server, seen })
    )
  })

describe("Client: interrupting a request in the layers above the pool", () => {
  it.live("during a redirect hop to another origin (buffered): both servers see their socket close", () =>
    leakFree(Effect.gen(function*() {
      const { seen: second, server: silent } = yield* silentHttpServer()
      const { seen: first, server: start } = yield* redirectingServer(() => `${silent.url}/never`)
      const client = yield* Client.make({ maxConnections: 1, followRedirects: true })
      const victim = yield* startVictim(client.get(`${start.url}/start`))
      yield* eventually(() => second.requests === 1, 2_000, "the second hop to reach its server")
      expect(first.starts).toBe(1)

      // The first hop's connection was evicted to make room for the second; the second is closed by the interrupt.
      yield* interruptAndHandOver(clientAgent(client), victim, [start, silent])
    })))

  it.live("during a redirect hop to another origin (stream): both servers see their socket close", () =>
    leakFree(Effect.gen(function*() {
      const { seen: second, server: silent } = yield* silentHttpServer()
      const { server: start } = yield* redirectingServer(() => `${silent.url}/never`)
      const client = yield* Client.make({ maxConnections: 1, followRedirects: true })
      const victim = yield* startVictim(Effect.scoped(client.stream("GET", `${start.url}/start`)))
      yield* eventually(() => second.requests === 1, 2_000, "the second hop to reach its server")

      yield* interruptAndHandOver(clientAgent(client), victim, [start, silent])
    })))

  it.live("during a redirect hop on the same origin (the connection is reused): the socket closes", () =>
    leakFree(Effect.gen(function*() {
      // /never is taken and never answered.
      const { seen, server } = yield* redirectingServer((self) => `${self}/never`, () => {})
      const client = yield* Client.make({ maxConnections: 1, followRedirects: true })
      const victim = yield* startVictim(client.get(`${server.url}/start`))
      yield* eventually(() => seen.others === 1, 2_000, "the second hop to reach the server")
      expect(server.acceptedSockets()).toBe(1)

      yield* interruptAndHandOver(clientAgent(client), victim, [server])
    })))

  it.live("while it drains a redirect's body that stalls (stream): the socket closes, the waiter proceeds", () =>
    leakFree(Effect.gen(function*() {
      let heads = 0
      // The 302 announces a body it never finishes; the client reads a redirect's body to reuse the connection.
      const server = yield* rawServer((socket) =>
        onRequestHead(socket, () => {
          heads++
          socket.write("HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 100000\r\n\r\n" + "x".repeat(1000))
        })
      )
      const client = yield* Client.make({ maxConnections: 1, followRedirects: true })
      const victim = yield* startVictim(Effect.scoped(client.stream("GET", `${server.url}/start`)))
      yield* eventually(() => heads === 1, 2_000, "the server to send the redirect")
      yield* Effect.sleep("30 millis")

      yield* interruptAndHandOver(clientAgent(client), victim, [server])
      expect(heads).toBe(1)
    })))

  it.live("while a response hook runs (buffered, body unread): the socket closes, the waiter proceeds", () =>
    leakFree(Effect.gen(function*() {
      // The body never ends, so the connection cannot finish (and go back to the pool) on its own while the hook runs.
      const { server } = yield* stallingBodyServer()
      const hookEntered = yield* Deferred.make<void>()
      const client = yield* Client.make({
        maxConnections: 1,
        eventHooks: {
          // Only the victim's hook hangs: the waiter goes through the same client.
          response: [(response) =>
            response.url.endsWith("/hooked")
              ? Effect.zipRight(Deferred.succeed(hookEntered, undefined), Effect.never)
              : Effect.void]
        }
      })
      const victim = yield* startVictim(client.get(`${server.url}/hooked`))
      yield* Deferred.await(hookEntered)

      yield* interruptAndHandOver(clientAgent(client), victim, [server])
    })))

  for (const mode of ["buffered", "stream"] as const) {
    it.live(`during the retry backoff after a 503 (${mode}): the 503 holds no slot, and nothing is left`, () =>
      leakFree(Effect.gen(function*() {
        let attempts = 0
        const busyServer = yield* httpServer((req, res) => {
          attempts++
          req.resume()
          res.writeHead(503)
          res.end("x".repeat(100_000))
        })
        const good = yield* httpServer((req, res) => {
          req.resume()
          res.end("ok")
        })
        const client = yield* Client.make({ maxConnections: 1, retry: { times: 3, backoff: "10 seconds" } })
        const url = `${busyServer.url}/busy`
        const victim = yield* startVictim(
          mode === "buffered"
            ? Effect.asVoid(client.get(url))
            : Effect.asVoid(Effect.scoped(client.stream("GET", url)))
        )
        yield* eventually(() => attempts === 1, 2_000, "the first attempt to be answered 503")
        // The victim sleeps 10 s before its next attempt; the only slot must be free meanwhile.
        const response = yield* client.get(`${good.url}/meanwhile`)
        expect(response.text).toBe("ok")
        yield* eventually(() => busyServer.openSockets() === 0, 2_000, "the 503's socket to close")

        yield* interruptVictim(victim)
        expect(attempts).toBe(1)
        expect(yield* busy(client.pool)).toEqual([])
      })))
  }

  it.live("during a Digest retry (buffered) whose head never comes: the socket closes, the waiter proceeds", () =>
    leakFree(Effect.gen(function*() {
      const { seen, server } = yield* digestThenSilentServer()
      const client = yield* Client.make({ maxConnections: 1 })
      const victim = yield* startVictim(client.get(`${server.url}/private`, { auth: Auth.digest("u", "p") }))
      yield* eventually(() => seen.answered === 1, 2_000, "the answered retry to reach the server")
      expect(seen.challenges).toBe(1)

      yield* interruptAndHandOver(clientAgent(client), victim, [server])
    })))

  it.live("during a Digest retry (stream) whose head never comes: the socket closes, the waiter proceeds", () =>
    leakFree(Effect.gen(function*() {
      const { seen, server } = yield* digestThenSilentServer()
      const client = yield* Client.make({ maxConnections: 1 })
      const victim = yield* startVictim(
        Effect.scoped(client.stream("GET", `${server.url}/private`, { auth: Auth.digest("u", "p") }))
      )
      yield* eventually(() => seen.answered === 1, 2_000, "the answered retry to reach the server")

      yield* interruptAndHandOver(clientAgent(client), victim, [server])
    })))
})

// ---- a body released while someone reads it -----------------------------------------------------------------------

/**
 * The reader of a body that was released under it (response.close, or the scope the response belongs to closing)
 * must not wait forever: it ends promptly with an HttpError (a truncated body must not pass for a whole one).
 */
const expectReaderEndsWithHttpError = <A, E>(victim: Victim<A, E>) =>
  Effect.gen(function*() {
    const exit = yield* Fiber.await(victim.fiber).pipe(
      Effect.timeoutFail({
        duration: "2 seconds",
        onTimeout: () => new Error("the reader of a released body was still waiting 2 s later")
      })
    )
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
    expect(Option.isSome(error) && HttpError.isHttpError(error.value), `the reader ended with ${String(exit)}`).toBe(
      true
    )
    expect(yield* victim.alive).toEqual([])
  })

for (const kind of ["Pool", "Client"] as const) {
  describe(`${kind}: a streamed body released while it is being read`, () => {
    it.live("response.close while another fiber reads the body: the reader ends with an HttpError", () =>
      leakFree(Effect.gen(function*() {
        const { server } = yield* stallingBodyServer()
        const subject = yield* makeSubject(kind)
        const response = yield* subject.stream("GET", `${server.url}/partial`)
        const firstChunk = yield* Deferred.make<number>()
        const reader = yield* startVictim(readUntilInterrupted(response, firstChunk))
        yield* Deferred.await(firstChunk)

        yield* response.close
        yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
        yield* expectReaderEndsWithHttpError(reader)
      })))

    it.live("the response's scope closes while another fiber reads the body: the reader ends with an HttpError", () =>
      leakFree(Effect.gen(function*() {
        const { server } = yield* stallingBodyServer()
        const subject = yield* makeSubject(kind)
        const responseScope = yield* Scope.make()
        const response = yield* Scope.extend(subject.stream("GET", `${server.url}/partial`), responseScope)
        const firstChunk = yield* Deferred.make<number>()
        const reader = yield* startVictim(readUntilInterrupted(response, firstChunk))
        yield* Deferred.await(firstChunk)

        yield* Scope.close(responseScope, Exit.void)
        yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see the socket close")
        yield* expectReaderEndsWithHttpError(reader)
      })))

    it.live("reading the body after response.close fails with an HttpError instead of waiting forever", () =>
      leakFree(Effect.gen(function*() {
        const { server } = yield* stallingBodyServer()
        const subject = yield* makeSubject(kind)
        const response = yield* subject.stream("GET", `${server.url}/partial`)
        yield* response.close
        const reader = yield* startVictim(Stream.runDrain(response.stream))
        yield* expectReaderEndsWithHttpError(reader)
      })))
  })
}

// ---- last: the whole file ------------------------------------------------------------------------------------------

it.live("no unhandled rejection or uncaught exception escaped during this file", () =>
  Effect.gen(function*() {
    // Late socket errors and timers of the tests above get a moment to surface.
    yield* Effect.sleep(Duration.millis(100))
    expect(faults).toEqual([])
  }))
