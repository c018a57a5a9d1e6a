/**
 * A hostile HTTP/1.1 server for the fuzz test: each case is a `Plan` (a response, valid or broken in one way, and how
 * its bytes are delivered), turned into the exact bytes to send and an oracle saying what a sound client must make of
 * them. Plans are plain data with small fields so that fast-check prints a failing case that can be read and replayed.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import type * as net from "node:net"
import * as zlib from "node:zlib"
import { rawServer } from "../utils/servers.js"
import type { TestServer } from "../utils/servers.js"

// ---- plans ----------------------------------------------------------------------------------------------------------

export type Framing = "length" | "chunked" | "close"
export type Encoding = "identity" | "gzip" | "deflate" | "br"
/** What the server does once its bytes are written. */
export type Ending = "keep" | "end" | "destroy" | "reset" | "silence"

export interface Body {
  readonly size: number
  readonly seed: number
  readonly kind: "random" | "text" | "zeros"
}

export type Mutation =
  | { readonly kind: "none" }
  /** the bytes stop at `permille` of the response, then the server ends, resets, or says nothing more */
  | { readonly kind: "cut"; readonly permille: number; readonly then: "end" | "destroy" | "reset" | "silence" }
  | { readonly kind: "garbageAfterHead"; readonly garbage: Uint8Array; readonly then: "keep" | "end" }
  | { readonly kind: "garbageHead"; readonly garbage: Uint8Array; readonly then: "keep" | "end" | "silence" }
  /** `Content-Length: 99999999999`, a part of the body, then silence or a close */
  | { readonly kind: "hugeLength"; readonly then: "end" | "silence" }
  | { readonly kind: "hugeChunk"; readonly size: string; readonly then: "end" | "silence" }
  /** a chunked body without its last chunk, cut at `permille` of the chunks */
  | { readonly kind: "truncatedChunked"; readonly permille: number; readonly then: "end" | "silence" }
  | {
    readonly kind: "conflictingLengths"
    readonly variant: "twoDifferent" | "listDifferent" | "twoSame" | "lengthAndChunked" | "negative" | "notANumber"
  }
  /** framing is right, the coding is not: a gzip header and junk, or a coded body cut short */
  | { readonly kind: "badEncoding"; readonly variant: "gzipJunk" | "truncated"; readonly junk: Uint8Array }
  /**
   * bytes after a complete response on a keep-alive connection (RFC 9112 §9.3 allows none), in the same write or
   * `gapMs` later, when the connection is back in the pool
   */
  | { readonly kind: "trailingBytes"; readonly bytes: Uint8Array; readonly gapMs: number }
  /** the final head one byte at a time, `gapMs` apart: each gap below the read timeout, the whole past the head one */
  | { readonly kind: "trickleHead"; readonly gapMs: number }
  /** one malformed or doubtful line in the final head */
  | { readonly kind: "badHead"; readonly variant: BadHead }
  /** a head larger than the default `maxHeadSize` (64 KiB) */
  | { readonly kind: "hugeHead" }

export type BadHead =
  | "noColon"
  | "spaceBeforeColon"
  | "nul"
  | "control"
  | "obsFold"
  | "bareLF"
  | "badStatus"
  | "noReason"
  | "badVersion"

export interface Split {
  /** where, in thousandths of the bytes */
  readonly permille: number
  readonly delayMs: number
}

export interface Plan {
  readonly version: "1.1" | "1.0"
  readonly interim: ReadonlyArray<100 | 102 | 103>
  readonly status: 200 | 201 | 204 | 404 | 500
  readonly framing: Framing
  readonly encoding: Encoding
  readonly keepAlive: boolean
  readonly body: Body
  readonly chunks: number
  readonly mutation: Mutation
  readonly splits: ReadonlyArray<Split>
}

// ---- scripts: the bytes to send and what a sound client makes of them -----------------------------------------------

export interface Write {
  readonly bytes: Buffer
  readonly delayMs: number
}

export interface Script {
  readonly writes: ReadonlyArray<Write>
  readonly ending: Ending
}

export interface Oracle {
  /** "success": a Response whose content is `content`; "failure": a typed HttpError (of `tags` when given) */
  readonly outcome: "success" | "failure" | "either"
  /** the decoded body a successful response must carry (undefined: not checked) */
  readonly content?: Uint8Array | undefined
  readonly tags?: ReadonlyArray<string> | undefined
  /** the client saw a protocol violation on this connection: it must not be reused */
  readonly violation: boolean
  /** a clean keep-alive exchange: the pool should hand the same connection to the next request */
  readonly reusable: boolean
  /** the head reaches the client only after this long (the trickle), for the time bound */
  readonly headAfterMs: number
  /** decoded body size, for the body limit */
  readonly decodedSize: number
  /** body bytes as sent (coded), for the body limit */
  readonly encodedSize: number
}

