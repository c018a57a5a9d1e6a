/**
 * Content-Encoding (RFC 9110 §8.4) and the transfer codings of a body read until close (RFC 9112 §6.1): undoing
 * gzip, deflate, br and zstd with node:zlib's streams, a bounded amount at a time.
 *
 * Nothing here decompresses a whole body in one call: zlib works on its thread pool in steps of one output chunk, and
 * stops once the decoded bytes nobody has taken reach a small window (the readable side's backpressure). A 1 KiB
 * body that expands to gigabytes is therefore decoded only as fast as someone takes its bytes, and the event loop
 * never waits for more than one step.
 */
import type { Transform } from "node:stream"
import type * as Zlib from "node:zlib"
import { zlib as loadZlib } from "../core/builtins.js"

/** Output zlib produces per step: one thread-pool round trip each. */
const CHUNK_SIZE = 32 * 1024
/**
 * Decoded bytes waiting for the reader at which the last stage stops; its own buffer then holds one more step at
 * most. A reader that takes what waits takes less than 64 KiB.
 */
const OUTPUT_WINDOW = 64 * 1024 - CHUNK_SIZE
/**
 * While zlib still has input to work through, the reader is handed decoded bytes once there are this many, rather
 * than every short push (one ends each piece of input) on its own at the cost of a wait each.
 */
const BATCH = 32 * 1024

type ZlibStream = Zlib.Zlib & Transform

/** A streaming decoder, chosen once the first bytes are seen (deflate comes in two formats). */
type Codec = (first: Uint8Array) => ZlibStream

// Servers disagree on what "deflate" means (zlib-wrapped per the RFC, or raw as old IIS sent it); look at the
// first byte, as browsers do: a zlib header has CM = 8 in the low nibble.
const isZlibWrapped = (input: Uint8Array) => input.length > 0 && (input[0]! & 0x0f) === 8

const makeCodecs = (zlib: typeof Zlib): Record<string, Codec> => {
  // A stage stops once a step's chunk waits unread: the window the reader sees is kept in BodyDecoder.
  const options = { chunkSize: CHUNK_SIZE, readableHighWaterMark: CHUNK_SIZE }
  // A gzip body cut short after a complete block still gives what it holds, as browsers and curl do.
  const gzipOptions = { ...options, finishFlush: zlib.constants.Z_SYNC_FLUSH }
  const gzip: Codec = () => zlib.createGunzip(gzipOptions)
  const codecs: Record<string, Codec> = {
    gzip,
    "x-gzip": gzip,
    deflate: (first) => isZlibWrapped(first) ? zlib.createInflate(options) : zlib.createInflateRaw(options),
    br: () => zlib.createBrotliDecompress(options)
  }
  // zstd arrived in Node 22.15 and 23.8.
  const zstd = (zlib as any).createZstdDecompress as ((options: object) => ZlibStream) | undefined
  if (zstd !== undefined) codecs.zstd = () => zstd(options)
  return codecs
}

// Built on first use: node:zlib loads only once a body needs decoding, or a client advertises what it can decode.
let codecTable: Record<string, Codec> | undefined
const codecs = (): Record<string, Codec> => (codecTable ??= makeCodecs(loadZlib()))

let supported: ReadonlyArray<string> | undefined

/** The encodings this Node can decode, for `Accept-Encoding`. */
export const supportedEncodings = (): ReadonlyArray<string> =>
  (supported ??= Object.keys(codecs()).filter((name) => name !== "x-gzip"))

/** The codings of a Content-Encoding (or Transfer-Encoding) value, in the order they were applied; `identity` dropped. */
const parseEncodings = (value: string | undefined): Array<string> => {
  if (value === undefined) return []
  const result: Array<string> = []
  for (const part of value.split(",")) {
    const name = part.trim().toLowerCase()
    if (name !== "" && name !== "identity") result.push(name)
  }
  return result
}

/**
 * Every coding a body went through, in the order applied: its content codings first, then the transfer codings
 * (RFC 9112 §6.1: a transfer coding is applied to the content as it is, codings included), so that undoing them from
 * the last removes the transfer codings first. `undefined` when there is nothing to undo.
 */
