// The floor: the least work an Effect-driven HTTP/1.1 keep-alive client can
// do. One socket per fiber, a request string built once, and a parser that
// only finds the end of the head, reads Content-Length and counts body bytes.
// Whatever a real client costs above this is its own overhead. In the queue
// workload, the fibers beyond the sockets wait in a plain FIFO.
//
// With --variant stream (download only), the same socket hands the body on as
// an Effect Stream, read the way the httpfx clients' streams are read
// (Stream.runForEach): the least any client whose body is an Effect Stream
// can cost. Reads land in 1 MiB slabs, one after another, as views handed on
// without a copy; the socket pauses while a chunk waits for its reader.
//
// With --variant into (download only), the socket reads every time into the
// same 256 KiB buffer (Node's `onread`), so nothing is allocated per read: the
// floor for a client that reads a body through memory it reuses.
import { connect } from "node:net"
import type { Socket } from "node:net"
import { Chunk, Effect, Option, Stream } from "effect"
import { checkResponse, countStream, main, measureEffect, parseConfig, variantName } from "./harness.js"
import type { ClientConfig } from "./harness.js"

const HEAD_END = Buffer.from("\r\n\r\n")
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i

/**
 * Finds a response head that may arrive split across reads. `push` answers false while more bytes are needed;
 * once the head is whole it answers true and sets `status`, `length` (the Content-Length) and `data` (the bytes
 * given, joined to any earlier part) with the body starting at `bodyStart`. No allocation unless the head is split.
 */
class HeadReader {
  status = 0
  length = 0
  data: Buffer = HEAD_END
  bodyStart = 0
  private partial: Buffer | undefined

  push(bytes: Buffer): boolean | Error {
    const previous = this.partial
    const data = previous === undefined ? bytes : Buffer.concat([previous, bytes])
    const end = data.indexOf(HEAD_END)
    if (end < 0) {
      this.partial = Buffer.from(data)
      return false
    }
    this.partial = undefined
    const head = data.toString("latin1", 0, end)
    const length = CONTENT_LENGTH.exec(head)
    if (length === null) return new Error("response without Content-Length")
    // "HTTP/1.1 200 OK": the status code sits at a fixed position.
    this.status = Number(head.slice(9, 12))
    this.length = Number(length[1])
    this.data = data
    this.bodyStart = end + HEAD_END.length
    return true
  }
}

type Done = (error: Error | undefined, status: number, bodyBytes: number) => void

class RawConnection {
  private readonly heads = new HeadReader()
  // -1 while reading the head, otherwise body bytes still expected.
  private bodyLeft = -1
  private bodyRead = 0
  private status = 0
  private done: Done | undefined

  constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk))
    socket.on("error", (error) => this.fail(error))
    socket.on("close", () => this.fail(new Error("connection closed by server")))
  }

  send(request: Buffer, done: Done): void {
    this.done = done
    this.socket.write(request)
  }

  onData(chunk: Buffer): void {
    let offset = 0
    while (offset < chunk.length) {
      if (this.bodyLeft < 0) {
        const heads = this.heads
        const found = heads.push(offset === 0 ? chunk : chunk.subarray(offset))
        if (found !== true) {
          if (found instanceof Error) this.fail(found)
          return
        }
        this.status = heads.status
        this.bodyLeft = heads.length
        this.bodyRead = 0
        chunk = heads.data
        offset = heads.bodyStart
        if (this.bodyLeft === 0) this.complete()
      } else {
        const take = Math.min(this.bodyLeft, chunk.length - offset)
        this.bodyLeft -= take
        this.bodyRead += take
        offset += take
        if (this.bodyLeft === 0) this.complete()
      }
    }
  }

  private complete(): void {
    this.bodyLeft = -1
    const done = this.done
    this.done = undefined
    if (done === undefined) {
      this.fail(new Error("response without a request"))
      return
    }
    done(undefined, this.status, this.bodyRead)
  }

  private fail(error: Error): void {
    const done = this.done
    this.done = undefined
    done?.(error, 0, 0)
  }
}

