// httpfx's client.websocket in the WebSocket echo: one WebSocket per worker; a round trip is `send` and the next
// message. By default the messages are read through one pull (Stream.toPull) for the whole run, as an application
// reading `messages` in turn would; `--variant receive` takes each reply with `socket.receive`.
import { Chunk, Effect, Stream } from "effect"
import { Client } from "../../src/index.js"
import { checkEcho, main, measureEffect, variantName, webSocketUrl } from "./harness.js"

main("httpfx-websocket", (config) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const client = yield* Client.make()
    const peers = yield* Effect.forEach(Array.from({ length: config.concurrency }), () =>
      Effect.flatMap(client.websocket(webSocketUrl(config)), (socket) =>
        Effect.map(Stream.toPull(socket.messages), (pull) => ({ socket, pull }))))
    const idle = [...peers]
    const roundTrip = Effect.suspend(() => {
      const peer = idle.pop()!
      return peer.socket.send(config.payload).pipe(
        Effect.zipRight(peer.pull),
        Effect.map((messages) => {
          idle.push(peer)
          if (messages.length !== 1) throw new Error(`${messages.length} messages came back for one sent`)
          const message = Chunk.unsafeHead(messages)
          checkEcho(config, typeof message === "string" ? -1 : message.length)
        })
      )
    })
    const receiveTrip = Effect.suspend(() => {
      const peer = idle.pop()!
      return peer.socket.send(config.payload).pipe(
        Effect.zipRight(peer.socket.receive),
        Effect.map((message) => {
          idle.push(peer)
          checkEcho(config, typeof message === "string" ? -1 : message.length)
        })
      )
    })
    const trip = config.variant === "receive" ? receiveTrip : roundTrip
    return yield* measureEffect(variantName("httpfx-websocket", config, { receive: "loop" }), config, () => trip)
  })))
)
