/**
 * Differential tests: the HTTP/1.1 response parser against llhttp, Node's own parser, in strict mode (no lenient
 * flags). Both get the same bytes, split the same way; they must accept and reject the same responses and, where both
 * accept, see the same status, fields, body, trailers and keep-alive. The differences we keep on purpose are named
 * after the RFC section that backs them (`DELIBERATE`), and each allows only its own kind of disagreement on inputs
 * of its own shape. Older llhttp releases (Node 20 ships 9.3) differ from newer ones in a few ways fixed upstream;
 * those are listed in `LLHTTP_QUIRKS` with the release that changed them, and apply only before that release.
 */
import fc from "fast-check"
import { createRequire } from "node:module"
import { describe, expect, it } from "vitest"
import { BodyKind, ResponseParser } from "../../../src/internal/wire/responseParser.js"
import type { ResponseHandler } from "../../../src/internal/wire/responseParser.js"

// --- the two parsers ----------------------------------------------------------------------------------------------

interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenientFlags: number): void
  execute(data: Buffer): number | Error
  finish(): undefined | Error
  close(): void
  [callback: number]: unknown
}

interface LlhttpModule {
  HTTPParser: {
    new (): LlhttpParser
    readonly RESPONSE: number
    readonly kLenientNone: number
    readonly kOnMessageBegin: number
    readonly kOnHeaders: number
    readonly kOnHeadersComplete: number
    readonly kOnBody: number
    readonly kOnMessageComplete: number
  }
}

const { HTTPParser } = createRequire(import.meta.url)("node:_http_common") as LlhttpModule

const LLHTTP_VERSION = process.versions["llhttp"] ?? "0.0.0"
/** Whether the llhttp in this Node is at least `version` (major.minor.patch). */
function llhttpAtLeast(version: string): boolean {
  const have = LLHTTP_VERSION.split(".").map(Number)
  const want = version.split(".").map(Number)
  for (let i = 0; i < 3; i++) if ((have[i] ?? 0) !== (want[i] ?? 0)) return (have[i] ?? 0) > (want[i] ?? 0)
  return true
}

/** What one parser made of one response: the final (non-1xx) message, or why there is none. */
interface Outcome {
  readonly accepted: boolean
  readonly status: number
  readonly versionMinor: number
  readonly reason: string
  readonly headers: ReadonlyArray<string>
  readonly body: string
  readonly trailers: ReadonlyArray<string>
  readonly keepAlive: boolean
  readonly error: string | undefined
}

/** An llhttp message, interim ones included, as Node reports it. */
interface LlhttpMessage {
  readonly status: number
  readonly version: string
  readonly reason: string
  readonly headers: ReadonlyArray<string>
  readonly keepAlive: boolean
}

interface LlhttpRun extends Outcome {
  readonly messages: ReadonlyArray<LlhttpMessage>
}

function runLlhttp(chunks: ReadonlyArray<Buffer>, noBody: boolean): LlhttpRun {
  const parser = new HTTPParser()
  parser.initialize(HTTPParser.RESPONSE, {}, 1 << 24, HTTPParser.kLenientNone)
  const messages: Array<LlhttpMessage> = []
  let fields: Array<string> = []
  let trailers: Array<string> = []
  let inTrailers = false
  let body: Array<Buffer> = []
  let final: LlhttpMessage | undefined
  let done = false
  parser[HTTPParser.kOnMessageBegin] = () => {
    // Bytes after the final response start another message: not ours to compare.
    if (done) return
    fields = []
    trailers = []
    body = []
    inTrailers = false
  }
  // Node hands fields over here when a head has many of them, and the trailer section always.
  parser[HTTPParser.kOnHeaders] = (list: Array<string>) => {
    if (inTrailers) trailers.push(...list)
    else fields.push(...list)
  }
  parser[HTTPParser.kOnHeadersComplete] = (
    major: number,
    minor: number,
    list: Array<string> | undefined,
    _method: unknown,
    _url: unknown,
    status: number,
    reason: string,
    _upgrade: boolean,
    keepAlive: boolean
  ) => {
    if (list !== undefined) fields.push(...list)
    inTrailers = true
    const message = { status, version: `${major}.${minor}`, reason, headers: fields, keepAlive }
    messages.push(message)
    if (!(status >= 100 && status < 200) && final === undefined) final = message
    // As Node's own client does for a response to HEAD: skip the body.
    return noBody ? 1 : 0
  }
  parser[HTTPParser.kOnBody] = (piece: Buffer) => {
    if (final !== undefined && !done) body.push(Buffer.from(piece))
  }
  parser[HTTPParser.kOnMessageComplete] = () => {
    if (final !== undefined) done = true
  }
  let error: string | undefined
  for (const chunk of chunks) {
    if (done) break
    const result = parser.execute(chunk)
    if (result instanceof Error) {
      error = describeLlhttpError(result)
      break
    }
  }
  if (!done && error === undefined) {
    const result = parser.finish()
    if (result instanceof Error) error = describeLlhttpError(result)
  }
  parser.close()
  const accepted = done && final !== undefined
  return {
    accepted,
    status: final?.status ?? 0,
    versionMinor: final === undefined ? -1 : Number(final.version.split(".")[1]),
    reason: final?.reason ?? "",
    headers: final?.headers ?? [],
    body: accepted ? Buffer.concat(body).toString("latin1") : "",
    trailers: accepted ? trailers : [],
    keepAlive: final?.keepAlive ?? false,
    error: accepted ? undefined : error ?? "no final response",
    messages
  }
}

function describeLlhttpError(error: Error): string {
  const { code, reason } = error as Error & { code?: string; reason?: string }
  return `${code ?? "?"}: ${reason ?? error.message}`
}

interface HttpfxRun extends Outcome {
  readonly bodyKind: BodyKind
  readonly transferCodings: ReadonlyArray<string>
}

