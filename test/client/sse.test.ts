/**
 * `client.sse` against loopback node:http and node:http2 servers: events, reconnection with Last-Event-ID after the
 * server's `retry`, the option's or the 3 s default (TestClock), 204, wrong statuses and content types, interruption
 * (seen from the server: the socket closes and the pool slot comes back), the read timeout, the line limit, and the
 * client's pipeline (cookies, default headers) on every reconnection.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Fiber, Layer, Stream, TestClock } from "effect"
import type * as http from "node:http"
import type * as http2 from "node:http2"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Client, Transport } from "httpfx"
import type { HttpError } from "httpfx"
import { ca, h2Server } from "../h2/servers.js"
import { eventually, httpServer, rawServer } from "../utils/servers.js"

const SSE_HEAD = { "content-type": "text/event-stream", "cache-control": "no-store" }

interface Seen {
  readonly headers: http.IncomingHttpHeaders
  readonly at: number
}

/**
 * An SSE server whose n-th request (from 0) is answered by `answers[n]` (the last one for any later request); every
 * request's headers are kept in `seen`.
 */
const sseServer = (answers: ReadonlyArray<(res: http.ServerResponse, req: http.IncomingMessage) => void>) => {
  const seen: Array<Seen> = []
  return Effect.map(
    httpServer((req, res) => {
      req.resume()
      res.on("error", () => {})
      const index = seen.length
      seen.push({ headers: req.headers, at: Date.now() })
      answers[Math.min(index, answers.length - 1)]!(res, req)
    }),
    (server) => ({ ...server, seen })
  )
}

/** Sends `body` as an event stream and ends the response. */
const events = (body: string) => (res: http.ServerResponse) => {
  res.writeHead(200, SSE_HEAD)
  res.end(body)
}

/** Sends `body` as an event stream and keeps the response open until the client goes away. */
const held = (body: string) => (res: http.ServerResponse) => {
  res.writeHead(200, SSE_HEAD)
  res.write(body)
}

const collect = <E, R>(stream: Stream.Stream<Client.ServerSentEvent, E, R>, n: number) =>
  Effect.map(Stream.runCollect(Stream.take(stream, n)), Chunk.toReadonlyArray)

const data = (list: ReadonlyArray<Client.ServerSentEvent>) => list.map((event) => event.data)

