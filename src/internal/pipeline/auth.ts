/**
 * Authentication flows: Basic (RFC 7617), Bearer (RFC 6750), Digest (RFC 7616) and custom flows. A flow wraps one
 * request: it may add headers, look at the response head and send once more (httpx's `auth_flow`).
 */
import * as Effect from "effect/Effect"
import { NodeInspectSymbol } from "effect/Inspectable"
import type * as HttpError from "../../HttpError.js"
import { LocalProtocolError, RemoteProtocolError } from "../../HttpError.js"
import { crypto } from "../core/builtins.js"
import type { Body, Request } from "../message/request.js"
import { setHeader } from "../message/request.js"
import type { ResponseHead } from "../message/response.js"
import { parseTarget } from "../core/url.js"
import type { Target } from "../core/url.js"

// ---- the public model (Auth.ts re-exports it) ---------------------------------------------------------------------

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("httpfx/Auth")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Runs one request under this auth: may change the request, look at the response, and send again (httpx's
 * auth_flow).
 *
 * `send` may return a buffered or a streaming response; a flow looks only at its `status` and `headers`. When a flow
 * calls `send` a second time, the client releases the first response itself, so a flow just sends again.
 *
 * @since 0.1.0
 * @category models
 */
export type Flow = <A extends ResponseHead>(
  request: Request,
  send: (request: Request) => Effect.Effect<A, HttpError.HttpError>
) => Effect.Effect<A, HttpError.HttpError>

/**
 * An authentication scheme, given as `auth` to a client or to one request.
 *
 * @since 0.1.0
 * @category models
 */
export interface Auth {
  readonly [TypeId]: TypeId
  readonly flow: Flow
}

class AuthImpl implements Auth {
  readonly [TypeId]: TypeId = TypeId
  constructor(readonly flow: Flow, private readonly scheme: string) {}
  // Credentials live only in the flow's closure; printing an Auth shows its scheme and nothing secret.
  toJSON() {
    return { _id: "httpfx/Auth", scheme: this.scheme }
  }
  toString() {
    return `<Auth ${this.scheme}>`
  }
  [NodeInspectSymbol]() {
    return this.toJSON()
  }
}

export const isAuth = (u: unknown): u is Auth => typeof u === "object" && u !== null && TypeId in u

export const make = (flow: Flow): Auth => new AuthImpl(flow, "custom")

/** A flow that sets one Authorization value on every request and never retries. */
const fixed = (scheme: string, value: string): Auth =>
  new AuthImpl((request, send) => send(setHeader(request, "authorization", value)), scheme)

// RFC 7617 §2.1: the charset is the server's to announce, and UTF-8 is the only one it may name; httpx sends UTF-8
// unconditionally, and so do we.
export const basic = (username: string, password: string): Auth =>
  fixed("Basic", "Basic " + Buffer.from(`${username}:${password}`, "utf8").toString("base64"))

export const bearer = (token: string): Auth => fixed("Bearer", "Bearer " + token)

// ---- Digest: parsing challenges ------------------------------------------------------------------------------------