function runHttpfx(chunks: ReadonlyArray<Buffer>, noBody: boolean, maxHeadSize?: number): HttpfxRun {
  let head: { status: number; reason: string; versionMinor: number; headers: Array<string> } | undefined
  const pieces: Array<Buffer> = []
  let trailers: Array<string> | undefined
  const handler: ResponseHandler = {
    onHead: (status, reason, versionMinor, headers) => {
      head = { status, reason, versionMinor, headers }
    },
    onBody: (piece) => {
      pieces.push(Buffer.from(piece))
    },
    onComplete: (list) => {
      trailers = list
    }
  }
  const parser = new ResponseParser(handler)
  parser.reset(noBody, maxHeadSize)
  let error: string | undefined
  for (const chunk of chunks) {
    const n = parser.execute(chunk)
    if (n === -1) {
      error = parser.error
      break
    }
    if (n < chunk.length) break
  }
  if (error === undefined && trailers === undefined) error = parser.finish()
  const accepted = error === undefined && trailers !== undefined
  return {
    accepted,
    status: head?.status ?? 0,
    versionMinor: head?.versionMinor ?? -1,
    reason: head?.reason ?? "",
    headers: head?.headers ?? [],
    body: accepted ? Buffer.concat(pieces).toString("latin1") : "",
    trailers: trailers ?? [],
    keepAlive: parser.keepAlive,
    error,
    bodyKind: parser.bodyKind,
    transferCodings: parser.transferCodings
  }
}

// --- where the two may disagree -------------------------------------------------------------------------------------

/** How the two outcomes differ: who rejected, or which part of an accepted message. */
type Deviation = "httpfx rejects" | "llhttp rejects" | "keep-alive" | "framing"

function deviationOf(ours: Outcome, theirs: Outcome): Deviation | "none" | "other" {
  if (ours.accepted !== theirs.accepted) return ours.accepted ? "llhttp rejects" : "httpfx rejects"
  if (!ours.accepted) return "none"
  const same = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) =>
    a.length === b.length && a.every((x, i) => x === b[i])
  if (ours.status !== theirs.status || ours.versionMinor !== theirs.versionMinor || ours.reason !== theirs.reason) {
    return "other"
  }
  if (!same(ours.headers, theirs.headers)) return "other"
  if (ours.body !== theirs.body || !same(ours.trailers, theirs.trailers)) return "framing"
  return ours.keepAlive === theirs.keepAlive ? "none" : "keep-alive"
}

/** A response as both parsers saw it, for the rules below to look at. */
interface Context {
  readonly text: string
  readonly noBody: boolean
  readonly llhttp: LlhttpRun
  readonly httpfx: HttpfxRun
  readonly heads: ReadonlyArray<RawHead>
}

/** A head found in the raw bytes: where it starts, whether empty lines came first, its text up to CRLFCRLF. */
interface RawHead {
  readonly leadingEmptyLines: boolean
  readonly text: string
  readonly status: number
  readonly bodyStart: number
}

/** Finds the heads of a response, interim ones first, without judging them: enough for the rules to see shapes. */
function rawHeads(text: string): Array<RawHead> {
  const heads: Array<RawHead> = []
  let pos = 0
  for (;;) {
    const from = pos
    while (text[pos] === "\r" || text[pos] === "\n") pos++
    const end = text.indexOf("\r\n\r\n", pos)
    const headText = end === -1 ? text.slice(pos) : text.slice(pos, end + 2)
    const status = Number(headText.slice(headText.indexOf(" ") + 1, headText.indexOf(" ") + 4))
    heads.push({ leadingEmptyLines: pos > from, text: headText, status, bodyStart: end === -1 ? text.length : end + 4 })
    if (end === -1 || !(status >= 100 && status < 200) || status === 101 || heads.length > 8) return heads
    pos = end + 4
  }
}

const fieldLines = (head: RawHead, name: string): Array<string> =>
  head.text.split("\r\n").slice(1).filter((line) => line.toLowerCase().startsWith(name + ":")).map((line) =>
    line.slice(name.length + 1)
  )

const finalHead = (c: Context): RawHead => c.heads[c.heads.length - 1]!

/** Values of a field in llhttp's view of the final message (Node trims trailing OWS). */
const llhttpField = (c: Context, name: string): Array<string> => {
  const out: Array<string> = []
  const h = c.llhttp.headers
  for (let i = 0; i < h.length; i += 2) if (h[i]!.toLowerCase() === name) out.push(h[i + 1]!)
  return out
}

/** Chunk extensions of a chunked body that llhttp accepted (so its framing is strict CRLF). */
function chunkExtensions(c: Context): Array<string> {
  const text = c.text
  const out: Array<string> = []
  let pos = finalHead(c).bodyStart
  for (let n = 0; n < 1000; n++) {
    const eol = text.indexOf("\r\n", pos)
    if (eol === -1) return out
    const line = text.slice(pos, eol)
    const hex = /^[0-9a-fA-F]+/.exec(line)?.[0] ?? ""
    out.push(line.slice(hex.length))
    const size = parseInt(hex, 16)
    if (!(size > 0)) return out
    pos = eol + 2 + size + 2
  }
  return out
}

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+"
const QUOTED = "\"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*\""
/** RFC 9112 §7.1.1 chunk-ext without BWS. */
const CHUNK_EXT = new RegExp(`^(?:;${TOKEN}(?:=(?:${TOKEN}|${QUOTED}))?)*$`)

interface Rule {
  readonly deviations: ReadonlyArray<Deviation>
  readonly applies: (c: Context) => boolean
}

const RFC9112_2_3 = "RFC 9112 §2.3: only HTTP/1.0 and HTTP/1.1 status lines"
const RFC9112_2_2 = "RFC 9112 §2.2: no empty lines before a status line"
const RFC9110_15 = "RFC 9110 §15: a status code is 100 to 999"
const RFC9112_4 = "RFC 9112 §4: no NUL in the reason phrase"
const RFC9112_6_3_1_INTERIM = "RFC 9112 §6.3 (1): an interim response has no body and its framing fields mean nothing"
const RFC9112_6_1_HTTP10 = "RFC 9112 §6.1: an HTTP/1.0 response with Transfer-Encoding has faulty framing"
const RFC9112_6_1_CHUNKED_LAST = "RFC 9112 §6.1: chunked is applied once, and last"
const RFC9110_5_6_1 = "RFC 9110 §5.6.1 and §5.5: empty list elements and OWS around chunked are ignored"
const RFC9112_7_1_1 = "RFC 9112 §7.1.1: chunk extensions are tokens and quoted-strings"
const RFC9110_8_6 = "RFC 9110 §8.6: a Content-Length we cannot represent exactly is an error"
const RFC9112_9_3 = "RFC 9112 §9.3: close wins over keep-alive"
const RFC9112_6_3_1_HEAD = "RFC 9112 §6.3 (1): a response to HEAD ends with its head"
const RFC9110_7_6_1 = "RFC 9110 §7.6.1: only Connection carries connection options"

