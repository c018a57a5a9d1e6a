/**
 * Request body encoding: turns the `json` / `form` / `files` / `content` options of a request into a `Body` and the
 * Content-Type that goes with it. Pure and synchronous; a multipart body with streamed parts stays a Stream, so a
 * large upload never sits in memory whole.
 */
import * as Predicate from "effect/Predicate"
import * as Stream from "effect/Stream"
import type { FilePart } from "./multipart.js"
import { encodeParts, makeBoundary } from "./multipart.js"
import type { Body } from "../message/request.js"
import { emptyBody } from "../message/request.js"

export type FormValue = string | number | boolean | ReadonlyArray<string | number | boolean>

export type FormInput =
  | Readonly<Record<string, FormValue | undefined>>
  | ReadonlyArray<readonly [string, string | number | boolean]>

type FileContent<E = unknown> = Uint8Array | string | Stream.Stream<Uint8Array, E>

export type FileInput<E = unknown> = FileContent<E> | {
  readonly filename?: string | undefined
  readonly content: FileContent<E>
  readonly contentType?: string | undefined
  /**
   * byte size of a Stream content, when known: lets the whole multipart body get a Content-Length (a bigint, as
   * @effect/platform's FileSystem reports sizes, is accepted too)
   */
  readonly size?: number | bigint | undefined
}

export type FilesInput<E = unknown> =
  | Readonly<Record<string, FileInput<E> | ReadonlyArray<FileInput<E>>>>
  | ReadonlyArray<readonly [string, FileInput<E>]>

export interface BodyOptions<E = unknown> {
  readonly json?: unknown
  readonly form?: FormInput | undefined
  readonly files?: FilesInput<E> | undefined
  readonly content?: Uint8Array | string | Stream.Stream<Uint8Array, E> | undefined
}

/** What `encode` returns: the body and its Content-Type, or why the options cannot be encoded. */
export type EncodeResult =
  | { readonly body: Body; readonly contentType: string | undefined }
  | { readonly error: string }

// Most requests carry no body; one shared result keeps that path free of allocation.
const NO_BODY: EncodeResult = { body: emptyBody, contentType: undefined }

const utf8 = new TextEncoder()

/** Encode the body options of one request. contentType: the Content-Type to send unless the caller set one. */
export const encode = (options: BodyOptions<any>): EncodeResult =>
  options.json === undefined && options.form === undefined && options.files === undefined &&
    options.content === undefined
    ? NO_BODY
    : encodeWith(options, makeBoundary)

/** Only for tests: encode with a fixed boundary. */
export const encodeWithBoundary = (options: BodyOptions<any>, boundary: string): EncodeResult =>
  encodeWith(options, () => boundary)

// The boundary is asked for only when the body is multipart: JSON and form requests skip the random bytes.
const encodeWith = (options: BodyOptions<any>, boundary: () => string): EncodeResult => {
  const { content, files, form, json } = options
  const given = (content !== undefined ? 1 : 0) + (json !== undefined ? 1 : 0) +
    (form !== undefined || files !== undefined ? 1 : 0)
  if (given === 0) return NO_BODY
  if (given > 1) return { error: "give only one of content, json, form/files" }
  if (content !== undefined) return encodeContent(content)
  if (json !== undefined) return encodeJson(json)
  const fields = formPairs(form)
  if (typeof fields === "string") return { error: fields }
  const parts = files === undefined ? [] : fileParts(files)
  if (typeof parts === "string") return { error: parts }
  // As httpx: an empty `files` adds nothing, so the form goes urlencoded rather than as a multipart of fields only.
  if (parts.length === 0) return encodeUrlencoded(fields)
  return encodeParts(fields, parts, boundary())
}

// Raw content gets no Content-Type: only the caller knows what it is (httpx sends none either).
const encodeContent = (content: Uint8Array | string | Stream.Stream<Uint8Array, unknown>): EncodeResult => {
  if (typeof content === "string") return { body: bytesBody(utf8.encode(content)), contentType: undefined }
  if (content instanceof Uint8Array) return { body: bytesBody(content), contentType: undefined }
  if (isStream(content)) {
    // A caller's stream may be a socket or a generator: running it twice cannot be assumed to give the same bytes.
    return { body: { _tag: "Stream", stream: content, length: undefined, replayable: false }, contentType: undefined }
  }
  return { error: `content must be a Uint8Array, a string or a Stream, got ${describe(content)}` }
}

const encodeJson = (value: unknown): EncodeResult => {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (e) {
    // BigInt values and cycles throw; so may a toJSON method.
    return { error: `the json body cannot be encoded: ${e instanceof Error ? e.message : String(e)}` }
  }
  // JSON.stringify returns undefined, rather than throwing, for a function, a symbol or undefined.
  if (text === undefined) return { error: `the json body cannot be encoded: JSON has no form for ${describe(value)}` }
  return { body: bytesBody(utf8.encode(text)), contentType: "application/json" }
}

const encodeUrlencoded = (fields: ReadonlyArray<readonly [string, string]>): EncodeResult => {
  // URLSearchParams is the WHATWG application/x-www-form-urlencoded serializer (spaces as "+"), what servers expect.
  const text = new URLSearchParams(fields as Array<[string, string]>).toString()
  return { body: bytesBody(utf8.encode(text)), contentType: "application/x-www-form-urlencoded" }
}

