// The `ws` package's client: the reference of the WebSocket echo (ws = 1.00× there). One WebSocket per worker; a
// round trip is one binary message sent and its echo received.
import WebSocket from "ws"
import { checkEcho, main, measurePromise, webSocketUrl } from "./harness.js"

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
  try {
    return await measurePromise("ws", config, async () => {
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