/**
 * Where we part from llhttp on purpose. Each rule allows one kind of disagreement, on inputs of its shape only.
 */
const DELIBERATE: Record<string, Rule> = {
  // llhttp also reads HTTP/0.9, HTTP/2.0, RTSP/ and ICE/ status lines.
  [RFC9112_2_3]: {
    deviations: ["httpfx rejects"],
    applies: (c) =>
      c.llhttp.messages.some((m) => m.version !== "1.0" && m.version !== "1.1") ||
      c.heads.some((h) => !h.text.startsWith("HTTP/"))
  },
  // llhttp skips CR and LF bytes before a status line; RFC 9112 §2.2 lets only a server skip empty lines.
  [RFC9112_2_2]: {
    deviations: ["httpfx rejects"],
    applies: (c) => c.heads.some((h) => h.leadingEmptyLines)
  },
  // llhttp takes any three digits.
  [RFC9110_15]: {
    deviations: ["httpfx rejects"],
    applies: (c) => c.llhttp.messages.some((m) => m.status < 100)
  },
  // llhttp takes any byte but CR and LF in the reason phrase.
  [RFC9112_4]: {
    deviations: ["httpfx rejects"],
    applies: (c) => c.llhttp.messages.some((m) => m.reason.includes("\x00"))
  },
  // llhttp reads a body for 1xx other than 100, 102 and 103, applies Content-Length and Transfer-Encoding checks to
  // them, and closes the connection after one that is HTTP/1.0 or says Connection: close.
  [RFC9112_6_3_1_INTERIM]: {
    deviations: ["llhttp rejects", "httpfx rejects"],
    applies: (c) =>
      c.heads.slice(0, -1).some((h) =>
        !h.text.startsWith("HTTP/1.1 ") ||
        ["content-length", "transfer-encoding", "connection", "proxy-connection"].some((n) =>
          fieldLines(h, n).length > 0
        )
      )
  },
  [RFC9112_6_1_HTTP10]: {
    deviations: ["httpfx rejects"],
    applies: (c) =>
      c.llhttp.versionMinor === 0 && llhttpField(c, "transfer-encoding").length > 0 && !c.noBody &&
      c.llhttp.status !== 204 && c.llhttp.status !== 304
  },
  [RFC9112_6_1_CHUNKED_LAST]: {
    deviations: ["httpfx rejects"],
    applies: (c) => {
      const codings = llhttpField(c, "transfer-encoding").join(",").split(",").map((s) => s.trim().toLowerCase())
        .filter((s) => s !== "")
      return codings.slice(0, -1).includes("chunked")
    }
  },
  // llhttp reads "chunked," and "chunked<HTAB>" as codings that do not end in chunked, and so reads until close.
  [RFC9110_5_6_1]: {
    deviations: ["framing", "keep-alive", "httpfx rejects", "llhttp rejects"],
    applies: (c) => {
      const values = fieldLines(finalHead(c), "transfer-encoding")
      return c.httpfx.bodyKind === BodyKind.Chunked && values.length > 0 &&
        !/chunked *\r?$/i.test(values[values.length - 1]!)
    }
  },
  // llhttp takes an empty name (";;x", ";=x"), an empty value (";a=") and a token run into a quoted-string.
  [RFC9112_7_1_1]: {
    deviations: ["httpfx rejects"],
    applies: (c) => c.llhttp.accepted && chunkExtensions(c).some((ext) => !CHUNK_EXT.test(ext))
  },
  // llhttp takes lengths up to 2^64-1, where no body follows.
  [RFC9110_8_6]: {
    deviations: ["httpfx rejects"],
    applies: (c) => llhttpField(c, "content-length").some((v) => Number(v) > Number.MAX_SAFE_INTEGER)
  },
  // llhttp keeps an HTTP/1.0 connection when keep-alive is among the options, even beside close.
  [RFC9112_9_3]: {
    deviations: ["keep-alive"],
    applies: (c) => {
      const options = [...llhttpField(c, "connection"), ...llhttpField(c, "proxy-connection")].join(",").toLowerCase()
      return /\bclose\b/.test(options) && /\bkeep-alive\b/.test(options)
    }
  },
  // Node computes the keep-alive it reports before its client says the response is to HEAD, so a head without
  // Content-Length looks like one delimited by the close.
  [RFC9112_6_3_1_HEAD]: {
    deviations: ["keep-alive"],
    applies: (c) =>
      c.noBody && !c.llhttp.keepAlive && c.httpfx.keepAlive && llhttpField(c, "content-length").length === 0
  },
  // llhttp treats Proxy-Connection like Connection.
  [RFC9110_7_6_1]: {
    deviations: ["keep-alive"],
    applies: (c) => llhttpField(c, "proxy-connection").length > 0
  }
}

const QUIRK_CR_CR = "a status line ended by CR CR"
const QUIRK_CL_HTAB = "HTAB after a Content-Length value"
const QUIRK_CONNECTION_HTAB = "HTAB after a Connection option"
const QUIRK_EMPTY_TE = "an empty Transfer-Encoding"