describe("client.sse over HTTP/1.1", () => {
  it.scopedLive("delivers the events of the stream and asks for one with Accept and Cache-Control", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([held("event: greeting\nid: 1\ndata: hello\ndata: world\n\ndata: two\n\n")])
      const client = yield* Client.make()
      const got = yield* collect(client.sse(server.url), 2)
      expect(got).toEqual([
        { event: "greeting", data: "hello\nworld", id: "1" },
        { event: "message", data: "two", id: "1" }
      ])
      expect(server.seen[0]!.headers.accept).toBe("text/event-stream")
      expect(server.seen[0]!.headers["cache-control"]).toBe("no-store")
      expect(server.seen[0]!.headers["last-event-id"]).toBeUndefined()
    }))

  it.scopedLive("Client.sse takes the client from the context", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([held("data: a\n\n")])
      const got = yield* collect(Client.sse(server.url), 1).pipe(Effect.provide(Layer.orDie(Client.layer())))
      expect(data(got)).toEqual(["a"])
    }))

  it.scopedLive("the first connection sends the lastEventId option", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([held("data: a\n\n")])
      const client = yield* Client.make()
      yield* collect(client.sse(server.url, { lastEventId: "41" }), 1)
      expect(server.seen[0]!.headers["last-event-id"]).toBe("41")
    }))

  it.scopedLive("after the server ends the body it reconnects after the server's retry, sending Last-Event-ID", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([
        events("retry: 50\nid: 1\ndata: a\n\nid: 2\ndata: b\n\nid: 3\ndata: unterminated\n"),
        held("id: 4\ndata: c\n\n")
      ])
      const client = yield* Client.make()
      const got = yield* collect(client.sse(server.url), 3)
      expect(got).toEqual([
        { event: "message", data: "a", id: "1", retry: 50 },
        { event: "message", data: "b", id: "2" },
        { event: "message", data: "c", id: "4" }
      ])
      expect(server.seen).toHaveLength(2)
      // The unterminated block's id was dropped with it.
      expect(server.seen[1]!.headers["last-event-id"]).toBe("2")
      const gap = server.seen[1]!.at - server.seen[0]!.at
      expect(gap).toBeGreaterThanOrEqual(45)
      expect(gap).toBeLessThan(2_000)
    }))

  it.scopedLive("without a retry from the server it waits the retry option", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([events("data: a\n\n"), held("data: b\n\n")])
      const client = yield* Client.make()
      const got = yield* collect(client.sse(server.url, { retry: "40 millis" }), 2)
      expect(data(got)).toEqual(["a", "b"])
      expect(server.seen[1]!.at - server.seen[0]!.at).toBeGreaterThanOrEqual(35)
    }))

  it.scoped("without either it waits 3 seconds before reconnecting", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([events("id: x\ndata: a\n\n"), held("data: b\n\n")])
      const client = yield* Client.make()
      const fiber = yield* Effect.fork(collect(client.sse(server.url), 2))
      // The stream sleeps on the TestClock once the first body has ended.
      yield* eventually(() => server.seen.length === 1)
      yield* waitForSleep
      yield* TestClock.adjust("2999 millis")
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 100)))
      expect(server.seen).toHaveLength(1)
      yield* TestClock.adjust("1 millis")
      const got = yield* Fiber.join(fiber)
      expect(data(got)).toEqual(["a", "b"])
      expect(server.seen[1]!.headers["last-event-id"]).toBe("x")
    }))

  it.scopedLive("a transport error (the socket reset mid-body) reconnects too", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([
        (res) => {
          res.writeHead(200, SSE_HEAD)
          res.write("retry: 10\nid: 5\ndata: a\n\n", () => setTimeout(() => res.socket?.destroy(), 20))
        },
        held("data: b\n\n")
      ])
      const client = yield* Client.make()
      const got = yield* collect(client.sse(server.url), 2)
      expect(data(got)).toEqual(["a", "b"])
      expect(server.seen[1]!.headers["last-event-id"]).toBe("5")
    }))

  it.scopedLive("a connection that fails before any response reconnects", () =>
    Effect.gen(function*() {
      let connections = 0
      const server = yield* rawServer((socket) => {
        connections++
        if (connections === 1) return void socket.destroy()
        const head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n"
        socket.once("data", () => socket.write(head + "data: up\n\n"))
      })
      const client = yield* Client.make()
      const got = yield* collect(client.sse(server.url, { retry: 10 }), 1)
      expect(data(got)).toEqual(["up"])
      expect(connections).toBe(2)
    }))

  it.scopedLive("a 204 ends the stream", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([events("retry: 10\ndata: a\n\n"), (res) => {
        res.writeHead(204)
        res.end()
      }])
      const client = yield* Client.make()
      const got = yield* Effect.map(Stream.runCollect(client.sse(server.url)), Chunk.toReadonlyArray)
      expect(data(got)).toEqual(["a"])
      expect(server.seen).toHaveLength(2)
    }))

  it.scopedLive("a 500 fails the stream with HttpStatusError, without reconnecting", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([(res) => {
        res.writeHead(500, { "content-type": "text/event-stream" })
        res.end("data: no\n\n")
      }])
      const client = yield* Client.make()
      const exit = yield* Effect.exit(Stream.runCollect(client.sse(server.url, { retry: 10 })))
      const error = failure(exit)
      expect(error._tag).toBe("HttpStatusError")
      expect(error.message).toContain("500")
      expect(error._tag === "HttpStatusError" && error.response.status).toBe(500)
      yield* Effect.sleep("50 millis")
      expect(server.seen).toHaveLength(1)
    }))

  it.scopedLive("a text/html response fails the stream with DecodingError, without reconnecting", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([(res) => {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" })
        res.end("<html></html>")
      }])
      const client = yield* Client.make()
      const exit = yield* Effect.exit(Stream.runCollect(client.sse(server.url, { retry: 10 })))
      const error = failure(exit)
      expect(error._tag).toBe("DecodingError")
      expect(error.message).toContain("text/html")
      yield* Effect.sleep("50 millis")
      expect(server.seen).toHaveLength(1)
    }))

  it.scopedLive("text/event-stream with parameters and in upper case is accepted", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([(res) => {
        res.writeHead(200, { "content-type": "Text/Event-Stream; charset=utf-8" })
        res.write("data: a\n\n")
      }])
      const client = yield* Client.make()
      expect(data(yield* collect(client.sse(server.url), 1))).toEqual(["a"])
    }))

  it.scopedLive("interrupting the stream closes its connection and gives the pool slot back", () =>
    Effect.gen(function*() {
      let closed = 0
      const server = yield* sseServer([(res, req) => {
        if (req.url === "/plain") return void res.end("ok")
        res.writeHead(200, SSE_HEAD)
        res.write("data: a\n\n")
        const timer = setInterval(() => res.write(": keep-alive\n\n"), 10)
        res.on("close", () => {
          clearInterval(timer)
          closed++
        })
      }])
      const client = yield* Client.make({ maxConnections: 1, timeout: { pool: 1_000 } })
      expect(data(yield* collect(client.sse(server.url), 1))).toEqual(["a"])
      yield* eventually(() => closed === 1 && server.openSockets() === 0, 2_000, "the event stream's socket to close")
      expect(yield* client.pool).toEqual([])
      // The one slot is free: another request gets a connection at once.
      const response = yield* client.get(server.url + "/plain")
      expect(response.text).toBe("ok")
    }))

  it.scopedLive("cookies and the client's default headers are sent on every reconnection", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([
        (res) => {
          res.writeHead(200, { ...SSE_HEAD, "set-cookie": "session=abc; Path=/" })
          res.end("retry: 10\nid: 1\ndata: a\n\n")
        },
        events("id: 2\ndata: b\n\n"),
        held("data: c\n\n")
      ])
      const client = yield* Client.make({ headers: { "x-app": "demo" } })
      const got = yield* collect(client.sse(server.url, { headers: { "x-call": "1" } }), 3)
      expect(data(got)).toEqual(["a", "b", "c"])
      expect(server.seen.map((seen) => seen.headers.cookie)).toEqual([undefined, "session=abc", "session=abc"])
      for (const seen of server.seen) {
        expect(seen.headers["x-app"]).toBe("demo")
        expect(seen.headers["x-call"]).toBe("1")
        expect(seen.headers.accept).toBe("text/event-stream")
      }
      expect(server.seen.map((seen) => seen.headers["last-event-id"])).toEqual([undefined, "1", "2"])
    }))

  it.scopedLive("a non-ASCII Last-Event-ID is sent as its UTF-8 bytes", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([events("retry: 10\nid: é€\ndata: a\n\n"), held("data: b\n\n")])
      const client = yield* Client.make()
      yield* collect(client.sse(server.url), 2)
      // node:http reads field values as Latin-1.
      expect(Buffer.from(server.seen[1]!.headers["last-event-id"] as string, "latin1").toString("utf8")).toBe("é€")
    }))

  it.scopedLive("an id that a field cannot carry (a control character) is not sent, rather than failing", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([events("retry: 10\nid: a\u0001b\ndata: a\n\n"), held("data: b\n\n")])
      const client = yield* Client.make()
      const got = yield* collect(client.sse(server.url), 2)
      expect(got.map((event) => event.id)).toEqual(["a\u0001b", "a\u0001b"])
      expect(server.seen[1]!.headers["last-event-id"]).toBeUndefined()
    }))

  it.scopedLive("a quiet stream is not ended by the transport's default read timeout", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([(res) => {
        res.writeHead(200, SSE_HEAD)
        res.write("data: a\n\n")
        const timer = setTimeout(() => res.write("data: b\n\n"), 400)
        res.on("close", () => clearTimeout(timer))
      }])
      // A pool whose read timeout is short and was not set for this client: the stream waits for the server anyway.
      const transport = yield* Transport.pool({ timeout: { read: 100 } })
      const client = yield* Client.make({ transport })
      const got = yield* collect(client.sse(server.url, { retry: 10 }), 2)
      expect(data(got)).toEqual(["a", "b"])
      expect(server.seen).toHaveLength(1)
    }))

  it.scopedLive("a read timeout the client sets applies, and its ReadTimeout reconnects", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([held("id: 1\ndata: a\n\n"), held("data: b\n\n")])
      const client = yield* Client.make({ timeout: { read: 100 } })
      const got = yield* collect(client.sse(server.url, { retry: 10 }), 2)
      expect(data(got)).toEqual(["a", "b"])
      expect(server.seen[1]!.headers["last-event-id"]).toBe("1")
    }))

  it.scopedLive("a read timeout the call sets applies", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([held("data: a\n\n"), held("data: b\n\n")])
      const client = yield* Client.make()
      const got = yield* collect(client.sse(server.url, { retry: 10, timeout: { read: 100 } }), 2)
      expect(data(got)).toEqual(["a", "b"])
      expect(server.seen).toHaveLength(2)
    }))

  it.scopedLive("a line longer than limits.maxBodySize fails with ResponseTooLarge, after the events before it", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([held("data: a\n\ndata: " + "x".repeat(2_000) + "\n\n")])
      const client = yield* Client.make({ limits: { maxBodySize: 1_000 } })
      const seen: Array<string> = []
      const exit = yield* Effect.exit(
        Stream.runForEach(client.sse(server.url, { retry: 10 }), (event) => Effect.sync(() => seen.push(event.data)))
      )
      const error = failure(exit)
      expect(error._tag).toBe("ResponseTooLarge")
      expect(error._tag === "ResponseTooLarge" && error.limit).toBe(1_000)
      expect(seen).toEqual(["a"])
      expect(server.seen).toHaveLength(1)
    }))

  it.scopedLive("a call's limits.maxBodySize bounds its events, and the stream's total is not limited by it", () =>
    Effect.gen(function*() {
      const server = yield* sseServer([held("data: 0123456789\n\n".repeat(50))])
      const client = yield* Client.make()
      // 50 events of 18 bytes: 900 bytes in all, more than the limit, each one under it.
      const got = yield* collect(client.sse(server.url, { limits: { maxBodySize: 100 } }), 50)
      expect(got).toHaveLength(50)
    }))

  it.scopedLive("a huge unterminated line fails at the default limit, and the client stops reading", () =>
    Effect.gen(function*() {
      const budget = 256 * 1024 * 1024
      let written = 0
      let closedAfter = -1
      const server = yield* sseServer([(res) => {
        res.writeHead(200, SSE_HEAD)
        const chunk = Buffer.alloc(64 * 1024, "x")
        const write = (): void => {
          while (written < budget && !res.destroyed) {
            written += chunk.length
            if (!res.write(chunk)) return void res.once("drain", write)
          }
        }
        res.on("close", () => (closedAfter = written))
        res.write("data: ")
        write()
      }])
      const client = yield* Client.make()
      const exit = yield* Effect.exit(Stream.runCollect(client.sse(server.url)))
      const error = failure(exit)
      expect(error._tag).toBe("ResponseTooLarge")
      expect(error._tag === "ResponseTooLarge" && error.limit).toBe(8 * 1024 * 1024)
      yield* eventually(() => closedAfter >= 0, 5_000, "the server to see the socket close")
      // What the server got rid of: the limit, plus what the socket buffers on both sides hold.
      expect(closedAfter).toBeLessThan(64 * 1024 * 1024)
    }))

  it.scopedLive("a retry option that is not a duration fails the stream with LocalProtocolError", () =>
    Effect.gen(function*() {
      const client = yield* Client.make()
      const exit = yield* Effect.exit(Stream.runCollect(client.sse("http://127.0.0.1:1/", { retry: "soon" as never })))
      const error = failure(exit)
      expect(error._tag).toBe("LocalProtocolError")
      expect(error.message).toContain("retry")
    }))
})