const REASONS: Record<number, string> = {
  100: "Continue",
  102: "Processing",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  204: "No Content",
  404: "Not Found",
  500: "Internal Server Error"
}

/** The body a plan describes, made from its seed so that a printed plan is enough to replay it. */
const bodyBytes = (body: Body): Buffer => {
  const out = Buffer.alloc(body.size)
  if (body.kind === "zeros") return out
  if (body.kind === "text") {
    const phrase = Buffer.from(`line ${body.seed} of a body that compresses well\n`, "latin1")
    for (let i = 0; i < out.length; i++) out[i] = phrase[i % phrase.length]!
    return out
  }
  let x = body.seed | 1
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 255
  }
  return out
}

const encode = (bytes: Buffer, encoding: Encoding): Buffer => {
  switch (encoding) {
    case "identity":
      return bytes
    case "gzip":
      return zlib.gzipSync(bytes)
    case "deflate":
      return zlib.deflateSync(bytes)
    case "br":
      return zlib.brotliCompressSync(bytes)
  }
}

const latin1 = (s: string) => Buffer.from(s, "latin1")

/** RFC 1952: magic, deflate, no flags, no time, no extra flags, OS unknown. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])

const interimHead = (status: 100 | 102 | 103) =>
  status === 103
    ? `HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n`
    : `HTTP/1.1 ${status} ${REASONS[status]}\r\n\r\n`

const chunked = (bytes: Buffer, count: number, last: boolean): Buffer => {
  const parts: Array<Buffer> = []
  const size = Math.max(1, Math.ceil(bytes.length / count))
  for (let at = 0; at < bytes.length; at += size) {
    const piece = bytes.subarray(at, at + size)
    parts.push(latin1(`${piece.length.toString(16)}\r\n`), piece, latin1("\r\n"))
  }
  if (last) parts.push(latin1("0\r\n\r\n"))
  return Buffer.concat(parts)
}

/** How long a trickled head takes: past a 1 second head deadline by more than timer jitter. */
const TRICKLE_MS = 1_300

const at = (length: number, permille: number) => Math.floor(length * permille / 1000)

/** Split `bytes` at the plan's points, each piece written after its delay. */
const deliver = (bytes: Buffer, splits: ReadonlyArray<Split>): Array<Write> => {
  const points = splits.map((split) => ({ offset: at(bytes.length, split.permille), delayMs: split.delayMs }))
    .sort((a, b) => a.offset - b.offset)
  const writes: Array<Write> = []
  let from = 0
  let delayMs = 0
  for (const point of points) {
    if (point.offset > from) writes.push({ bytes: bytes.subarray(from, point.offset), delayMs })
    from = Math.max(from, point.offset)
    delayMs = point.delayMs
  }
  writes.push({ bytes: bytes.subarray(from), delayMs })
  return writes
}

/** The bytes of a plan and what a client must make of them. */
export const build = (plan: Plan): { readonly script: Script; readonly oracle: Oracle } => {
  const built = buildScript(plan)
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing; httpfx refuses such a response once its
  // head is in, and the connection is closed after it. What a mutation does before that still decides.
  if (!faultyFraming(plan)) return built
  const oracle = built.oracle
  return {
    ...built,
    oracle: oracle.outcome === "success"
      ? {
        ...oracle,
        outcome: "failure",
        tags: ["RemoteProtocolError"],
        content: undefined,
        violation: true,
        reusable: false
      }
      : {
        ...oracle,
        tags: oracle.tags === undefined ? undefined : [...oracle.tags, "RemoteProtocolError"],
        violation: true,
        reusable: false
      }
  }
}

const faultyFraming = (plan: Plan) =>
  plan.version === "1.0" && plan.status !== 204 && plan.mutation.kind !== "hugeChunk" &&
  plan.mutation.kind !== "hugeLength" &&
  plan.mutation.kind !== "truncatedChunked" && (plan.framing === "chunked" || (
    plan.mutation.kind === "conflictingLengths" && plan.mutation.variant === "lengthAndChunked"
  ))