/** Behaviour of older llhttp releases, each changed upstream in the release named. */
const LLHTTP_QUIRKS: Record<string, Rule & { readonly fixedIn: string }> = {
  // llhttp 9.4.2 (nodejs/llhttp#865): before it, CR CR ended a status line.
  [QUIRK_CR_CR]: {
    fixedIn: "9.4.2",
    deviations: ["httpfx rejects"],
    applies: (c) => c.heads.some((h) => /^[^\r\n]*\r\r/.test(h.text))
  },
  // llhttp 9.4.0 (nodejs/llhttp#810): before it, HTAB after the digits of Content-Length was an error.
  [QUIRK_CL_HTAB]: {
    fixedIn: "9.4.0",
    deviations: ["llhttp rejects"],
    applies: (c) => /\ncontent-length:[ \t]*[0-9]+ *\t/i.test(c.text)
  },
  // llhttp 9.4.2 (nodejs/llhttp#866): before it, HTAB after a Connection option hid the option.
  [QUIRK_CONNECTION_HTAB]: {
    fixedIn: "9.4.2",
    deviations: ["keep-alive"],
    applies: (c) => /\n(proxy-)?connection:[^\r\n]*\t/i.test(c.text)
  },
  // llhttp 9.4.3: before it, an empty Transfer-Encoding was ignored.
  [QUIRK_EMPTY_TE]: {
    fixedIn: "9.4.3",
    deviations: ["httpfx rejects"],
    applies: (c) => /\ntransfer-encoding:[ \t]*\r\n/i.test(c.text)
  }
}

const ACTIVE_QUIRKS = Object.entries(LLHTTP_QUIRKS).filter(([, q]) => !llhttpAtLeast(q.fixedIn))

/** The rules (deliberate differences and quirks of this llhttp) that allow this disagreement on this input. */
function excusedBy(c: Context, deviation: Deviation): Array<string> {
  return [...Object.entries(DELIBERATE), ...ACTIVE_QUIRKS]
    .filter(([, rule]) => rule.deviations.includes(deviation) && rule.applies(c))
    .map(([name]) => name)
}

function escape(data: Buffer): string {
  return JSON.stringify(data.toString("latin1")).replace(/[\x7f-\xff]/g, (ch) =>
    "\\x" + ch.charCodeAt(0).toString(16)
  )
}

interface Compared {
  readonly context: Context
  readonly deviation: Deviation | "none" | "other"
  readonly excuses: Array<string>
}

function compare(data: Buffer, chunks: ReadonlyArray<Buffer>, noBody: boolean): Compared {
  const context: Context = {
    text: data.toString("latin1"),
    noBody,
    llhttp: runLlhttp(chunks, noBody),
    httpfx: runHttpfx(chunks, noBody),
    heads: rawHeads(data.toString("latin1"))
  }
  const deviation = deviationOf(context.httpfx, context.llhttp)
  const excuses = deviation === "none" || deviation === "other" ? [] : excusedBy(context, deviation)
  return { context, deviation, excuses }
}

function report(data: Buffer, compared: Compared, noBody: boolean): string {
  const { httpfx, llhttp } = compared.context
  const brief = (o: Outcome) =>
    o.accepted
      ? `accepted ${o.status} ${JSON.stringify(o.headers)} body ${JSON.stringify(o.body)} ` +
        `trailers ${JSON.stringify(o.trailers)} keep-alive ${o.keepAlive}`
      : `rejected: ${o.error}`
  return `llhttp ${LLHTTP_VERSION} and httpfx disagree (${compared.deviation}) on ${escape(data)}` +
    `${noBody ? " (HEAD)" : ""}\n  llhttp: ${brief(llhttp)}\n  httpfx: ${brief(httpfx)}`
}

// --- hand-written cases -------------------------------------------------------------------------------------------

const CL0 = "Content-Length: 0\r\n"
const CHUNKED = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

