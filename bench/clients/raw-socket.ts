// The floor: the least work an Effect-driven HTTP/1.1 keep-alive client can
// do. One socket per fiber, a request string built once, and a parser that
// only finds the end of the head, reads Content-Length and counts body bytes.
// Whatever a real client costs above this is its own overhead.
import { connect } from "node:net"
import type { Socket } from "node:net"
import { Effect } from "effect"
import { checkResponse, main, measureEffect } from "./harness.js"
import type { ClientConfig } from "./harness.js"

const HEAD_END = Buffer.from("\r\n\r\n")
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i

type Done = (error: Error | undefined, status: number, bodyBytes: number) => void

class RawConnection {
  // Bytes of a response head that arrived split across chunks.
  private head: Buffer | undefined
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

  private onData(chunk: Buffer): void {
    let offset = 0
    while (offset < chunk.length) {
      if (this.bodyLeft < 0) {
        const previous = this.head
        const data = previous === undefined ? chunk.subarray(offset) : Buffer.concat([previous, chunk.subarray(offset)])
        const end = data.indexOf(HEAD_END)
        if (end < 0) {
          this.head = Buffer.from(data)
          return
        }
        this.head = undefined
        const head = data.toString("latin1", 0, end)
        // "HTTP/1.1 200 OK": the status code sits at a fixed position.
        this.status = Number(head.slice(9, 12))
        const length = CONTENT_LENGTH.exec(head)
        if (length === null) {
          this.fail(new Error("response without Content-Length"))
          return
        }
        this.bodyLeft = Number(length[1])
        this.bodyRead = 0
        offset += end + HEAD_END.length - (previous?.length ?? 0)
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

const open = (config: ClientConfig) =>
  Effect.acquireRelease(
    Effect.async<RawConnection, Error>((resume) => {
      const socket = connect({ host: config.origin.hostname, port: Number(config.origin.port), noDelay: true })
      const onError = (error: Error) => resume(Effect.fail(error))
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.off("error", onError)
        resume(Effect.succeed(new RawConnection(socket)))
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

main("raw-socket", (config) => {
  // Each fiber owns a connection here; queueing requests for connections is
  // exactly the work a real client does and this floor leaves out.
  if (config.workload.mode === "burst") throw new Error("n/a: the floor has no request queue")
  const request = requestBytes(config)
  const program = Effect.gen(function*() {
    const connections: Array<RawConnection> = []
    for (let i = 0; i < config.concurrency; i++) connections.push(yield* open(config))
    // Each fiber owns one connection, so a fiber's requests never overlap.
    const free = connections.slice()
    const send = () => {
      const connection = free.pop()!
      return Effect.async<void, Error>((resume) => {
        connection.send(request, (error, status, bodyBytes) => {
          free.push(connection)
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
      })
    }
    return yield* measureEffect("raw-socket", config, send)
  })
  return Effect.runPromise(Effect.scoped(program))
})