const buildScript = (plan: Plan): { readonly script: Script; readonly oracle: Oracle } => {
  const mutation = plan.mutation
  const decoded = plan.status === 204 ? Buffer.alloc(0) : bodyBytes(plan.body)
  let encoding: Encoding = plan.status === 204 ? "identity" : plan.encoding
  let framing: Framing = plan.framing
  let keepAlive = plan.keepAlive
  let version = plan.version
  // Mutations that need a particular framing or connection take it, so that the rest of the plan still varies.
  switch (mutation.kind) {
    case "hugeLength":
      framing = "length"
      break
    case "hugeChunk":
    case "truncatedChunked":
      framing = "chunked"
      version = "1.1"
      break
    case "trailingBytes":
      keepAlive = true
      if (framing === "close") framing = "length"
      break
    case "badEncoding":
      if (mutation.variant === "gzipJunk" || encoding === "identity") encoding = "gzip"
      break
  }
  const hasBody = plan.status !== 204
  let encoded = encode(decoded, encoding)
  if (mutation.kind === "badEncoding" && hasBody) {
    encoded = mutation.variant === "gzipJunk"
      // A gzip header, then a deflate block of the reserved type 3 (RFC 1951 §3.2.3), which no decoder accepts,
      // however lenient it is about a missing end.
      ? Buffer.concat([GZIP_HEADER, Buffer.from([mutation.junk[0]! | 0x06]), mutation.junk.subarray(1)])
      : encoded.subarray(0, Math.max(1, Math.min(encoded.length - 1, at(encoded.length, 500))))
  }

  const http10 = version === "1.0"
  const fields: Array<string> = [`HTTP/${version} ${plan.status} ${REASONS[plan.status]}`]
  if (hasBody) fields.push("Content-Type: application/octet-stream")
  if (hasBody && encoding !== "identity") fields.push(`Content-Encoding: ${encoding}`)
  if (hasBody) {
    if (mutation.kind === "hugeLength") fields.push("Content-Length: 99999999999")
    else if (mutation.kind === "conflictingLengths") fields.push(...conflictingFields(mutation.variant, encoded.length))
    else if (framing === "length") fields.push(`Content-Length: ${encoded.length}`)
    else if (framing === "chunked") fields.push("Transfer-Encoding: chunked")
  }
  fields.push(keepAlive ? "Connection: keep-alive" : "Connection: close")
  if (mutation.kind === "badHead") spoilHead(fields, mutation.variant)
  if (mutation.kind === "hugeHead") fields.push(`X-Filler: ${"a".repeat(70_000)}`)
  const lineEnd = mutation.kind === "badHead" && mutation.variant === "bareLF" ? "\n" : "\r\n"
  const head = latin1(fields.join(lineEnd) + lineEnd + lineEnd)
  // 1xx responses are HTTP/1.1's (RFC 9110 §15.2): an HTTP/1.0 server sends none.
  const interim = latin1(http10 ? "" : plan.interim.map(interimHead).join(""))

  let bodyWire: Buffer = Buffer.alloc(0)
  if (hasBody) {
    const chunkedBody = framing === "chunked" ||
      (mutation.kind === "conflictingLengths" && mutation.variant === "lengthAndChunked")
    bodyWire = chunkedBody ? chunked(encoded, plan.chunks, mutation.kind !== "truncatedChunked") : encoded
  }
  const complete = Buffer.concat([interim, head, bodyWire])
  // Until-close bodies end with the connection; otherwise a keep-alive server waits for the next request.
  const natural: Ending = framing === "close" && hasBody || !keepAlive ? "end" : "keep"
  const reusable = natural === "keep"
  const base = {
    content: decoded,
    violation: false,
    reusable: false,
    headAfterMs: 0,
    decodedSize: decoded.length,
    encodedSize: encoded.length
  }
  const script = (bytes: Buffer, ending: Ending): Script => ({ writes: deliver(bytes, plan.splits), ending })

  switch (mutation.kind) {
    case "none":
      return {
        script: script(complete, natural),
        oracle: { ...base, outcome: "success", reusable }
      }
    case "cut": {
      const offset = at(complete.length, mutation.permille)
      const ending = mutation.then === "silence" ? "silence" : mutation.then
      // An until-close body cut after its head is a shorter body, not an error, when the server closes with a FIN
      // (which is also what Node sends for resetAndDestroy while a write is still queued).
      const shorter = framing === "close" && hasBody && mutation.then !== "silence" &&
        offset >= interim.length + head.length
      return {
        script: script(complete.subarray(0, offset), ending),
        oracle: { ...base, outcome: shorter ? "either" : "failure", content: undefined }
      }
    }
    case "garbageAfterHead": {
      const bytes = Buffer.concat([interim, head, Buffer.from(mutation.garbage), bodyWire])
      const ending = framing === "close" && hasBody ? "end" : mutation.then
      // Whatever the garbage did to the body, more bytes arrived than the framing allows, or the framing broke.
      return {
        script: script(bytes, ending),
        oracle: { ...base, outcome: "either", content: undefined, violation: true }
      }
    }
    case "garbageHead":
      return {
        script: script(Buffer.concat([interim, Buffer.from(mutation.garbage)]), mutation.then),
        oracle: { ...base, outcome: "failure", content: undefined, violation: true }
      }
    case "hugeLength":
    case "hugeChunk": {
      const lead = mutation.kind === "hugeChunk" ? latin1(`${mutation.size}\r\n`) : Buffer.alloc(0)
      const bytes = hasBody ? Buffer.concat([interim, head, lead, encoded]) : Buffer.concat([interim, head])
      return {
        script: script(bytes, hasBody ? mutation.then : natural),
        oracle: hasBody
          ? { ...base, outcome: "failure", content: undefined, violation: true }
          : { ...base, outcome: "success", reusable }
      }
    }
    case "truncatedChunked": {
      const cut = interim.length + head.length + at(bodyWire.length, mutation.permille)
      return {
        script: script(complete.subarray(0, cut), hasBody ? mutation.then : natural),
        oracle: hasBody
          ? { ...base, outcome: "failure", content: undefined, violation: true }
          : { ...base, outcome: "success", reusable }
      }
    }
    case "conflictingLengths": {
      if (!hasBody) return { script: script(complete, natural), oracle: { ...base, outcome: "success", reusable } }
      // RFC 9112 §6.3: differing lengths are an unrecoverable error; Transfer-Encoding with Content-Length "ought to
      // be handled as an error" and the connection closed; repeated equal values may be read as one.
      const twoSame = mutation.variant === "twoSame"
      const withChunked = mutation.variant === "lengthAndChunked"
      return {
        script: script(complete, natural === "end" ? "end" : "keep"),
        oracle: {
          ...base,
          outcome: twoSame || withChunked ? "either" : "failure",
          content: twoSame || withChunked ? decoded : undefined,
          violation: !twoSame
        }
      }
    }
    case "badEncoding": {
      if (!hasBody) return { script: script(complete, natural), oracle: { ...base, outcome: "success", reusable } }
      // A gzip body without its end is read as far as it goes (as browsers and curl do), at least when buffered; a
      // coded body of one byte cannot be cut short.
      const lenient = mutation.variant === "truncated" && (encoding === "gzip" || encode(decoded, encoding).length < 2)
      return {
        script: script(complete, natural),
        oracle: { ...base, outcome: lenient ? "either" : "failure", content: undefined, tags: ["DecodingError"] }
      }
    }
    case "trailingBytes":
      return {
        script: mutation.gapMs === 0
          ? script(Buffer.concat([complete, Buffer.from(mutation.bytes)]), "keep")
          : {
            writes: [
              ...deliver(complete, plan.splits),
              { bytes: Buffer.from(mutation.bytes), delayMs: mutation.gapMs }
            ],
            ending: "keep"
          },
        oracle: { ...base, outcome: "either", violation: true }
      }
    case "trickleHead": {
      // One byte per gap until the head deadline is well past, then the rest: no gap reaches the read timeout.
      const lead = Buffer.concat([interim, head])
      const count = Math.min(lead.length - 1, Math.ceil(TRICKLE_MS / mutation.gapMs))
      const writes: Array<Write> = []
      for (let i = 0; i < count; i++) writes.push({ bytes: lead.subarray(i, i + 1), delayMs: mutation.gapMs })
      writes.push({ bytes: Buffer.concat([lead.subarray(count), bodyWire]), delayMs: mutation.gapMs })
      return {
        script: { writes, ending: natural },
        oracle: {
          ...base,
          outcome: "failure",
          content: undefined,
          tags: ["ReadTimeout"],
          headAfterMs: (count + 1) * mutation.gapMs
        }
      }
    }
    case "badHead":
      return {
        script: script(complete, natural),
        oracle: mutation.variant === "badStatus" || mutation.variant === "badVersion"
          ? { ...base, outcome: "failure", content: undefined, violation: true }
          : { ...base, outcome: "either" }
      }
    case "hugeHead":
      return {
        script: script(complete, natural),
        oracle: { ...base, outcome: "failure", content: undefined, tags: ["RemoteProtocolError"], violation: true }
      }
  }
}

