// The `ws` package's client: the reference of the WebSocket echo (ws = 1.00× there). One WebSocket per worker; a
// round trip is one binary message sent and its echo received. `--variant effect` drives the same client from an
// Effect program, as the httpfx rows are driven: `send` in `Effect.sync`, the echo awaited in one `Effect.async`.
// What that row costs over the plain one is the program's, not the WebSocket's.
import { Effect } from "effect"
import WebSocket from "ws"
import { checkEcho, main, measureEffect, measurePromise, variantName, webSocketUrl } from "./harness.js"

interface Peer {
  readonly socket: WebSocket
  // The round trip waiting for this socket's next message.
  resolve: ((bytes: number) => void) | undefined
}

const connect = (url: string): Promise<Peer> =>
  new Promise((resolve, reject) => {
    // No permessage-deflate offered, as httpfx offers none: the same bytes on the wire.
    const socket = new WebSocket(url, { perMessageDeflate: false })
    const peer: Peer = { socket, resolve: undefined }
    socket.binaryType = "nodebuffer"
    socket.on("message", (data: Buffer) => {
      const done = peer.resolve
      peer.resolve = undefined
      done?.(data.length)
    })
    socket.once("open", () => resolve(peer))
    socket.once("error", reject)
  })

main("ws", async (config) => {
  const peers = await Promise.all(Array.from({ length: config.concurrency }, () => connect(webSocketUrl(config))))
  const idle = [...peers]
  const name = variantName("ws", config, { effect: "loop" })
  try {
    if (config.variant === "effect") {
      const trip = Effect.suspend(() => {
        const peer = idle.pop()!
        return Effect.sync(() => peer.socket.send(config.payload, { binary: true })).pipe(
          Effect.zipRight(Effect.async<number>((resume) => {
            peer.resolve = (bytes) => resume(Effect.succeed(bytes))
          })),
          Effect.map((bytes) => {
            idle.push(peer)
            checkEcho(config, bytes)
          })
        )
      })
      return await Effect.runPromise(measureEffect(name, config, () => trip))
    }
    return await measurePromise(name, config, async () => {
      const peer = idle.pop()!
      const bytes = await new Promise<number>((resolve) => {
        peer.resolve = resolve
        peer.socket.send(config.payload, { binary: true })
      })
      idle.push(peer)
      checkEcho(config, bytes)
    })
  } finally {
    for (const peer of peers) peer.socket.terminate()
  }
})
