/**
 * The WebSocket frame codec on its own: what the encoder puts on the wire, and a decoder whose result does not depend
 * on how the server's bytes are split (fast-check, fixed seed), whose UTF-8 check agrees with Node's, and which refuses
 * a huge declared length without allocating it.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { isUtf8 } from "node:buffer"
import { encodeFrame, FrameDecoder, Opcode, Utf8Validator } from "../../src/internal/wire/websocketFrame.js"
import type { FrameHandler } from "../../src/internal/wire/websocketFrame.js"
import { splitAt } from "../utils/chunks.js"

type Event = readonly [string, unknown]

const recorder = (): FrameHandler & { readonly events: Array<Event> } => {
  const events: Array<Event> = []
  return {
    events,
    onMessage: (data) => events.push(["message", typeof data === "string" ? data : [...data]]),
    onPing: (payload) => events.push(["ping", payload.toString("hex")]),
    onPong: (payload) => events.push(["pong", payload.toString("hex")]),
    onClose: (code, reason) => events.push(["close", [code, reason]])
  }
}

/** A server frame: unmasked, FIN unless told otherwise. */
const serverFrame = (opcode: number, payload: Buffer, fin = true): Buffer => {
  const length = payload.length
  const extra = length < 126 ? 0 : length < 65536 ? 2 : 8
  const head = Buffer.alloc(2 + extra)
  head[0] = (fin ? 0x80 : 0) | opcode
  head[1] = extra === 0 ? length : extra === 2 ? 126 : 127
  if (extra === 2) head.writeUInt16BE(length, 2)
  if (extra === 8) head.writeBigUInt64BE(BigInt(length), 2)
  return Buffer.concat([head, payload])
}

/** The frames of one message split into fragments at `cuts`, with pings between some of them. */
const messageArb = fc.record({
  text: fc.boolean(),
  body: fc.oneof(fc.string({ unit: "binary", maxLength: 300 }), fc.string({ maxLength: 70_000 })),
  cuts: fc.array(fc.nat(), { maxLength: 4 }),
  pings: fc.array(fc.boolean(), { maxLength: 4 })
})

interface Message {
  readonly text: boolean
  readonly body: string
  readonly cuts: ReadonlyArray<number>
  readonly pings: ReadonlyArray<boolean>
}

const framesOf = (m: Message) => {
  const bytes = Buffer.from(m.body, "utf8")
  const points = [...new Set(m.cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  const pieces: Array<Buffer> = []
  let last = 0
  for (const p of points) {
    pieces.push(bytes.subarray(last, p))
    last = p
  }
  pieces.push(bytes.subarray(last))
  const frames: Array<Buffer> = []
  pieces.forEach((piece, i) => {
    frames.push(serverFrame(i === 0 ? (m.text ? Opcode.Text : Opcode.Binary) : Opcode.Continuation, piece, i === pieces.length - 1))
    if (m.pings[i] === true && i < pieces.length - 1) frames.push(serverFrame(Opcode.Ping, Buffer.from([i])))
  })
  return frames
}

describe("decoding", () => {
  it("any chunking of valid frames decodes to the same messages and control frames", () => {
    fc.assert(
      fc.property(fc.array(messageArb, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 30 }), (messages, cuts) => {
        const wire = Buffer.concat(messages.flatMap(framesOf))
        const whole = recorder()
        expect(new FrameDecoder(whole).execute(wire)).toBe(true)
        const split = recorder()
        const decoder = new FrameDecoder(split)
        for (const chunk of splitAt(wire, cuts)) expect(decoder.execute(chunk)).toBe(true)
        expect(split.events).toEqual(whole.events)
        expect(whole.events.filter(([kind]) => kind === "message").map(([, data]) => data)).toEqual(
          messages.map((m) => m.text ? m.body : [...Buffer.from(m.body, "utf8")])
        )
      }),
      { seed: 6455, numRuns: 150 }
    )
  })

  it("a 2^63-1 length is refused from its header, before any payload byte", () => {
    const decoder = new FrameDecoder(recorder())
    const header = Buffer.from([0x82, 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    expect(decoder.execute(header)).toBe(false)
    expect(decoder.errorCode).toBe(1009)
  })

  it("a length split across reads is read whole before it is judged", () => {
    const events = recorder()
    const decoder = new FrameDecoder(events)
    const frame = serverFrame(Opcode.Binary, Buffer.alloc(70_000, 7))
    for (let i = 0; i < 12; i++) expect(decoder.execute(frame.subarray(i, i + 1))).toBe(true)
    expect(decoder.execute(frame.subarray(12))).toBe(true)
    expect(events.events).toHaveLength(1)
  })

  it("a close frame with no body reports no code", () => {
    const events = recorder()
    new FrameDecoder(events).execute(serverFrame(Opcode.Close, Buffer.alloc(0)))
    expect(events.events).toEqual([["close", [undefined, ""]]])
  })
})

describe("UTF-8", () => {
  it("agrees with Node's isUtf8 on any bytes, however they are split", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        const validator = new Utf8Validator()
        let ok = true
        for (const piece of splitAt(Buffer.from(bytes), cuts)) ok = ok && validator.write(piece)
        expect(ok && validator.complete).toBe(isUtf8(bytes))
      }),
      { seed: 3629, numRuns: 2000 }
    )
  })

  it("fails at the first invalid byte, before the end of the message", () => {
    const validator = new Utf8Validator()
    expect(validator.write(Buffer.from([0xf0, 0x9f]))).toBe(true)
    expect(validator.write(Buffer.from([0x41]))).toBe(false)
  })
})

describe("encoding", () => {
  const unmask = (frame: Buffer, at: number) => {
    const key = frame.subarray(at, at + 4)
    return Buffer.from(frame.subarray(at + 4).map((b, i) => b ^ key[i & 3]!))
  }

  it("masks every frame, with FIN set and the payload recoverable with its key", () => {
    const frame = encodeFrame(Opcode.Text, Buffer.from("hello"))
    expect(frame[0]).toBe(0x81)
    expect(frame[1]).toBe(0x80 | 5)
    expect(unmask(frame, 2).toString()).toBe("hello")
  })

  it("uses the 16-bit and 64-bit lengths past 125 and 65535 bytes", () => {
    const medium = encodeFrame(Opcode.Binary, Buffer.alloc(126, 1))
    expect(medium[1]).toBe(0x80 | 126)
    expect(medium.readUInt16BE(2)).toBe(126)
    expect([...unmask(medium, 4)]).toEqual(Array(126).fill(1))
    const large = encodeFrame(Opcode.Binary, Buffer.alloc(65_536, 2))
    expect(large[1]).toBe(0x80 | 127)
    expect(Number(large.readBigUInt64BE(2))).toBe(65_536)
    expect(unmask(large, 10).every((b) => b === 2)).toBe(true)
  })

  it("draws a new mask for each frame", () => {
    const keys = new Set(Array.from({ length: 50 }, () => encodeFrame(Opcode.Ping, Buffer.alloc(0)).subarray(2, 6).toString("hex")))
    expect(keys.size).toBeGreaterThan(45)
  })
})
