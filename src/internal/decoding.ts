/**
 * Content-Encoding (RFC 9110 §8.4): undoing gzip, deflate, br and zstd, for whole bodies and for streams.
 */
import type * as Zlib from "node:zlib"
import { zlib as loadZlib } from "./builtins.js"

type Codec = {
  readonly sync: (input: Uint8Array) => Buffer
  /** A streaming decoder, chosen once the first bytes are seen (deflate comes in two formats). */
  readonly stream: (first: Uint8Array) => NodeJS.ReadWriteStream
}

// Servers disagree on what "deflate" means (zlib-wrapped per the RFC, or raw as old IIS sent it); look at the
// first byte, as browsers do: a zlib header has CM = 8 in the low nibble.
const isZlibWrapped = (input: Uint8Array) => input.length > 0 && (input[0]! & 0x0f) === 8

const makeCodecs = (zlib: typeof Zlib): Record<string, Codec> => {
  const gzip: Codec = {
    sync: (b) => zlib.gunzipSync(b, { finishFlush: zlib.constants.Z_SYNC_FLUSH }),
    stream: () => zlib.createGunzip()
  }
  const codecs: Record<string, Codec> = {
    gzip,
    "x-gzip": gzip,
    deflate: {
      sync: (b) => isZlibWrapped(b) ? zlib.inflateSync(b) : zlib.inflateRawSync(b),
      stream: (first) => isZlibWrapped(first) ? zlib.createInflate() : zlib.createInflateRaw()
    },
    br: { sync: (b) => zlib.brotliDecompressSync(b), stream: () => zlib.createBrotliDecompress() }
  }
  // zstd arrived in Node 22.15 and 23.8.
  const zstd = (zlib as any).zstdDecompressSync as ((input: Uint8Array) => Buffer) | undefined
  const zstdStream = (zlib as any).createZstdDecompress as (() => NodeJS.ReadWriteStream) | undefined
  if (zstd !== undefined && zstdStream !== undefined) {
    codecs.zstd = { sync: zstd, stream: zstdStream }
  }
  return codecs
}

// Built on first use: node:zlib loads only once a body needs decoding, or a client advertises what it can decode.
let codecTable: Record<string, Codec> | undefined
const codecs = (): Record<string, Codec> => (codecTable ??= makeCodecs(loadZlib()))

let supported: ReadonlyArray<string> | undefined

/** The encodings this Node can decode, for `Accept-Encoding`. */
export const supportedEncodings = (): ReadonlyArray<string> =>
  (supported ??= Object.keys(codecs()).filter((name) => name !== "x-gzip"))

/** The codings of a Content-Encoding value, in the order they were applied; `identity` dropped. */
export const parseEncodings = (value: string | undefined): Array<string> => {
  if (value === undefined) return []
  const result: Array<string> = []
  for (const part of value.split(",")) {
    const name = part.trim().toLowerCase()
    if (name !== "" && name !== "identity") result.push(name)
  }
  return result
}

/** Decode a whole body; throws an Error with a readable message when the body or the coding is bad. */
export const decodeAll = (encodings: ReadonlyArray<string>, body: Uint8Array): Uint8Array => {
  let out = body
  // Codings are listed in the order they were applied, so they are undone from the last (RFC 9110 §8.4).
  for (let i = encodings.length - 1; i >= 0; i--) {
    const name = encodings[i]!
    const codec = codecs()[name]
    if (codec === undefined) throw new Error(`unsupported Content-Encoding "${name}"`)
    try {
      out = codec.sync(out)
    } catch (error) {
      throw new Error(`the body is not valid ${name}: ${(error as Error).message}`)
    }
  }
  return out
}

export type StreamDecoder = (first: Uint8Array) => NodeJS.ReadWriteStream

/** The streaming decoders for a Content-Encoding list, in the order to apply them; or why it cannot be decoded. */
export const decoderStreams = (encodings: ReadonlyArray<string>): Array<StreamDecoder> | string => {
  const result: Array<StreamDecoder> = []
  for (let i = encodings.length - 1; i >= 0; i--) {
    const codec = codecs()[encodings[i]!]
    if (codec === undefined) return `unsupported Content-Encoding "${encodings[i]}"`
    result.push(codec.stream)
  }
  return result
}