/** The buffer every read of a `--variant into` socket lands in. */
const INTO_BYTES = 256 * 1024

const open = (config: ClientConfig, into: boolean) =>
  Effect.acquireRelease(
    Effect.async<RawConnection, Error>((resume) => {
      const options = { host: config.origin.hostname, port: Number(config.origin.port), noDelay: true }
      let connection: RawConnection | undefined
      const socket = connect(
        into
          ? {
            ...options,
            onread: {
              buffer: Buffer.allocUnsafe(INTO_BYTES),
              callback: (nread: number, buffer: Uint8Array) => {
                connection?.onData((buffer as Buffer).subarray(0, nread))
                return true
              }
            }
          }
          : options
      )
      const onError = (error: Error) => resume(Effect.fail(error))
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.off("error", onError)
        connection = new RawConnection(socket)
        resume(Effect.succeed(connection))
      })
    }),
    (connection) => Effect.sync(() => connection.socket.destroy())
  )

const requestBytes = (config: ClientConfig): Buffer => {
  const { method, path, requestBytes } = config.workload
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${config.origin.host}`, "Connection: keep-alive"]
  if (requestBytes > 0) {
    lines.push("Content-Type: application/octet-stream", `Content-Length: ${requestBytes}`)
  }
  // Head and body go out in a single write, as a tuned client would do.
  return Buffer.concat([Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1"), config.payload])
}

const SLAB = 1024 * 1024

/** One connection whose response bodies are Effect Streams: one `Effect.async` per chunk, nothing more. */
class StreamConnection {
  private slab = Buffer.allocUnsafeSlow(SLAB)
  private used = 0
  private readonly heads = new HeadReader()
  private bodyLeft = -1
  private status = 0
  private chunk: Buffer | undefined
  private failure: Error | undefined
  private onHead: ((status: number) => void) | undefined
  private waiter: ((effect: Effect.Effect<Chunk.Chunk<Uint8Array>, Option.Option<Error>>) => void) | undefined

  constructor(readonly socket: Socket) {
    socket.on("error", (error) => this.fail(error))
    socket.on("close", () => this.fail(new Error("connection closed by server")))
  }

  static open(config: ClientConfig) {
    return Effect.acquireRelease(
      Effect.async<StreamConnection, Error>((resume) => {
        // Node asks for the first read's memory while connecting, before there is a connection object.
        let connection: StreamConnection | undefined
        const socket = connect({
          host: config.origin.hostname,
          port: Number(config.origin.port),
          noDelay: true,
          onread: {
            buffer: () => connection === undefined ? Buffer.allocUnsafeSlow(SLAB) : connection.nextBuffer(),
            callback: (nread: number, buffer: Uint8Array) => {
              connection?.onRead(buffer as Buffer, nread)
              return true
            }
          }
        })
        const onError = (error: Error) => resume(Effect.fail(error))
        socket.once("error", onError)
        socket.once("connect", () => {
          socket.off("error", onError)
          connection = new StreamConnection(socket)
          resume(Effect.succeed(connection))
        })
      }),
      (connection) => Effect.sync(() => connection.socket.destroy())
    )
  }

  nextBuffer(): Buffer {
    if (SLAB - this.used < SLAB / 4) {
      this.slab = Buffer.allocUnsafeSlow(SLAB)
      this.used = 0
    }
    return this.slab.subarray(this.used)
  }

  /** Send a request; the effect succeeds with the status once the head is in, and the body is `body`. */
  send(request: Buffer): Effect.Effect<number, Error> {
    return Effect.async<number, Error>((resume) => {
      this.onHead = (status) => resume(Effect.succeed(status))
      this.socket.resume()
      this.socket.write(request)
    })
  }

  readonly body: Stream.Stream<Uint8Array, Error> = Stream.repeatEffectChunkOption(
    Effect.async<Chunk.Chunk<Uint8Array>, Option.Option<Error>>((resume) => {
      if (this.chunk !== undefined) {
        resume(this.take())
      } else if (this.bodyLeft < 0) {
        resume(Effect.fail(this.failure === undefined ? Option.none() : Option.some(this.failure)))
      } else {
        this.waiter = resume
        this.socket.resume()
      }
    })
  )

  private take(): Effect.Effect<Chunk.Chunk<Uint8Array>> {
    const chunk = this.chunk!
    this.chunk = undefined
    return Effect.succeed(Chunk.of(chunk))
  }

  private onRead(buffer: Buffer, nread: number): void {
    let data = buffer.subarray(0, nread)
    if (this.bodyLeft < 0) {
      const heads = this.heads
      const found = heads.push(data)
      if (found !== true) {
        if (found instanceof Error) this.fail(found)
        return
      }
      this.bodyLeft = heads.length
      this.status = heads.status
      data = heads.data.subarray(heads.bodyStart)
      const onHead = this.onHead
      this.onHead = undefined
      onHead?.(this.status)
    }
    if (data.length === 0) return
    // The body bytes are the reader's now: the next read goes after them in the slab.
    this.used += nread
    this.bodyLeft -= data.length
    this.chunk = data
    if (this.bodyLeft === 0) this.bodyLeft = -1
    const waiter = this.waiter
    if (waiter !== undefined) {
      this.waiter = undefined
      waiter(this.take())
    } else {
      this.socket.pause()
    }
  }

  private fail(error: Error): void {
    this.failure ??= error
    this.bodyLeft = -1
    const waiter = this.waiter
    this.waiter = undefined
    waiter?.(Effect.fail(Option.some(error)))
  }
}

const streamFloor = (config: ClientConfig) => {
  const request = requestBytes(config)
  const program = Effect.gen(function*() {
    const connection = yield* StreamConnection.open(config)
    const download = () =>
      Effect.flatMap(connection.send(request), (status) => countStream(config, status, connection.body))
    return yield* measureEffect("raw-socket-stream", config, download)
  })
  return Effect.runPromise(Effect.scoped(program))
}

/**
 * Every request is one `Effect.async`. A request that finds no free connection waits in a plain FIFO, and a finished
 * request hands its connection straight to the next in line: for the queue workload, the least an Effect client pays
 * to queue requests when each of them is a fiber.
 */
const queuedSender = (connections: Array<RawConnection>, request: Buffer, config: ClientConfig) => {
  const free = connections.slice()
  const waiting: Array<((connection: RawConnection) => void) | undefined> = []
  let head = 0
  const sendOn = (connection: RawConnection, resume: (effect: Effect.Effect<void, Error>) => void): void => {
    connection.send(request, (error, status, bodyBytes) => {
      if (head < waiting.length) {
        const next = waiting[head]!
        waiting[head++] = undefined
        if (head === waiting.length) {
          waiting.length = 0
          head = 0
        }
        next(connection)
      } else {
        free.push(connection)
      }
      if (error !== undefined) {
        resume(Effect.fail(error))
        return
      }
      try {
        checkResponse(config, status, bodyBytes)
        resume(Effect.void)
      } catch (failure) {
        resume(Effect.fail(failure as Error))
      }
    })
  }
  return () =>
    Effect.async<void, Error>((resume) => {
      const connection = free.pop()
      if (connection !== undefined) sendOn(connection, resume)
      else waiting.push((next) => sendOn(next, resume))
    })
}

const variant = parseConfig().variant
main(variant === undefined ? "raw-socket" : `raw-socket-${variant}`, (config) => {
  const name = variantName("raw-socket", config, { stream: "download", into: "download" })
  if (name === "raw-socket-stream") return streamFloor(config)
  const request = requestBytes(config)
  const program = Effect.gen(function*() {
    const connections: Array<RawConnection> = []
    for (let i = 0; i < config.concurrency; i++) connections.push(yield* open(config, name === "raw-socket-into"))
    // In the loop workloads each fiber has a connection of its own, so none ever waits.
    return yield* measureEffect(name, config, queuedSender(connections, request, config))
  })
  return Effect.runPromise(Effect.scoped(program))
})