export const bodyCodings = (
  contentEncoding: string | undefined,
  transferCodings: ReadonlyArray<string>
): Array<string> | undefined => {
  const content = parseEncodings(contentEncoding)
  const all = transferCodings.length === 0 ? content : [...content, ...transferCodings]
  return all.length === 0 ? undefined : all
}

/** Why these codings cannot be undone here, or undefined when they can. */
export const unsupportedCoding = (encodings: ReadonlyArray<string>): string | undefined => {
  const table = codecs()
  for (const name of encodings) if (table[name] === undefined) return `unsupported Content-Encoding "${name}"`
  return undefined
}

/** Decoder streams that exist right now (not yet closed): what a test checks to see that none is left behind. */
let openStreams = 0
export const openDecoderStreams = (): number => openStreams

/** One coding to undo: its zlib stream, made from the first bytes it is given. */
interface Stage {
  readonly name: string
  readonly codec: Codec
  stream: (ZlibStream) | undefined
  /** its writable side is full: nothing more is written until it drains */
  blocked: boolean
  /** its input is complete */
  ending: boolean
  /** its readable side has ended */
  ended: boolean
}

/**
 * A body's decoder: a chain of zlib streams, one per coding, undone from the last applied. Plain synchronous code
 * driven by zlib's events; whoever owns it is told of every change through `onChange` (never from inside one of its
 * own calls) and then looks at what changed:
 *
 * - `take()` gives the decoded chunks that are ready (less than 64 KiB in all), or undefined; taking them lets zlib
 *   go on;
 * - `wantsInput` says the decoder has worked through everything written so far and produced nothing more, so more
 *   input is what it needs (for a reader that pulls its input rather than having it pushed);
 * - `write` returns false when the input should wait until `blocked` clears;
 * - `failure` and `done` end it.
 *
 * `destroy` frees every zlib stream (and its native memory) at once.
 */
export class BodyDecoder {
  private readonly stages: Array<Stage>
  /** writes handed to zlib and not yet worked through, over every stage */
  private pending = 0
  /** decoded chunks the reader has not taken yet, as the last stage gave them (no copying) */
  private out: Array<Buffer> = []
  private outSize = 0
  /** why decoding failed: the coding and zlib's message */
  failure: { readonly coding: string; readonly error: Error; readonly internal?: true } | undefined = undefined
  /** the last stage ended: every decoded byte has been handed over (some may still wait in `take`) */
  done = false
  private destroyed = false

  /** `codings` in the order they were applied (all supported: see `unsupportedCoding`). */
  constructor(codings: ReadonlyArray<string>, private readonly onChange: () => void) {
    const table = codecs()
    const stages: Array<Stage> = []
    for (let i = codings.length - 1; i >= 0; i--) {
      const name = codings[i]!
      stages.push({ name, codec: table[name]!, stream: undefined, blocked: false, ending: false, ended: false })
    }
    this.stages = stages
  }

  /** The first stage takes more input only once this is false (after an `onChange`). */
  get blocked(): boolean {
    return this.stages[0]!.blocked
  }

  /**
   * The decoder has worked through all its input and has nothing to give: only more input (or its end) makes it go
   * on. False while zlib works, while decoded bytes wait anywhere in the chain, and after the end of the input.
   */
  get wantsInput(): boolean {
    if (this.pending > 0 || this.outSize > 0 || this.failure !== undefined || this.destroyed) return false
    for (const stage of this.stages) {
      if (stage.ending || stage.blocked) return false
      if (stage.stream !== undefined && stage.stream.readableLength > 0) return false
    }
    return true
  }

  /** Raw bytes, which zlib keeps until it has worked through them. Returns false when the writer should wait. */
  write(bytes: Uint8Array): boolean {
    if (this.destroyed || bytes.length === 0) return !this.blocked
    return this.feed(0, bytes)
  }

  /** The raw body is complete. */
  end(): void {
    if (!this.destroyed) this.endStage(0)
  }

