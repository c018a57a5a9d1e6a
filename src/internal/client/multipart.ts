/**
 * multipart/form-data (RFC 7578) as browsers write it (HTML's "multipart/form-data encoding algorithm"), for the
 * `files` option of a request and for a web FormData sent through `Platform`. Parts in memory are bytes; a part that
 * is a Stream or a Blob is read while the body is sent, so a large upload never sits in memory whole.
 */
import * as Chunk from "effect/Chunk"
import * as Stream from "effect/Stream"
import { crypto } from "../core/builtins.js"
import type { Body } from "../message/request.js"

const utf8 = new TextEncoder()

/** A multipart body and the Content-Type that names its boundary. */
interface Encoded {
  readonly body: Body
  readonly contentType: string
}

// 128 random bits: a part's content cannot realistically contain the delimiter, so contents need no scanning.
export const makeBoundary = (): string => `httpfx-${crypto().randomBytes(16).toString("hex")}`

// HTML's multipart/form-data encoding escapes these three rather than backslash-quoting: servers follow browsers, and
// a raw CR or LF would end the header line.
const escapeParam = (value: string): string =>
  value.replace(/["\r\n]/g, (c) => c === "\"" ? "%22" : c === "\r" ? "%0D" : "%0A")

/**
 * "--boundary", the part's headers and the blank line after them. A part without filename is a field and has no
 * Content-Type (HTML: "parts that correspond to non-file fields must not have a Content-Type header").
 */
const partHead = (boundary: string, name: string, filename: string | undefined, contentType: string): string =>
  filename === undefined
    ? `--${boundary}\r\nContent-Disposition: form-data; name="${escapeParam(name)}"\r\n\r\n`
    : `--${boundary}\r\nContent-Disposition: form-data; name="${escapeParam(name)}"; filename="${
      escapeParam(filename)
    }"\r\nContent-Type: ${contentType}\r\n\r\n`

const contentTypeOf = (boundary: string): string => `multipart/form-data; boundary=${boundary}`

// ----- the `files` option -----

/** A file part of the `files` option, already checked. */
export interface FilePart {
  readonly name: string
  readonly filename: string
  readonly contentType: string
  readonly content: Uint8Array | Stream.Stream<Uint8Array, unknown>
  readonly size: number | undefined
}

/**
 * Fields and files as one multipart body: bytes with a Content-Length when every part is in memory, else a Stream
 * that reads each streamed part as it is sent (with a Content-Length when every stream's size was given).
 */
export const encodeParts = (
  fields: ReadonlyArray<readonly [string, string]>,
  files: ReadonlyArray<FilePart>,
  boundary: string
): Encoded => {
  // Each part opens with "--boundary" and ends with CRLF, so that CRLF plus the next "--boundary" is the delimiter
  // of RFC 2046 §5.1.1; the body closes with "--boundary--".
  const segments: Array<Uint8Array | Stream.Stream<Uint8Array, unknown>> = []
  let length: number | undefined = 0
  let streamed = false
  const bytes = (chunk: Uint8Array) => {
    segments.push(chunk)
    if (length !== undefined) length += chunk.length
  }
  // Fields first, as RFC 7578 §5.2 advises: a server can read the small values before the files arrive.
  for (const [name, value] of fields) bytes(utf8.encode(`${partHead(boundary, name, undefined, "")}${value}\r\n`))
  for (const part of files) {
    bytes(utf8.encode(partHead(boundary, part.name, part.filename, part.contentType)))
    if (part.content instanceof Uint8Array) {
      bytes(part.content)
    } else {
      segments.push(part.content)
      streamed = true
      length = length === undefined || part.size === undefined ? undefined : length + part.size
    }
    bytes(CRLF)
  }
  bytes(utf8.encode(`--${boundary}--\r\n`))
  const contentType = contentTypeOf(boundary)
  if (!streamed) return { body: { _tag: "Bytes", bytes: concatBytes(segments as Array<Uint8Array>) }, contentType }
  // Adjacent byte segments (a part's trailing CRLF and the next part's headers) go out as one chunk.
  const streams: Array<Stream.Stream<Uint8Array, unknown>> = []
  let pending: Array<Uint8Array> = []
  const flush = () => {
    if (pending.length > 0) streams.push(Stream.succeed(concatBytes(pending)))
    pending = []
  }
  for (const segment of segments) {
    if (segment instanceof Uint8Array) {
      pending.push(segment)
    } else {
      flush()
      streams.push(segment)
    }
  }
  flush()
  // A caller's stream may be a socket or a generator: running it twice cannot be assumed to give the same bytes.
  return { body: streamBody(streams, length, false), contentType }
}

const CRLF = utf8.encode("\r\n")

const concatBytes = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (chunks.length === 1) return chunks[0]!
  let total = 0
  for (const chunk of chunks) total += chunk.length
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

const streamBody = (
  streams: Array<Stream.Stream<Uint8Array, unknown>>,
  length: number | undefined,
  replayable: boolean
): Body => ({ _tag: "Stream", stream: Stream.concatAll(Chunk.unsafeFromArray(streams)), length, replayable })

// ----- a web FormData -----

/**
 * A web FormData as a multipart body sent chunked, each File read with `blob.stream()` as the body goes out.
 *
 * Every entry is a chunk of its own and the closing delimiter another, as undici (platform's Node client) writes
 * them: @effect/platform's multipart server loses a size-limit error (FieldTooLarge, FileTooLarge) when the bytes
 * over the limit and the closing delimiter reach its parser in one write, and chunked framing keeps the chunks apart
 * however TCP packs them, where a Content-Length body is read as the socket delivers it.
 *
 * Replayable (a 307/308 or a retry sends it again): the entries are taken now, and strings and Blobs read the same
 * every time.
 */
export const encodeFormData = (formData: FormData): Encoded => {
  const boundary = makeBoundary()
  const streams: Array<Stream.Stream<Uint8Array, unknown>> = []
  // The CRLF that ends a file part goes out with what follows it, so a file adds no chunk of two bytes.
  let pending = ""
  formData.forEach((value, name) => {
    if (typeof value === "string") {
      streams.push(Stream.succeed(utf8.encode(
        `${pending}${partHead(boundary, normalizeNewlines(name), undefined, "")}${normalizeNewlines(value)}\r\n`
      )))
      pending = ""
    } else {
      // A FormData turns every Blob into a File ("blob" unless named); the fallback is for look-alikes only.
      const filename = typeof (value as Partial<File>).name === "string" ? value.name : "blob"
      const head = partHead(boundary, normalizeNewlines(name), filename, blobType(value))
      streams.push(
        Stream.succeed(utf8.encode(pending + head)),
        Stream.fromReadableStream(() => value.stream(), (cause) => cause)
      )
      pending = "\r\n"
    }
  })
  streams.push(Stream.succeed(utf8.encode(`${pending}--${boundary}--\r\n`)))
  return { body: streamBody(streams, undefined, true), contentType: contentTypeOf(boundary) }
}

// HTML converts the entry list to name-value pairs with every lone CR or LF of names and string values made CRLF;
// filenames keep theirs (escaped).
const normalizeNewlines = (value: string): string => value.replace(/\r\n|\r|\n/g, "\r\n")

// The Blob constructor keeps a type only if it is printable ASCII; a subclass's getter is checked the same way, since
// the type goes into a header line.
const blobType = (blob: Blob): string => {
  const type = blob.type
  return type === "" || !/^[\x20-\x7e]*$/.test(type) ? "application/octet-stream" : type
}