// ----- form fields -----

const formPairs = (form: FormInput | undefined): Array<readonly [string, string]> | string => {
  const pairs: Array<readonly [string, string]> = []
  if (form === undefined) return pairs
  if (Array.isArray(form)) {
    for (const pair of form as ReadonlyArray<readonly [string, unknown]>) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string") {
        return `form pairs must be [name, value] with a string name, got ${describe(pair)}`
      }
      const value = scalar(pair[1])
      if (value === undefined) return formValueError(pair[0], pair[1])
      pairs.push([pair[0], value])
    }
    return pairs
  }
  if (typeof form !== "object" || form === null) {
    return `form must be a record or a list of pairs, got ${describe(form)}`
  }
  for (const [name, value] of Object.entries(form as Record<string, unknown>)) {
    if (value === undefined) continue
    if (Array.isArray(value)) {
      // Repeating the key is how urlencoded and multipart forms both carry a list (what a <select multiple> sends).
      for (const item of value) {
        const text = scalar(item)
        if (text === undefined) return formValueError(name, item)
        pairs.push([name, text])
      }
    } else {
      const text = scalar(value)
      if (text === undefined) return formValueError(name, value)
      pairs.push([name, text])
    }
  }
  return pairs
}

// Anything else would be sent as "[object Object]" or "null", which no server means to receive.
const scalar = (value: unknown): string | undefined =>
  typeof value === "string"
    ? value
    : typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : undefined

const formValueError = (name: string, value: unknown): string =>
  `the form field ${JSON.stringify(name)} must be a string, a number, a boolean or a list of them, got ${
    describe(value)
  }`

// ----- files -----

const fileParts = (files: FilesInput<unknown>): Array<FilePart> | string => {
  const parts: Array<FilePart> = []
  const add = (name: string, input: unknown): string | undefined => {
    const part = filePart(name, input)
    if (typeof part === "string") return part
    parts.push(part)
    return undefined
  }
  if (Array.isArray(files)) {
    for (const pair of files as ReadonlyArray<readonly [string, unknown]>) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string") {
        return `files pairs must be [name, file] with a string name, got ${describe(pair)}`
      }
      const error = add(pair[0], pair[1])
      if (error !== undefined) return error
    }
    return parts
  }
  if (typeof files !== "object" || files === null) {
    return `files must be a record or a list of pairs, got ${describe(files)}`
  }
  for (const [name, value] of Object.entries(files as Record<string, unknown>)) {
    for (const input of Array.isArray(value) ? value : [value]) {
      const error = add(name, input)
      if (error !== undefined) return error
    }
  }
  return parts
}

const filePart = (name: string, input: unknown): FilePart | string => {
  const bare = fileContent(input)
  if (bare !== undefined) {
    return { name, filename: "upload", contentType: "application/octet-stream", content: bare, size: undefined }
  }
  if (!Predicate.hasProperty(input, "content")) {
    return `the file ${JSON.stringify(name)} must be a Uint8Array, a string, a Stream or { filename?, content, ` +
      `contentType?, size? }, got ${describe(input)}`
  }
  const { content: raw, contentType, filename, size } = input as {
    content: unknown
    filename?: unknown
    contentType?: unknown
    size?: unknown
  }
  const content = fileContent(raw)
  if (content === undefined) {
    return `the content of the file ${JSON.stringify(name)} must be a Uint8Array, a string or a Stream, got ${
      describe(raw)
    }`
  }
  if (filename !== undefined && typeof filename !== "string") {
    return `the filename of the file ${JSON.stringify(name)} must be a string, got ${describe(filename)}`
  }
  if (contentType !== undefined && (typeof contentType !== "string" || /[\r\n\0]/.test(contentType))) {
    // A line break here would let the value write its own part headers into the body.
    return `the contentType of the file ${JSON.stringify(name)} must be a string without CR, LF or NUL, got ${
      describe(contentType)
    }`
  }
  const declared = typeof size === "bigint" && size <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(size) : size
  if (declared !== undefined && !(Number.isSafeInteger(declared) && (declared as number) >= 0)) {
    return `the size of the file ${JSON.stringify(name)} must be a non-negative integer, got ${describe(size)}`
  }
  return {
    name,
    filename: filename ?? "upload",
    contentType: contentType ?? "application/octet-stream",
    content,
    // Bytes know their own length; a declared size only matters for a Stream.
    size: content instanceof Uint8Array ? content.length : declared as number | undefined
  }
}

const fileContent = (value: unknown): Uint8Array | Stream.Stream<Uint8Array, unknown> | undefined =>
  typeof value === "string"
    ? utf8.encode(value)
    : value instanceof Uint8Array
    ? value
    : isStream(value)
    ? value
    : undefined

// ----- helpers -----

const bytesBody = (bytes: Uint8Array): Body => ({ _tag: "Bytes", bytes })

const isStream = (value: unknown): value is Stream.Stream<Uint8Array, unknown> =>
  Predicate.hasProperty(value, Stream.StreamTypeId)

const describe = (value: unknown): string =>
  value === null
    ? "null"
    : value === undefined
    ? "undefined"
    : Array.isArray(value)
    ? "an array"
    : typeof value === "object"
    ? `an object (${Object.prototype.toString.call(value).slice(8, -1)})`
    : `a ${typeof value}`