  /** The decoded chunks that are ready, if any; zlib goes on once they are taken. */
  take(): Array<Buffer> | undefined {
    if (this.destroyed) return undefined
    // Earlier stages' output may be waiting for the next stage to drain.
    this.flowAll()
    const size = this.outSize
    if (size === 0 || (size < BATCH && this.pending > 0)) return undefined
    const out = this.out
    this.out = []
    this.outSize = 0
    const stream = this.stages[this.stages.length - 1]!.stream!
    if (stream.isPaused()) stream.resume()
    return out
  }

  /** Stop now: every zlib stream is destroyed, which frees its native handle. Idempotent. */
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    for (const stage of this.stages) stage.stream?.destroy()
  }

  // ---- the chain ---------------------------------------------------------------------------------------------------

  private feed(index: number, bytes: Uint8Array): boolean {
    const stage = this.stages[index]!
    const stream = stage.stream ?? this.open(index, bytes)
    this.pending++
    const ok = stream.write(bytes, this.written)
    if (!ok) stage.blocked = true
    return ok
  }

  private readonly written = (): void => {
    this.pending--
    this.changed()
  }

  private open(index: number, first: Uint8Array): ZlibStream {
    const stage = this.stages[index]!
    const stream = stage.codec(first)
    stage.stream = stream
    openStreams++
    if (index < this.stages.length - 1) {
      stream.on("readable", () => {
        try {
          this.flow(index)
        } catch (error) {
          return this.crashed(error)
        }
        this.changed()
      })
    } else {
      // The last stage flows (each chunk handed over as zlib pushed it) until the reader's window is full.
      stream.on("data", (chunk: Buffer) => {
        this.out.push(chunk)
        if ((this.outSize += chunk.length) >= OUTPUT_WINDOW) stream.pause()
        this.changed()
      })
    }
    stream.on("drain", () => {
      stage.blocked = false
      try {
        if (index > 0) this.flow(index - 1)
      } catch (error) {
        return this.crashed(error)
      }
      this.changed()
    })
    stream.on("end", () => {
      stage.ended = true
      try {
        if (index < this.stages.length - 1) this.endStage(index + 1)
        else this.done = true
      } catch (error) {
        return this.crashed(error)
      }
      this.changed()
    })
    stream.on("error", (error: Error) => {
      this.failure ??= { coding: stage.name, error }
      this.changed()
    })
    stream.on("close", () => {
      openStreams--
    })
    return stream
  }

  /** Move stage `index`'s output into the next stage, as much as it takes. */
  private flow(index: number): void {
    const from = this.stages[index]!.stream
    const next = this.stages[index + 1]!
    if (from === undefined || this.destroyed) return
    while (!next.blocked) {
      const chunk = from.read() as Buffer | null
      if (chunk === null) return
      this.feed(index + 1, chunk)
    }
  }

  private flowAll(): void {
    for (let i = 0; i < this.stages.length - 1; i++) this.flow(i)
  }

  private endStage(index: number): void {
    const stage = this.stages[index]!
    if (stage.ending) return
    stage.ending = true
    if (stage.stream !== undefined) {
      stage.stream.end()
      return
    }
    // No bytes ever reached this stage: an empty body decodes to nothing, whatever its codings say.
    stage.ended = true
    if (index < this.stages.length - 1) this.endStage(index + 1)
    else {
      this.done = true
      // Not from inside the caller's own call.
      queueMicrotask(() => this.changed())
    }
  }

  /**
   * Tell the owner. This runs inside zlib's own callbacks, where a throw would reach `uncaughtException`: a throw of
   * the owner's ends the body as broken, and the owner is told once more so that its request fails.
   */
  private changed(): void {
    if (this.destroyed) return
    try {
      this.onChange()
    } catch (error) {
      this.crashed(error)
    }
  }

  private crashed(error: unknown): void {
    this.failure ??= {
      coding: this.stages[0]!.name,
      error: error instanceof Error ? error : new Error(String(error)),
      internal: true
    }
    try {
      this.onChange()
    } catch {
      // The owner cannot be told; its timers still end the request.
    }
    this.destroy()
  }
}