describe("client.sse over HTTP/2", () => {
  it.scopedLive("reconnects on the same session with Last-Event-ID, and interrupting it cancels only its stream", () =>
    Effect.gen(function*() {
      const requests: Array<http2.IncomingHttpHeaders> = []
      let closedStreams = 0
      const server = yield* h2Server({
        allowHTTP1: false,
        onStream: (stream, headers) => {
          requests.push(headers)
          stream.on("close", () => closedStreams++)
          stream.respond({ ":status": 200, "content-type": "text/event-stream" })
          if (requests.length === 1) stream.end("retry: 10\nid: 1\ndata: a\n\n")
          else stream.write("id: 2\ndata: b\n\n")
        }
      })
      const client = yield* Client.make({ http2: true, tls: { ca } })
      const got = yield* collect(client.sse(server.url), 2)
      expect(got).toEqual([
        { event: "message", data: "a", id: "1", retry: 10 },
        { event: "message", data: "b", id: "2" }
      ])
      expect(requests[0]!.accept).toBe("text/event-stream")
      expect(requests[1]!["last-event-id"]).toBe("1")
      yield* eventually(() => closedStreams === 2, 2_000, "the second stream to be cancelled")
      expect(server.sessions()).toBe(1)
      expect(server.openSessions()).toBe(1)
      const [connection] = yield* client.pool
      expect(connection?.httpVersion).toBe("HTTP/2")
    }))
})

