/**
 * Interop: `client.websocket` against Python's `websockets` server (Debian's python3-websockets, 10.4 here;
 * test/fixtures/websockets_server.py), started once for this file on 127.0.0.1. Without it the suite is skipped with a
 * banner saying why (`.ci/run` installs it).
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Scope, Stream } from "effect"
import { Client } from "httpfx"
import { reportMissing } from "../utils/proxies.js"
import { pythonServer, pythonWebsockets } from "./pythonPeer.js"

const python = pythonWebsockets()
if ("missing" in python) reportMissing("Python's websockets (python3-websockets)", python.missing)

const take = <A, E>(stream: Stream.Stream<A, E>, n: number) =>
  Effect.map(Stream.runCollect(Stream.take(stream, n)), Chunk.toArray)

const pattern = (length: number): Uint8Array => {
  const bytes = new Uint8Array(length)
  for (let i = 0; i < length; i++) bytes[i] = (i * 31) & 0xff
  return bytes
}

describe.skipIf("missing" in python)("client.websocket against Python's websockets server", () => {
  const scope = Effect.runSync(Scope.make())
  let base = ""

  beforeAll(async () => {
    base = await Effect.runPromise(Scope.extend(pythonServer, scope))
  }, 15_000)

  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
  }, 10_000)

  const open = (path: string, options?: Client.WebSocketOptions) =>
    Effect.flatMap(Client.make(), (client) => client.websocket(`${base}${path}`, options))

  it.live("text and binary messages echo back as strings and bytes", () =>
    Effect.gen(function*() {
      const socket = yield* open("/echo")
      yield* socket.send("héllo ✓")
      yield* socket.send(new Uint8Array([0, 1, 127, 128, 255]))
      const [text, bytes] = yield* take(socket.messages, 2)
      expect(text).toBe("héllo ✓")
      expect(bytes).toBeInstanceOf(Uint8Array)
      expect([...(bytes as Uint8Array)]).toEqual([0, 1, 127, 128, 255])
    }).pipe(Effect.scoped, Effect.timeout("10 seconds")))

  it.live("a 1 MiB message sent in 16 fragments arrives as one message, whole", () =>
    Effect.gen(function*() {
      const socket = yield* open("/fragmented")
      yield* socket.send("go")
      const [message] = yield* take(socket.messages, 1)
      expect(message).toBeInstanceOf(Uint8Array)
      expect(Buffer.compare(Buffer.from(message as Uint8Array), Buffer.from(pattern(1024 * 1024)))).toBe(0)
    }).pipe(Effect.scoped, Effect.timeout("10 seconds")))

  it.live("a 1 MiB message goes to the server and comes back whole", () =>
    Effect.gen(function*() {
      const socket = yield* open("/echo")
      yield* socket.send(pattern(1024 * 1024))
      const [message] = yield* take(socket.messages, 1)
      expect(Buffer.compare(Buffer.from(message as Uint8Array), Buffer.from(pattern(1024 * 1024)))).toBe(0)
    }).pipe(Effect.scoped, Effect.timeout("10 seconds")))

  it.live("the subprotocol the server picks from those offered is the socket's protocol", () =>
    Effect.gen(function*() {
      const socket = yield* open("/protocol", { protocols: ["v1", "v2"] })
      expect(socket.protocol).toBe("v2")
      yield* socket.send("which?")
      expect(yield* take(socket.messages, 1)).toEqual(["v2"])
    }).pipe(Effect.scoped, Effect.timeout("10 seconds")))

  it.live("with no subprotocol offered, none is picked", () =>
    Effect.gen(function*() {
      const socket = yield* open("/protocol")
      expect(socket.protocol).toBe("")
      yield* socket.send("which?")
      expect(yield* take(socket.messages, 1)).toEqual([""])
    }).pipe(Effect.scoped, Effect.timeout("10 seconds")))

  it.live("a server close with 4000 fails the messages with WebSocketError code 4000 and its reason", () =>
    Effect.gen(function*() {
      const socket = yield* open("/close/4000")
      yield* socket.send("bye?")
      const error = yield* Effect.flip(Stream.runDrain(socket.messages))
      expect(error._tag).toBe("WebSocketError")
      expect(error.code).toBe(4000)
      expect(error.message).toContain("bye 4000")
    }).pipe(Effect.scoped, Effect.timeout("10 seconds")))

  it.live("a server close with 1000 ends the messages", () =>
    Effect.gen(function*() {
      const socket = yield* open("/close/1000")
      yield* socket.send("bye?")
      expect(yield* Stream.runCollect(socket.messages).pipe(Effect.map(Chunk.toArray))).toEqual([])
    }).pipe(Effect.scoped, Effect.timeout("10 seconds")))

  it.live("a server close with 1001 (going away) ends the messages", () =>
    Effect.gen(function*() {
      const socket = yield* open("/close/1001")
      yield* socket.send("bye?")
      expect(yield* Stream.runCollect(socket.messages).pipe(Effect.map(Chunk.toArray))).toEqual([])
    }).pipe(Effect.scoped, Effect.timeout("10 seconds")))

  it.live("the server's ping is answered with a pong it accepts", () =>
    Effect.gen(function*() {
      const socket = yield* open("/ping")
      expect(yield* take(socket.messages, 1)).toEqual(["pong received"])
    }).pipe(Effect.scoped, Effect.timeout("10 seconds")))

  it.live("permessage-deflate is used exactly when the client offers it, and a compressible message echoes", () =>
    Effect.gen(function*() {
      const socket = yield* open("/extensions")
      yield* socket.send("extensions?")
      const [report] = yield* take(socket.messages, 1)
      const { accepted, offered } = JSON.parse(report as string) as {
        readonly offered: string | null
        readonly accepted: string | null
      }
      // websockets 10.4 accepts permessage-deflate whenever it is offered (its `compression="deflate"` default).
      if (offered === null) expect(accepted).toBeNull()
      else {
        expect(offered).toContain("permessage-deflate")
        expect(accepted).toContain("permessage-deflate")
      }
      const text = "a compressible line of text\n".repeat(4096)
      yield* socket.send(text)
      expect(yield* take(socket.messages, 1)).toEqual([text])
    }).pipe(Effect.scoped, Effect.timeout("10 seconds")))
})