/** [name, response, what to expect]: "same", or the name of the rule that makes them differ. */
const TABLE: Array<readonly [string, string, string?, { noBody?: boolean }?]> = [
  // status line
  ["a plain Content-Length response", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"],
  ["HTTP/1.0 with Content-Length", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"],
  ["a status line without reason phrase", `HTTP/1.1 404\r\n${CL0}\r\n`],
  ["an empty reason phrase after SP", `HTTP/1.1 200 \r\n${CL0}\r\n`],
  ["HTAB and obs-text in the reason phrase", `HTTP/1.1 200 O\tK caf\xe9\r\n${CL0}\r\n`],
  ["control characters in the reason phrase", `HTTP/1.1 200 O\x01\x7fK\r\n${CL0}\r\n`],
  ["status 999", `HTTP/1.1 999 Odd\r\n${CL0}\r\n`],
  ["a two-digit status", `HTTP/1.1 20 OK\r\n${CL0}\r\n`],
  ["a four-digit status", `HTTP/1.1 2000 OK\r\n${CL0}\r\n`],
  ["HTAB after the status code", `HTTP/1.1 200\tOK\r\n${CL0}\r\n`],
  ["two spaces before the status code", `HTTP/1.1  200 OK\r\n${CL0}\r\n`],
  ["HTTP/1.2", `HTTP/1.2 200 OK\r\n${CL0}\r\n`],
  ["a lowercase protocol name", `http/1.1 200 OK\r\n${CL0}\r\n`],
  ["status 000", `HTTP/1.1 000 OK\r\n${CL0}\r\n`, RFC9110_15],
  ["status 099", `HTTP/1.1 099 OK\r\n${CL0}\r\n`, RFC9110_15],
  ["HTTP/2.0", `HTTP/2.0 200 OK\r\n${CL0}\r\n`, RFC9112_2_3],
  ["HTTP/0.9", `HTTP/0.9 200 OK\r\n${CL0}\r\n`, RFC9112_2_3],
  ["ICE/1.0", `ICE/1.0 200 OK\r\n${CL0}\r\n`, RFC9112_2_3],
  ["RTSP/1.0", `RTSP/1.0 200 OK\r\n${CL0}\r\n`, RFC9112_2_3],
  ["a NUL in the reason phrase", `HTTP/1.1 200 O\x00K\r\n${CL0}\r\n`, RFC9112_4],
  ["CRLF before the status line", `\r\nHTTP/1.1 200 OK\r\n${CL0}\r\n`, RFC9112_2_2],
  ["bare LF before the status line", `\nHTTP/1.1 200 OK\r\n${CL0}\r\n`, RFC9112_2_2],
  // line endings
  ["a status line ended by a bare LF", `HTTP/1.1 200 OK\n${CL0}\r\n`],
  ["a field line ended by a bare LF", "HTTP/1.1 200 OK\r\nX: y\nContent-Length: 0\r\n\r\n"],
  ["a Content-Length line ended by a bare LF", "HTTP/1.1 200 OK\r\nContent-Length: 5\nX: y\r\n\r\nhello"],
  ["a head ended by a bare LF", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n"],
  ["LF-only line ends throughout", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok"],
  ["a bare CR after the status line", `HTTP/1.1 200 OK\rContent-Length: 0\r\n\r\n`],
  ["CR CR after the status line", "HTTP/1.1 200 OK\r\rContent-Length: 4\r\n\r\nEvil", QUIRK_CR_CR],
  ["a bare CR inside a field value", `HTTP/1.1 200 OK\r\nX: a\rb\r\n${CL0}\r\n`],
  ["CR CR LF after a field value", `HTTP/1.1 200 OK\r\nX: a\r\r\n${CL0}\r\n`],
  ["a head ended by CR CR LF", `HTTP/1.1 200 OK\r\n${CL0}\r\r\n`],
  // field lines
  ["fields with OWS, obs-text and HTAB inside", `HTTP/1.1 200 OK\r\nA:\t x\ty \t\r\nB: caf\xe9\r\nC:\r\n${CL0}\r\n`],
  ["a form feed in a field value", `HTTP/1.1 200 OK\r\nX: a\x0cb\r\n${CL0}\r\n`],
  ["DEL in a field value", `HTTP/1.1 200 OK\r\nX: a\x7fb\r\n${CL0}\r\n`],
  ["a NUL in a field value", `HTTP/1.1 200 OK\r\nX: a\x00b\r\n${CL0}\r\n`],
  ["a control character opening a field value", `HTTP/1.1 200 OK\r\nX: \x01b\r\n${CL0}\r\n`],
  ["a control character in Transfer-Encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gz\x01ip\r\n\r\nabc"],
  ["a control character in a field name", `HTTP/1.1 200 OK\r\nX\x01: a\r\n${CL0}\r\n`],
  ["whitespace before the colon", `HTTP/1.1 200 OK\r\nX : a\r\n${CL0}\r\n`],
  ["an empty field name", `HTTP/1.1 200 OK\r\n: a\r\n${CL0}\r\n`],
  ["a field line without colon", `HTTP/1.1 200 OK\r\nNoColon\r\n${CL0}\r\n`],
  ["obs-fold", `HTTP/1.1 200 OK\r\nX: a\r\n b\r\n${CL0}\r\n`],
  ["SP opening the first field line", `HTTP/1.1 200 OK\r\n X: a\r\n${CL0}\r\n`],
  ["HTAB opening the first field line", `HTTP/1.1 200 OK\r\n\tX: a\r\n${CL0}\r\n`],
  ["40 fields (Node hands them over in batches)", `HTTP/1.1 200 OK\r\n${"X-F: v\r\n".repeat(40)}${CL0}\r\n`],
  // Content-Length
  ["OWS around Content-Length", "HTTP/1.1 200 OK\r\nContent-Length:   2  \r\n\r\nab"],
  ["HTAB around Content-Length", "HTTP/1.1 200 OK\r\nContent-Length:\t2\t\r\n\r\nab", QUIRK_CL_HTAB],
  ["leading zeros in Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 002\r\n\r\nab"],
  ["an empty Content-Length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\nab"],
  ["Content-Length 1,1", "HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\na"],
  ["Content-Length 2 2", "HTTP/1.1 200 OK\r\nContent-Length: 2 2\r\n\r\nab"],
  ["Content-Length +2", "HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nab"],
  ["two equal Content-Length fields", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"],
  ["two different Content-Length fields", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 3\r\n\r\nabc"],
  ["a Content-Length longer than the data", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"],
  ["a Content-Length shorter than the data", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nabc"],
  ["Content-Length above 2^64", "HTTP/1.1 204 OK\r\nContent-Length: 18446744073709551616\r\n\r\n"],
  [
    "Content-Length above 2^53 on a 204",
    "HTTP/1.1 204 OK\r\nContent-Length: 9007199254740993\r\n\r\n",
    RFC9110_8_6
  ],
  ["204 ignores Content-Length", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"],
  ["304 ignores Transfer-Encoding", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"],
  ["HEAD ignores Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "same", { noBody: true }],
  [
    "HEAD without Content-Length",
    "HTTP/1.1 200 OK\r\n\r\n",
    RFC9112_6_3_1_HEAD,
    { noBody: true }
  ],
  // Transfer-Encoding
  ["a chunked body with trailers", CHUNKED + "5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\nY:  2 \r\n\r\n"],
  ["an empty chunked body", CHUNKED + "0\r\n\r\n"],
  ["chunked in capitals", "HTTP/1.1 200 OK\r\nTransfer-Encoding: CHUNKED\r\n\r\n2\r\nab\r\n0\r\n\r\n"],
  ["gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"],
  [
    "gzip then chunked in two fields",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"
  ],
  ["Transfer-Encoding: gzip reads until close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc"],
  ["Transfer-Encoding: identity reads until close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\nabc"],
  [
    "a chunked parameter reads until close",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n2\r\nab\r\n0\r\n\r\n"
  ],
  ["a Transfer-Encoding of one comma reads until close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\nabc"],
  [QUIRK_EMPTY_TE, "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\nContent-Length: 1\r\n\r\na", QUIRK_EMPTY_TE],
  [
    "Transfer-Encoding with Content-Length",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\nab\r\n0\r\n\r\n"
  ],
  [
    "Content-Length with Transfer-Encoding",
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: gzip\r\n\r\nab"
  ],
  [
    "Transfer-Encoding with Content-Length on a 204",
    "HTTP/1.1 204 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n"
  ],
  [
    "Transfer-Encoding with Content-Length on HEAD",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
    "same",
    { noBody: true }
  ],
  ["HTTP/1.0 with Transfer-Encoding on a 204", "HTTP/1.0 204 OK\r\nTransfer-Encoding: chunked\r\n\r\n"],
  [
    "HTTP/1.0 with Transfer-Encoding",
    "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
    RFC9112_6_1_HTTP10
  ],
  ["chunked, gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nab", RFC9112_6_1_CHUNKED_LAST],
  [
    "chunked twice",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
    RFC9112_6_1_CHUNKED_LAST
  ],
  [
    "chunked then an empty list element",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n2\r\nab\r\n0\r\n\r\n",
    RFC9110_5_6_1
  ],
  [
    "chunked then HTAB",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\t\r\n\r\n2\r\nab\r\n0\r\n\r\n",
    RFC9110_5_6_1
  ],
  // chunked framing
  ["chunk sizes in both cases with leading zeros", CHUNKED + "0000a\r\n0123456789\r\nA\r\nabcdefghij\r\n00\r\n\r\n"],
  ["chunk extensions of every form", CHUNKED + "2;a;b=c;d=\"x \\\" y\"\r\nab\r\n0;last=\"\"\r\n\r\n"],
  ["obs-text in a quoted chunk extension", CHUNKED + "2;a=\"\xff\t\"\r\nab\r\n0\r\n\r\n"],
  ["a control character in a quoted chunk extension", CHUNKED + "2;a=\"\x01\"\r\nab\r\n0\r\n\r\n"],
  ["a control character after a backslash in a chunk extension", CHUNKED + "2;a=\"\\\x01\"\r\nab\r\n0\r\n\r\n"],
  ["an empty chunk extension", CHUNKED + "2;\r\nab\r\n0\r\n\r\n"],
  ["an empty chunk extension after another", CHUNKED + "2;a;\r\nab\r\n0\r\n\r\n"],
  ["SP after a chunk size", CHUNKED + "2 \r\nab\r\n0\r\n\r\n"],
  ["HTAB between a chunk size and its extension", CHUNKED + "2\t;a\r\nab\r\n0\r\n\r\n"],
  ["SP after the semicolon of a chunk extension", CHUNKED + "2; a\r\nab\r\n0\r\n\r\n"],
  ["SP around the equals sign of a chunk extension", CHUNKED + "2;a =b\r\nab\r\n0\r\n\r\n"],
  ["SP after a chunk extension", CHUNKED + "2;a=b \r\nab\r\n0\r\n\r\n"],
  ["two equals signs in a chunk extension", CHUNKED + "2;a==b\r\nab\r\n0\r\n\r\n"],
  ["text after a quoted chunk extension", CHUNKED + "2;a=\"x\"y\r\nab\r\n0\r\n\r\n"],
  ["an empty chunk extension name", CHUNKED + "2;;a\r\nab\r\n0\r\n\r\n", RFC9112_7_1_1],
  ["a chunk extension without a name", CHUNKED + "2;=a\r\nab\r\n0\r\n\r\n", RFC9112_7_1_1],
  ["an empty chunk extension value", CHUNKED + "2;a=\r\nab\r\n0\r\n\r\n", RFC9112_7_1_1],
  ["a token run into a quoted string", CHUNKED + "2;a=b\"c\"\r\nab\r\n0\r\n\r\n", RFC9112_7_1_1],
  ["a chunk size line ended by a bare LF", CHUNKED + "2\nab\r\n0\r\n\r\n"],
  ["a chunk size line ended by CR CR LF", CHUNKED + "2\r\r\nab\r\n0\r\n\r\n"],
  ["chunk data followed by a bare LF", CHUNKED + "2\r\nab\n0\r\n\r\n"],
  ["chunk data followed by CR and a byte", CHUNKED + "2\r\nab\rx0\r\n\r\n"],
  ["chunk data longer than its size", CHUNKED + "2\r\nabc\r\n0\r\n\r\n"],
  ["a non-hex chunk size", CHUNKED + "zz\r\nab\r\n0\r\n\r\n"],
  ["a chunk size above 2^64", CHUNKED + "10000000000000000\r\nab\r\n"],
  ["a trailer section ended by a bare LF", CHUNKED + "2\r\nab\r\n0\r\n\n"],
  ["a trailer line ended by a bare LF", CHUNKED + "2\r\nab\r\n0\r\nX: y\n\r\n"],
  ["obs-fold in the trailer section", CHUNKED + "2\r\nab\r\n0\r\nX: y\r\n z\r\n\r\n"],
  ["Content-Length in the trailer section", CHUNKED + "2\r\nab\r\n0\r\nContent-Length: 2\r\n\r\n"],
  ["Transfer-Encoding in the trailer section", CHUNKED + "2\r\nab\r\n0\r\nTransfer-Encoding: gzip\r\n\r\n"],
  [
    "an empty Transfer-Encoding in the trailer section",
    CHUNKED + "2\r\nab\r\n0\r\nTransfer-Encoding:\r\n\r\n",
    QUIRK_EMPTY_TE
  ],
  ["a chunked body cut short", CHUNKED + "5\r\nab"],
  // connection
  ["Connection: close", `HTTP/1.1 200 OK\r\nConnection: close\r\n${CL0}\r\n`],
  ["Connection: CLOSE among other options", `HTTP/1.1 200 OK\r\nConnection: x, CLOSE\r\n${CL0}\r\n`],
  [
    "close in a second Connection field",
    `HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n${CL0}\r\n`
  ],
  ["Connection options separated by SP only", `HTTP/1.1 200 OK\r\nConnection: x close\r\n${CL0}\r\n`],
  ["Connection: closed", `HTTP/1.1 200 OK\r\nConnection: closed\r\n${CL0}\r\n`],
  ["Connection: close then HTAB", `HTTP/1.1 200 OK\r\nConnection: close\t\r\n${CL0}\r\n`, QUIRK_CONNECTION_HTAB],
  ["HTTP/1.0 with keep-alive", `HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n${CL0}\r\n`],
  ["HTTP/1.0 until close with keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nabc"],
  ["HTTP/1.1 until close", "HTTP/1.1 200 OK\r\n\r\nabc"],
  [
    "HTTP/1.0 with keep-alive and close",
    `HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\n${CL0}\r\n`,
    RFC9112_9_3
  ],
  [
    "Proxy-Connection: close",
    `HTTP/1.1 200 OK\r\nProxy-Connection: close\r\n${CL0}\r\n`,
    RFC9110_7_6_1
  ],
  // interim responses
  ["100 Continue before the response", `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n${CL0}\r\n`],
  ["103 Early Hints with fields", `HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\n${CL0}\r\n`],
  ["several interim responses", `HTTP/1.1 102 P\r\n\r\nHTTP/1.1 199 X\r\n\r\nHTTP/1.1 201 Created\r\n${CL0}\r\n`],
  ["101 Switching Protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: ws\r\nConnection: upgrade\r\n\r\n"],
  [
    "an HTTP/1.0 interim response",
    `HTTP/1.0 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n${CL0}\r\n`,
    RFC9112_6_3_1_INTERIM
  ],
  [
    "an interim response with Connection: close",
    `HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\n${CL0}\r\n`,
    RFC9112_6_3_1_INTERIM
  ],
  [
    "an interim response with Content-Length",
    `HTTP/1.1 150 X\r\nContent-Length: 2\r\n\r\nabHTTP/1.1 200 OK\r\n${CL0}\r\n`,
    RFC9112_6_3_1_INTERIM
  ]
]

describe(`llhttp ${LLHTTP_VERSION} and httpfx on hand-written responses`, () => {
  for (const [name, response, expected = "same", options = {}] of TABLE) {
    const rule = DELIBERATE[expected] ?? LLHTTP_QUIRKS[expected]
    const quirkInactive = expected in LLHTTP_QUIRKS && llhttpAtLeast(LLHTTP_QUIRKS[expected]!.fixedIn)
    const title = expected === "same" || quirkInactive ? `agree: ${name}` : `differ (${expected}): ${name}`
    it(title, () => {
      expect(expected === "same" || rule !== undefined).toBe(true)
      const data = Buffer.from(response, "latin1")
      const noBody = options.noBody ?? false
      const compared = compare(data, [data], noBody)
      if (expected === "same" || quirkInactive) {
        expect(compared.deviation, report(data, compared, noBody)).toBe("none")
      } else {
        expect(compared.excuses, report(data, compared, noBody)).toContain(expected)
      }
    })
  }

  it("names the codings of a body read until close, and of a chunked body, without chunked", () => {
    const untilClose = runHttpfx([Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, br\r\n\r\nabc")], false)
    expect(untilClose.bodyKind).toBe(BodyKind.UntilClose)
    expect(untilClose.keepAlive).toBe(false)
    expect(untilClose.transferCodings).toEqual(["gzip", "br"])
    const chunked = runHttpfx([Buffer.from(`${CHUNKED.replace("chunked", "GZIP , chunked")}0\r\n\r\n`)], false)
    expect(chunked.bodyKind).toBe(BodyKind.Chunked)
    expect(chunked.transferCodings).toEqual(["gzip"])
  })
})

// --- generated responses ------------------------------------------------------------------------------------------

const pick = <T>(...values: Array<T>) => fc.constantFrom(...values)
/** Mostly a well-formed choice, now and then an odd one: most generated responses should stay close to valid. */
const mostly = <T>(usual: Array<T>, odd: Array<T>) =>
  fc.oneof({ weight: 15, arbitrary: pick(...usual) }, { weight: 1, arbitrary: pick(...odd) })

const interimArb = mostly([
  "",
  "",
  "",
  "",
  "HTTP/1.1 100 Continue\r\n\r\n",
  "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
], [
  "HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n",
  "HTTP/1.0 100 Continue\r\n\r\n",
  "HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n",
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"
])

const statusLineArb = fc.tuple(
  mostly(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"], ["HTTP/1.2", "HTTP/2.0", "ICE/1.0", "HTTP/0.9"]),
  mostly(["200", "200", "201", "204", "304", "404", "503", "999"], ["099", "20", "000"]),
  mostly([" OK", " Not Found", "", " ", " a\tb", " caf\xe9"], [" \x00", " \x01x", "\t"])
).map(([version, status, reason]) => `${version} ${status}${reason}\r\n`)

const owsArb = mostly(["", "", " ", " ", "\t", "  ", " \t"], ["\x0c", "\x00"])

const otherFieldArb = fc.tuple(
  mostly(["X-Test", "Server", "set-cookie", "Link", "Connection", "Connection"], [
    "Proxy-Connection",
    "X Y",
    "",
    "X\x01"
  ]),
  mostly(["a", "a b", "a\tb", "caf\xe9", "close", "keep-alive", "x, close", "Keep-Alive, close", ""], [
    "x\x0cy",
    "\x7f",
    "\x00",
    "a\rb"
  ]),
  owsArb,
  owsArb
).map(([name, value, before, after]) => `${name}:${before}${value}${after}\r\n`)

const framingArb = fc.record({
  kind: pick("length", "length", "chunked", "chunked", "chunked", "close", "te-close"),
  lengthForm: mostly(["=", "=", "=", "+1", "-1", "0", " =", "= ", "=\t", "0="], ["=, =", "+=", "", "= =", "huge"]),
  te: mostly(["chunked", "chunked", "chunked", "Chunked", "gzip, chunked", "gzip,chunked"], [
    "chunked, gzip",
    "chunked,",
    "chunked\t",
    "chunked, chunked",
    ", chunked",
    "gzip",
    ",",
    "",
    "chunked;q=1"
  ]),
  extraLength: mostly([false], [true]),
  duplicateTe: mostly([false], [true]),
  teCase: pick("Transfer-Encoding", "transfer-encoding"),
  clCase: pick("Content-Length", "content-length")
})

const chunkArb = fc.record({
  size: fc.integer({ min: 1, max: 12 }),
  sizeForm: pick("lower", "lower", "upper", "zeros"),
  ext: mostly(["", "", "", "", ";a", ";a=b", ";a=\"x y\"", ";a;b=c", ";a=\"\\\"\""], [
    ";",
    ";;a",
    ";=b",
    ";a=",
    ";a=b\"c\"",
    " ",
    "\t",
    "; a",
    ";a=\"\x01\""
  ])
})

const trailerArb = fc.tuple(
  mostly(["X-T", "X-U", "Connection"], ["Content-Length", "Transfer-Encoding"]),
  mostly(["1", "", "gzip", "close"], ["a\x0cb"]),
  owsArb
).map(([name, value, ows]) => `${name}:${ows}${value}\r\n`)

const MUTATION_BYTES = [13, 10, 13, 10, 32, 9, 0, 12, 127, 1, 58, 59, 44, 34, 48, 97, 255]

const mutationArb = fc.record({
  at: fc.nat(),
  op: pick("delete", "insert", "replace"),
  byte: fc.constantFrom(...MUTATION_BYTES)
})

const responseArb = fc.record({
  interim: interimArb,
  statusLine: statusLineArb,
  fields: fc.array(otherFieldArb, { maxLength: 3 }),
  framing: framingArb,
  framingAt: fc.nat(),
  body: fc.string({ unit: pick("a", "b", "\r", "\n", "0", ";", " ", "\x00", "\xff"), maxLength: 40 }),
  chunks: fc.array(chunkArb, { maxLength: 4 }),
  lastExt: pick("", "", ";x", ";x=\"y\""),
  trailers: fc.array(trailerArb, { maxLength: 2 }),
  mutations: fc.oneof(fc.constant([]), fc.array(mutationArb, { minLength: 1, maxLength: 3 })),
  cuts: fc.array(fc.nat(), { maxLength: 6 })
})

type Generated = typeof responseArb extends fc.Arbitrary<infer T> ? T : never

function lengthField(f: Generated["framing"], n: number): string {
  const form = f.lengthForm
  const value = form === "huge"
    ? "18446744073709551615"
    : form === "+1"
    ? String(n + 1)
    : form === "-1"
    ? String(Math.max(0, n - 1))
    : form === "0"
    ? "0"
    : form.replaceAll("=", String(n))
  return `${f.clCase}: ${value}\r\n`
}

function chunkedBody(r: Generated): string {
  let out = ""
  let left = r.body
  for (const c of r.chunks) {
    if (left.length === 0) break
    const data = left.slice(0, c.size)
    left = left.slice(c.size)
    const hex = data.length.toString(16)
    const size = c.sizeForm === "upper" ? hex.toUpperCase() : c.sizeForm === "zeros" ? "00" + hex : hex
    out += `${size}${c.ext}\r\n${data}\r\n`
  }
  if (left.length > 0) out += `${left.length.toString(16)}\r\n${left}\r\n`
  return out + `0${r.lastExt}\r\n${r.trailers.join("")}\r\n`
}

function serialize(r: Generated): Buffer {
  const f = r.framing
  const framing: Array<string> = []
  let body = r.body
  if (f.kind === "chunked" || f.kind === "te-close") {
    framing.push(`${f.teCase}: ${f.kind === "chunked" ? f.te : "gzip"}\r\n`)
    if (f.duplicateTe) framing.push(`${f.teCase}: ${f.te}\r\n`)
    if (f.kind === "chunked") body = chunkedBody(r)
  }
  if (f.kind === "length" || f.extraLength) framing.push(lengthField(f, r.body.length))
  const fields = [...r.fields]
  fields.splice(r.framingAt % (fields.length + 1), 0, ...framing)
  const text = r.interim + r.statusLine + fields.join("") + "\r\n" + body
  return mutate(Buffer.from(text, "latin1"), r.mutations)
}

function mutate(data: Buffer, mutations: Generated["mutations"]): Buffer {
  let out = data
  for (const m of mutations) {
    const at = m.at % (out.length + (m.op === "insert" ? 1 : 0) || 1)
    const byte = Buffer.from([m.byte])
    if (m.op === "insert") out = Buffer.concat([out.subarray(0, at), byte, out.subarray(at)])
    else if (out.length === 0) continue
    else if (m.op === "delete") out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)])
    else out = Buffer.concat([out.subarray(0, at), byte, out.subarray(at + 1)])
  }
  return out
}

function splitAt(data: Buffer, cuts: ReadonlyArray<number>): Array<Buffer> {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)
  const out: Array<Buffer> = []
  let from = 0
  for (const p of points) {
    if (p > from) out.push(data.subarray(from, p))
    from = p
  }
  if (from < data.length || out.length === 0) out.push(data.subarray(from))
  return out
}

const SEED = 20261206
const RUNS = 4000

describe(`llhttp ${LLHTTP_VERSION} and httpfx on generated responses`, () => {
  it("accept and reject the same responses, split anywhere, except where an RFC rule says otherwise", () => {
    const seen: Record<string, number> = {}
    fc.assert(
      fc.property(responseArb, fc.boolean(), fc.integer({ min: 0, max: 9 }), fc.nat(), (r, head, headOdds, limit) => {
        const data = serialize(r)
        const chunks = splitAt(data, r.cuts)
        const noBody = head && headOdds === 0
        const compared = compare(data, chunks, noBody)
        const key = compared.deviation === "none"
          ? (compared.context.llhttp.accepted ? "both accept" : "both reject")
          : compared.excuses.join(" | ")
        seen[key] = (seen[key] ?? 0) + 1
        const message = `seed ${SEED}: ` + report(data, compared, noBody)
        if (compared.deviation !== "none") expect(compared.excuses, message).not.toEqual([])
        // The header comment's promise: how the bytes are split changes nothing, error messages included, under
        // the default head limit and under one the head may pass anywhere.
        const splitChanges = `seed ${SEED}: splitting changes httpfx's outcome on ${escape(data)}`
        expect(compared.context.httpfx, splitChanges).toEqual(runHttpfx([data], noBody))
        const maxHeadSize = 1 + limit % (data.length + 1)
        expect(runHttpfx(chunks, noBody, maxHeadSize), `${splitChanges} (maxHeadSize ${maxHeadSize})`).toEqual(
          runHttpfx([data], noBody, maxHeadSize)
        )
      }),
      { seed: SEED, numRuns: RUNS }
    )
    if (process.env["DIFF_STATS"]) console.log(seen)
    // The generator must reach both outcomes and the rules, or the comparison proves little.
    expect(seen["both accept"]).toBeGreaterThan(RUNS / 6)
    expect(seen["both reject"]).toBeGreaterThan(RUNS / 6)
  }, 60_000)
})