/** Spoil one line of a head (status line first): each variant is one thing llhttp or RFC 9112 has a rule for. */
const spoilHead = (fields: Array<string>, variant: BadHead) => {
  switch (variant) {
    case "noColon":
      fields.splice(1, 0, "X-Broken no colon")
      return
    case "spaceBeforeColon":
      fields.splice(1, 0, "X-Broken : value")
      return
    case "nul":
      fields.splice(1, 0, "X-Broken: a\u0000b")
      return
    case "control":
      fields.splice(1, 0, "X-Broken: a\u0001b")
      return
    case "obsFold":
      fields.splice(1, 0, "X-Broken: a\r\n  folded")
      return
    case "bareLF":
      return
    case "badStatus":
      fields[0] = fields[0]!.replace(/ \d{3} /, " 2000 ")
      return
    case "noReason":
      fields[0] = fields[0]!.replace(/ (\d{3}) .*/, " $1")
      return
    case "badVersion":
      fields[0] = fields[0]!.replace(/^HTTP\/1\.\d/, "HTTP/4.2")
      return
  }
}

const conflictingFields = (
  variant: Extract<Mutation, { kind: "conflictingLengths" }>["variant"],
  length: number
): Array<string> => {
  switch (variant) {
    case "twoDifferent":
      return [`Content-Length: ${length}`, `Content-Length: ${length + 1}`]
    case "listDifferent":
      return [`Content-Length: ${length}, ${length + 1}`]
    case "twoSame":
      return [`Content-Length: ${length}`, `Content-Length: ${length}`]
    case "lengthAndChunked":
      return [`Content-Length: ${length + 3}`, "Transfer-Encoding: chunked"]
    case "negative":
      return ["Content-Length: -1"]
    case "notANumber":
      return [`Content-Length: ${length}x`]
  }
}