/** One challenge of a WWW-Authenticate field: a scheme with either a token68 or auth-params (names lower-cased). */
interface Challenge {
  readonly scheme: string
  readonly token68: string | undefined
  readonly params: ReadonlyMap<string, string>
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*(?=[ \t]*(?:,|$))/

/**
 * Parse the challenges of a WWW-Authenticate value (RFC 9110 §11.6.1). Repeated fields arrive joined with ", ", so
 * one value may hold several challenges, and a comma separates both challenges and the auth-params inside one: a
 * name followed by "=" continues the current challenge, any other token starts the next. Quoted strings may hold
 * commas and backslash escapes (RFC 9110 §5.6.4). Malformed parts are skipped rather than rejected, as browsers do.
 */
export const parseChallenges = (value: string): ReadonlyArray<Challenge> => {
  const challenges: Array<{ scheme: string; token68: string | undefined; params: Map<string, string> }> = []
  let current: (typeof challenges)[number] | undefined
  const n = value.length
  let i = 0
  const skipSpace = () => {
    while (i < n && (value[i] === " " || value[i] === "\t")) i++
  }
  const readToken = () => {
    const start = i
    while (i < n && TCHAR.test(value[i]!)) i++
    return value.slice(start, i)
  }
  const readQuoted = () => {
    let out = ""
    i++
    while (i < n && value[i] !== "\"") {
      if (value[i] === "\\" && i + 1 < n) i++
      out += value[i]
      i++
    }
    i++
    return out
  }
  // Lenient about unquoted values: some servers send characters outside tchar (a "/" in a nonce) without quotes.
  const readBare = () => {
    const start = i
    while (i < n && value[i] !== "," && value[i] !== " " && value[i] !== "\t") i++
    return value.slice(start, i)
  }
  while (i < n) {
    skipSpace()
    if (i >= n) break
    if (value[i] === ",") {
      i++
      continue
    }
    const name = readToken()
    if (name === "") {
      // Not a token: skip to the next comma, stepping over a quoted string whole.
      if (value[i] === "\"") readQuoted()
      else i++
      continue
    }
    const afterName = i
    skipSpace()
    if (value[i] === "=" && current !== undefined) {
      i++
      skipSpace()
      const paramValue = value[i] === "\"" ? readQuoted() : readBare()
      const key = name.toLowerCase()
      // RFC 9110 §11.2: each parameter name occurs once per challenge; keep the first of a repeat.
      if (!current.params.has(key)) current.params.set(key, paramValue)
      continue
    }
    current = { scheme: name, token68: undefined, params: new Map() }
    challenges.push(current)
    i = afterName
    skipSpace()
    const token68 = TOKEN68.exec(value.slice(i))
    if (token68 !== null) {
      current.token68 = token68[0]
      i += token68[0].length
    }
  }
  return challenges
}

// ---- Digest: the computation ---------------------------------------------------------------------------------------

interface HashAlgorithm {
  /** node:crypto's name */
  readonly hash: string
  /** the "-sess" variants hash the session key into A1 (RFC 7616 §3.4.2) */
  readonly session: boolean
}

// RFC 7616 §6.1's registry, plus SHA-512 and SHA (SHA-1), which servers such as httpbin send and httpx answers.
// SHA-512-256 needs an OpenSSL that has it; checked once, when first asked.
const ALGORITHMS: ReadonlyMap<string, HashAlgorithm> = new Map([
  ["SHA", { hash: "sha1", session: false }],
  ["SHA-SESS", { hash: "sha1", session: true }],
  ["SHA-512", { hash: "sha512", session: false }],
  ["SHA-512-SESS", { hash: "sha512", session: true }],
  ["MD5", { hash: "md5", session: false }],
  ["MD5-SESS", { hash: "md5", session: true }],
  ["SHA-256", { hash: "sha256", session: false }],
  ["SHA-256-SESS", { hash: "sha256", session: true }],
  ["SHA-512-256", { hash: "sha512-256", session: false }],
  ["SHA-512-256-SESS", { hash: "sha512-256", session: true }]
])

let available: ReadonlySet<string> | undefined
const hashAvailable = (hash: string) => (available ??= new Set(crypto().getHashes())).has(hash)

const hex = (hash: string, data: string | Uint8Array): string =>
  // Strings are hashed as UTF-8 (RFC 7616 §4: the only charset it defines), so non-ASCII credentials work.
  crypto().createHash(hash).update(data).digest("hex")

/** A Digest challenge we can answer. */
interface DigestChallenge {
  readonly realm: string
  readonly nonce: string
  readonly opaque: string | undefined
  /** as the server spelled it (echoed back), undefined when absent (MD5, RFC 7616 §3.3) */
  readonly algorithm: string | undefined
  readonly hash: string
  readonly session: boolean
  /** the qop values offered, lower-cased; undefined when the server sent none (RFC 2069 compatibility) */
  readonly qop: ReadonlyArray<string> | undefined
  readonly stale: boolean
  readonly userhash: boolean
}

type Choice =
  | { readonly _tag: "None" }
  | { readonly _tag: "Malformed"; readonly reason: string }
  | { readonly _tag: "StreamNeedsAuthInt" }
  | { readonly _tag: "Usable"; readonly challenge: DigestChallenge }

/** Read one Digest challenge: a usable one, a reason it is malformed, or undefined for one we cannot answer. */
const readDigest = (challenge: Challenge): DigestChallenge | string | undefined => {
  const realm = challenge.params.get("realm")
  const nonce = challenge.params.get("nonce")
  if (realm === undefined) return "it has no realm"
  if (nonce === undefined) return "it has no nonce"
  const algorithm = challenge.params.get("algorithm")
  const known = ALGORITHMS.get((algorithm ?? "MD5").toUpperCase())
  if (known === undefined || !hashAvailable(known.hash)) return undefined
  const qopValue = challenge.params.get("qop")
  const qop = qopValue?.split(",").map((s) => s.trim().toLowerCase()).filter((s) => s !== "")
  return {
    realm,
    nonce,
    opaque: challenge.params.get("opaque"),
    algorithm,
    hash: known.hash,
    session: known.session,
    qop: qop === undefined || qop.length === 0 ? undefined : qop,
    stale: challenge.params.get("stale")?.toLowerCase() === "true",
    userhash: challenge.params.get("userhash")?.toLowerCase() === "true"
  }
}

/** The qop to use for this body, "" for none offered (RFC 2069), undefined when no offered qop can be used. */
const chooseQop = (challenge: DigestChallenge, body: Body): "auth" | "auth-int" | "" | undefined => {
  if (challenge.qop === undefined) return ""
  if (challenge.qop.includes("auth")) return "auth"
  // auth-int hashes the entity body (RFC 7616 §3.4.3); a stream's bytes are unknown until it is sent.
  if (challenge.qop.includes("auth-int") && body._tag !== "Stream") return "auth-int"
  return undefined
}

/**
 * Pick the challenge to answer: the first Digest challenge we can answer, in the server's order (RFC 7616 §3.7:
 * a server lists its preferred algorithm first).
 */
const chooseChallenge = (header: string | undefined, body: Body): Choice => {
  if (header === undefined) return { _tag: "None" }
  let malformed: string | undefined
  let streamNeedsAuthInt = false
  for (const challenge of parseChallenges(header)) {
    if (challenge.scheme.toLowerCase() !== "digest") continue
    const digest = readDigest(challenge)
    if (typeof digest === "string") {
      malformed ??= digest
      continue
    }
    if (digest === undefined) continue
    if (chooseQop(digest, body) !== undefined) return { _tag: "Usable", challenge: digest }
    if (digest.qop!.includes("auth-int")) streamNeedsAuthInt = true
  }
  if (streamNeedsAuthInt) return { _tag: "StreamNeedsAuthInt" }
  if (malformed !== undefined) return { _tag: "Malformed", reason: malformed }
  return { _tag: "None" }
}

// RFC 9110 §5.6.4: inside a quoted string, a backslash and a double quote must be escaped.
const quote = (s: string) => "\"" + s.replace(/[\\"]/g, "\\$&") + "\""

// quoted-string admits VCHAR and obs-text; a name with characters beyond ASCII goes in username* as an RFC 8187
// ext-value instead (RFC 7616 §3.4.4), since a header value cannot carry UTF-8 as text.
const ASCII_QUOTABLE = /^[\t\x20-\x7e]*$/
const extValue = (s: string) =>
  "UTF-8''" + encodeURIComponent(s).replace(/['()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase())

const bodyBytes = (body: Body): Uint8Array => body._tag === "Bytes" ? body.bytes : new Uint8Array(0)

/** Everything that varies per Authorization header: the request, the counter value and the client nonce. */
interface DigestInput {
  readonly username: string
  readonly password: string
  readonly challenge: DigestChallenge
  readonly method: string
  /** the request-target, path and query (RFC 7616 §3.4.6) */
  readonly uri: string
  readonly body: Body
  readonly nc: number
  readonly cnonce: string
}

/** The Authorization value for one request (RFC 7616 §3.4), or undefined when no offered qop suits the body. */
const digestAuthorization = (input: DigestInput): string | undefined => {
  const { challenge, cnonce } = input
  const qop = chooseQop(challenge, input.body)
  if (qop === undefined) return undefined
  const H = (data: string | Uint8Array) => hex(challenge.hash, data)
  const nc = input.nc.toString(16).padStart(8, "0")
  // §3.4.2: A1 names the user in the clear even when userhash hides the name on the wire.
  let ha1 = H(`${input.username}:${challenge.realm}:${input.password}`)
  if (challenge.session) ha1 = H(`${ha1}:${challenge.nonce}:${cnonce}`)
  // §3.4.3
  const ha2 = qop === "auth-int"
    ? H(`${input.method}:${input.uri}:${H(bodyBytes(input.body))}`)
    : H(`${input.method}:${input.uri}`)
  // §3.4.1; without qop, RFC 2069's form, kept by RFC 2617 §3.2.2.1 for old servers
  const response = qop === ""
    ? H(`${ha1}:${challenge.nonce}:${ha2}`)
    : H(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:${qop}:${ha2}`)

  const fields: Array<string> = []
  if (challenge.userhash) fields.push(`username=${quote(H(`${input.username}:${challenge.realm}`))}`)
  else if (ASCII_QUOTABLE.test(input.username)) fields.push(`username=${quote(input.username)}`)
  else fields.push(`username*=${extValue(input.username)}`)
  fields.push(`realm=${quote(challenge.realm)}`, `uri=${quote(input.uri)}`)
  // §3.4: algorithm, qop and nc are tokens, sent without quotes; some servers reject the quoted forms.
  if (challenge.algorithm !== undefined) fields.push(`algorithm=${challenge.algorithm}`)
  fields.push(`nonce=${quote(challenge.nonce)}`)
  if (qop !== "") fields.push(`nc=${nc}`, `cnonce=${quote(cnonce)}`, `qop=${qop}`)
  // A "-sess" A1 contains the cnonce, so the server needs it even from an RFC 2069 exchange.
  else if (challenge.session) fields.push(`cnonce=${quote(cnonce)}`)
  fields.push(`response=${quote(response)}`)
  if (challenge.opaque !== undefined) fields.push(`opaque=${quote(challenge.opaque)}`)
  if (challenge.userhash) fields.push("userhash=true")
  return "Digest " + fields.join(", ")
}

// ---- Digest: the flow ----------------------------------------------------------------------------------------------

/** The challenge remembered for one origin, and how many requests have used its nonce. */
interface Session {
  readonly challenge: DigestChallenge
  nc: number
}

/** Options for tests: a fixed client nonce makes the RFC's worked examples reproducible. */
interface DigestOptions {
  readonly cnonce?: (() => string) | undefined
}

// 128 random bits, hex: RFC 7616 §3.4 wants a cnonce the server cannot predict.
const randomCnonce = () => crypto().randomBytes(16).toString("hex")

export const digestWith = (username: string, password: string, options?: DigestOptions): Auth => {
  const cnonce = options?.cnonce ?? randomCnonce
  // Keyed by origin: RFC 7616 §3.3's default protection space is the origin, and a challenge from one server must
  // not be answered to another.
  const sessions = new Map<string, Session>()

  // Reading and bumping the counter happen in one synchronous step, so concurrent fibers never share an nc value.
  const authorize = (session: Session, request: Request, target: Target): string | undefined => {
    if (chooseQop(session.challenge, request.body) === undefined) return undefined
    session.nc += 1
    return digestAuthorization({
      username,
      password,
      challenge: session.challenge,
      method: request.method,
      uri: target.path,
      body: request.body,
      nc: session.nc,
      cnonce: cnonce()
    })
  }

  const flow: Flow = <A extends ResponseHead>(
    request: Request,
    send: (request: Request) => Effect.Effect<A, HttpError.HttpError>
  ) =>
    Effect.suspend(() => {
      const target = parseTarget(request.url)
      // A URL that does not parse is the transport's to report, with its own error.
      if ("_tag" in target) return send(request)
      const requestInfo = { method: request.method, url: request.url }
      // Answer the last challenge ahead of time: the server accepts it without a 401 round trip while the nonce
      // holds (RFC 7616 §3.4's nonce count exists for exactly this reuse).
      const remembered = sessions.get(target.origin)
      const preemptive = remembered === undefined ? undefined : authorize(remembered, request, target)
      const sentNonce = preemptive === undefined ? undefined : remembered!.challenge.nonce
      const first = preemptive === undefined ? request : setHeader(request, "authorization", preemptive)
      return Effect.flatMap(send(first), (response): Effect.Effect<A, HttpError.HttpError> => {
        if (response.status !== 401) return Effect.succeed(response)
        const choice = chooseChallenge(response.headers["www-authenticate"], request.body)
        switch (choice._tag) {
          case "None":
            return Effect.succeed(response)
          case "Malformed":
            return Effect.fail(
              new RemoteProtocolError({
                message: `${request.method} ${request.url}: the server's Digest challenge cannot be answered: ` +
                  choice.reason,
                request: requestInfo
              })
            )
          case "StreamNeedsAuthInt":
            return Effect.fail(
              new LocalProtocolError({
                message: `${request.method} ${request.url}: the server accepts only Digest qop=auth-int, which ` +
                  "hashes the whole body before sending it; the body is a stream, so pass it as bytes instead",
                request: requestInfo
              })
            )
          case "Usable": {
            const { challenge } = choice
            // Our answer to this very nonce was refused and the server does not call it stale (§3.3): the
            // credentials are wrong, and asking again would only be refused again.
            if (sentNonce !== undefined && !challenge.stale && challenge.nonce === sentNonce) {
              return Effect.succeed(response)
            }
            // nc counts the requests made with one nonce (RFC 7616 §3.4): when the nonce comes back unchanged (two
            // first requests answered with the same nonce, or a stale verdict on it), keep counting from where it is,
            // or the server sees a value it has already had as a replay.
            const previous = sessions.get(target.origin)
            const session: Session = {
              challenge,
              nc: previous !== undefined && previous.challenge.nonce === challenge.nonce ? previous.nc : 0
            }
            sessions.set(target.origin, session)
            // chooseChallenge checked that a qop suits this body, so there is an answer.
            const answer = authorize(session, request, target)!
            return send(setHeader(request, "authorization", answer))
          }
        }
      })
    })

  return new AuthImpl(flow, "Digest")
}

export const digest = (username: string, password: string): Auth => digestWith(username, password)