describe("examples/sse.ts", () => {
  it.live("prints every tick once, in order, across the reconnections, and exits", () =>
    Effect.gen(function*() {
      const root = fileURLToPath(new URL("../..", import.meta.url))
      // Starting tsx takes several seconds on a loaded machine; the program itself, well under one.
      const stdout = yield* Effect.async<string, Error>((resume) => {
        const child = execFile(
          process.execPath,
          ["--conditions=httpfx-source", "--import", "tsx", "examples/sse.ts"],
          { cwd: root, timeout: 50_000 },
          (error, out) => resume(error === null ? Effect.succeed(out) : Effect.fail(error))
        )
        return Effect.sync(() => child.kill("SIGKILL"))
      })
      expect(stdout.split("\n").filter((line) => line.startsWith("client:"))).toEqual([
        "client: tick #0: first",
        "client: tick #1: second",
        "client: tick #2: third",
        "client: tick #3: fourth",
        "client: tick #4: fifth",
        "client: done"
      ])
      expect(stdout).toContain("server: connection with Last-Event-ID 1")
      expect(stdout).toContain("server: connection with Last-Event-ID 3")
    }), 60_000)
})

/** Wait (in real time) until a fiber sleeps on the TestClock. */
const waitForSleep = Effect.gen(function*() {
  for (let i = 0; i < 400; i++) {
    if ((yield* TestClock.sleeps()).length > 0) return
    yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
  }
  throw new Error("nothing slept on the TestClock")
})

const failure = <A>(exit: Exit.Exit<A, HttpError.HttpError>): HttpError.HttpError => {
  if (Exit.isSuccess(exit)) throw new Error("expected the stream to fail")
  const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (error === undefined) throw new Error(`expected a failure, got ${String(exit.cause)}`)
  return error
}
