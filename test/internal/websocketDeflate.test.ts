/**
 * permessage-deflate in the frame decoder: compressed messages (context takeover across them) decode the same however
 * the server's bytes are split (fast-check, fixed seed), and the parser of the server's answer.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { constants, createDeflateRaw } from "node:zlib"
import { parseDeflateAnswer, PerMessageDeflate } from "../../src/internal/wire/websocketDeflate.js"
import { FrameDecoder } from "../../src/internal/wire/websocketFrame.js"
import type { FrameHandler } from "../../src/internal/wire/websocketFrame.js"
import { splitAt } from "../utils/chunks.js"

const recorder = (): FrameHandler & { readonly messages: Array<unknown> } => {
  const messages: Array<unknown> = []
  return {
    messages,
    onMessage: (data) => messages.push(typeof data === "string" ? data : [...data]),
    onPing: () => {},
    onPong: () => {},
    onClose: () => {}
  }
}

const serverFrame = (first: number, payload: Buffer): Buffer => {
  const length = payload.length
  const extra = length < 126 ? 0 : length < 65536 ? 2 : 8
  const head = Buffer.alloc(2 + extra)
  head[0] = first
  head[1] = extra === 0 ? length : extra === 2 ? 126 : 127
  if (extra === 2) head.writeUInt16BE(length, 2)
  if (extra === 8) head.writeBigUInt64BE(BigInt(length), 2)
  return Buffer.concat([head, payload])
}

const params = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15
}

/** The messages as a server with context takeover sends them: one deflate stream, sync-flushed per message. */
const wireOf = (messages: ReadonlyArray<{ readonly text: boolean; readonly body: string; readonly split: number }>) => {
  const frames: Array<Buffer> = []
  // One stream across messages, driven through a PerMessageDeflate of the server's own (its `deflate` is the same
  // §7.2.1 transform, with the previous messages' window as dictionary).
  const server = new PerMessageDeflate(params, 1 << 30)
  for (const m of messages) {
    const payload = server.deflate(Buffer.from(m.body, "utf8"))
    const cut = m.split % (payload.length + 1)
    const opcode = m.text ? 1 : 2
    if (cut === 0 || cut === payload.length) frames.push(serverFrame(0xc0 | opcode, payload))
    else frames.push(serverFrame(0x40 | opcode, payload.subarray(0, cut)), serverFrame(0x80, payload.subarray(cut)))
  }
  return Buffer.concat(frames)
}

describe("compressed messages", () => {
  it("any chunking of compressed frames decodes to the same messages", () => {
    const messageArb = fc.record({ text: fc.boolean(), body: fc.string({ maxLength: 3000 }), split: fc.nat() })
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 20 }), (messages, cuts) => {
        const wire = wireOf(messages)
        const events = recorder()
        const decoder = new FrameDecoder(events, 1 << 30, new PerMessageDeflate(params, 1 << 30))
        for (const chunk of splitAt(wire, cuts)) expect(decoder.execute(chunk)).toBe(true)
        expect(events.messages).toEqual(messages.map((m) => m.text ? m.body : [...Buffer.from(m.body, "utf8")]))
      }),
      { seed: 7692, numRuns: 100 }
    )
  })

  it("what a kept zlib stream sends with context takeover inflates message by message", () => {
    const deflate = createDeflateRaw()
    const inflater = new PerMessageDeflate(params, 1 << 20)
    const compress = (text: string) =>
      new Promise<Buffer>((resolve) => {
        const chunks: Array<Buffer> = []
        deflate.on("data", (c: Buffer) => chunks.push(c))
        deflate.write(text)
        deflate.flush(constants.Z_SYNC_FLUSH, () => {
          deflate.removeAllListeners("data")
          const out = Buffer.concat(chunks)
          resolve(out.subarray(0, out.length - 4))
        })
      })
    return (async () => {
      const text = "a sentence that repeats, ".repeat(40)
      for (let i = 0; i < 3; i++) {
        const payload = await compress(text)
        if (i > 0) expect(payload.length).toBeLessThan(20)
        expect(inflater.inflate(payload)).toEqual(Buffer.from(text))
      }
      deflate.close()
    })()
  })
})

describe("the server's answer", () => {
  it("takes the four parameters, quoted or not", () => {
    expect(parseDeflateAnswer("permessage-deflate; server_no_context_takeover; client_no_context_takeover; " +
      "server_max_window_bits=\"10\"; client_max_window_bits=8")).toEqual({
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 10,
      clientMaxWindowBits: 8
    })
  })

  it("refuses a bad window size, a duplicate, an unknown parameter or another extension", () => {
    for (const answer of [
      "permessage-deflate; server_max_window_bits=7",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; client_max_window_bits=1a",
      "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
      "permessage-deflate; x=1",
      "deflate-frame",
      "permessage-deflate, permessage-deflate"
    ]) expect(typeof parseDeflateAnswer(answer)).toBe("string")
  })
})