// ---- the server -----------------------------------------------------------------------------------------------------

export const PROBE_BODY = "probe ok"
const PROBE_RESPONSE = latin1(
  `HTTP/1.1 200 OK\r\nContent-Length: ${PROBE_BODY.length}\r\nConnection: keep-alive\r\n\r\n${PROBE_BODY}`
)

interface ArrivedRequest {
  readonly path: string
  /** which accepted socket it came on, counting from 1 */
  readonly socket: number
}

interface HostileServer extends TestServer {
  /** every request head seen, in order */
  readonly requests: () => ReadonlyArray<ArrivedRequest>
  /** no write of a script is still waiting for its delay */
  readonly idle: () => boolean
}

/**
 * A server that plays `script` for every request to `/case` and answers `/probe` with a small valid response on any
 * socket still willing to talk (a silent or reset one is not).
 */
export const hostileServer = (script: Script): Effect.Effect<HostileServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const requests: Array<ArrivedRequest> = []
    const timers = new Set<ReturnType<typeof setTimeout>>()
    let sockets = 0
    const play = (socket: net.Socket, writes: ReadonlyArray<Write>, ending: Ending, done: () => void) => {
      let index = 0
      const step = () => {
        if (socket.destroyed) return done()
        if (index === writes.length) {
          finish(socket, ending)
          return done()
        }
        const write = writes[index++]!
        const send = () => {
          if (!socket.destroyed && write.bytes.length > 0) socket.write(write.bytes)
          step()
        }
        if (write.delayMs === 0) return send()
        const timer = setTimeout(() => {
          timers.delete(timer)
          send()
        }, write.delayMs)
        timers.add(timer)
      }
      step()
    }
    const server = yield* rawServer((socket) => {
      const id = ++sockets
      let buffered = ""
      let mute = false
      let busy = false
      const queue: Array<string> = []
      const next = () => {
        if (busy || mute || socket.destroyed) return
        const path = queue.shift()
        if (path === undefined) return
        if (path !== "/case") {
          socket.write(PROBE_RESPONSE)
          return next()
        }
        busy = true
        play(socket, script.writes, script.ending, () => {
          busy = false
          if (script.ending === "silence") mute = true
          next()
        })
      }
      socket.on("data", (data) => {
        buffered += data.toString("latin1")
        let end: number
        while ((end = buffered.indexOf("\r\n\r\n")) >= 0) {
          const path = buffered.slice(0, buffered.indexOf("\r\n")).split(" ")[1] ?? ""
          buffered = buffered.slice(end + 4)
          requests.push({ path, socket: id })
          queue.push(path)
        }
        next()
      })
    })
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const timer of timers) clearTimeout(timer)
        timers.clear()
      })
    )
    return { ...server, requests: () => requests, idle: () => timers.size === 0 }
  })

const finish = (socket: net.Socket, ending: Ending) => {
  switch (ending) {
    case "keep":
    case "silence":
      return
    case "end":
      socket.end()
      return
    case "destroy":
      socket.destroy()
      return
    case "reset":
      socket.resetAndDestroy()
      return
  }
}
