/**
 * Scopes own lifetimes: closing the scope of a Client or Pool ends every request it is running — in flight,
 * waiting for a slot, or a body being read — with an error, promptly, and closes every socket; and a long-lived
 * scope in which many streamed responses are opened and read to the end does not keep those responses alive.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import type { Fiber as FiberType } from "effect"
import { Client, HttpError, Pool } from "httpfx"
import type { Response } from "httpfx"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { eventually, httpServer, rawServer } from "../utils/servers.js"
import { leakFree, onRequestHead, trackProcessFaults } from "./helpers.js"

const faults = trackProcessFaults()

/** Answers with a head announcing 100 000 bytes, sends 1 000 of them, then stalls forever. */
const stallingBodyServer = () =>
  rawServer((socket) =>
    onRequestHead(socket, () => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + "x".repeat(1000))
    })
  )

/** The fiber ends within 2 s, failing with an HttpError; returns its tag. */
const endsWithHttpError = <A, E>(fiber: FiberType.RuntimeFiber<A, E>, what: string) =>
  Effect.gen(function*() {
    const exit = yield* Fiber.await(fiber).pipe(
      Effect.timeoutFail({ duration: "2 seconds", onTimeout: () => new Error(`${what} was still running 2 s later`) })
    )
    const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
    expect(Option.isSome(error) && HttpError.isHttpError(error.value), `${what} ended with ${String(exit)}`).toBe(true)
    return Option.isSome(error) ? (error.value as HttpError.HttpError)._tag : "none"
  })

interface Subject {
  readonly get: (url: string) => Effect.Effect<Response.Response, HttpError.HttpError>
  readonly stream: (url: string) => Effect.Effect<Response.StreamingResponse, HttpError.HttpError, Scope.Scope>
}

const subjects = {
  Pool: Effect.map(Pool.make({ maxConnections: 2 }), (pool): Subject => ({
    get: (url) => pool.request("GET", url),
    stream: (url) => pool.stream("GET", url)
  })),
  Client: Effect.map(Client.make({ maxConnections: 2 }), (client): Subject => ({
    get: (url) => client.get(url),
    stream: (url) => client.stream("GET", url)
  }))
}

for (const kind of ["Pool", "Client"] as const) {
  describe(`${kind}: closing its scope`, () => {
    it.live("ends every request in flight, waiting, or being read with an error, and closes every socket", () =>
      leakFree(Effect.gen(function*() {
        const server = yield* stallingBodyServer()
        const subjectScope = yield* Scope.make()
        const subject = yield* Scope.extend(subjects[kind], subjectScope)
        // The streamed response belongs to a scope that outlives the pool's: only the pool's closing can end it.
        const response = yield* subject.stream(`${server.url}/streamed`)
        const reader = yield* Effect.fork(Stream.runDrain(response.stream))
        const buffered = yield* Effect.fork(subject.get(`${server.url}/buffered`))
        yield* eventually(() => server.acceptedSockets() === 2, 2_000, "both slots to be taken")
        const waiting = yield* Effect.fork(subject.get(`${server.url}/waiting`))
        yield* Effect.sleep("30 millis")

        yield* Scope.close(subjectScope, Exit.void)
        expect(yield* endsWithHttpError(reader, "the body reader")).toBe("ReadError")
        expect(yield* endsWithHttpError(buffered, "the buffered request")).toBe("ReadError")
        expect(yield* endsWithHttpError(waiting, "the waiting request")).toBe("ConnectError")
        yield* eventually(() => server.openSockets() === 0, 2_000, "the server to see every socket close")
        expect(server.acceptedSockets()).toBe(2)
        // And a request after the close fails at once instead of opening a connection nobody would close.
        const late = yield* Effect.flip(subject.get(`${server.url}/late`))
        expect(late._tag).toBe("ConnectError")
        expect(server.acceptedSockets()).toBe(2)
      })))
  })
}

// ---- memory: what a long-lived scope keeps ------------------------------------------------------------------------

// A full, synchronous garbage collection on demand, so that "collectable" can be checked deterministically.
v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void

/** How many of the responses behind `refs` survive two full collections. */
const survivors = (refs: ReadonlyArray<WeakRef<object>>) =>
  Effect.gen(function*() {
    // Let the fibers that handled the responses finish unwinding first.
    yield* Effect.sleep(Duration.millis(20))
    gc()
    yield* Effect.sleep(Duration.millis(20))
    gc()
    return refs.filter((ref) => ref.deref() !== undefined).length
  })

const COUNT = 200

describe("a long-lived scope and the responses opened in it", () => {
  it.live("control: responses read to the end in their own scopes are garbage-collected", () =>
    leakFree(Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        req.resume()
        res.end("ok")
      })
      const client = yield* Client.make()
      const refs: Array<WeakRef<object>> = []
      for (let i = 0; i < COUNT; i++) {
        yield* Effect.scoped(Effect.flatMap(client.stream("GET", `${server.url}/${i}`), (response) => {
          refs.push(new WeakRef(response))
          return response.read
        }))
      }
      expect(yield* survivors(refs)).toBeLessThanOrEqual(5)
    })))

  it.live("responses read to the end are garbage-collected although the scope they were opened in lives on", () =>
    leakFree(Effect.gen(function*() {
      const server = yield* httpServer((req, res) => {
        req.resume()
        res.end("ok")
      })
      const client = yield* Client.make()
      // A worker's main scope, say: it lives as long as the program.
      const longLived = yield* Scope.make()
      const refs: Array<WeakRef<object>> = []
      for (let i = 0; i < COUNT; i++) {
        const response = yield* Scope.extend(client.stream("GET", `${server.url}/${i}`), longLived)
        refs.push(new WeakRef(response))
        yield* response.read
      }
      // Every body was read to the end: the connection is back in the pool and nothing needs releasing, so nothing
      // should keep the responses (and what they hold: head, request, exchange) alive until the scope closes.
      const alive = yield* survivors(refs)
      yield* Scope.close(longLived, Exit.void)
      expect(alive, `${alive} of ${COUNT} responses are still reachable from the open scope`).toBeLessThanOrEqual(5)
    })))
})

it.live("no unhandled rejection or uncaught exception escaped during this file", () =>
  Effect.gen(function*() {
    yield* Effect.sleep(Duration.millis(100))
    expect(faults).toEqual([])
  }))
