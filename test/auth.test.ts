/**
 * Auth flows: Basic and Bearer headers, custom flows, and Digest (RFC 7616) — first against a fake `send` with the
 * RFC's worked examples, then against a loopback server that checks every Digest answer on its own.
 */
import * as Headers from "@effect/platform/Headers"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import { Pool } from "httpfx"
import { createHash, randomBytes } from "node:crypto"
import type * as http from "node:http"
import * as Auth from "../src/Auth.js"
import type * as HttpError from "../src/HttpError.js"
import { digestWith, parseChallenges } from "../src/internal/pipeline/auth.js"
import * as Request from "../src/internal/message/request.js"
import type { ResponseHead } from "../src/internal/message/response.js"
import { httpServer } from "./utils/servers.js"

// ---- helpers -------------------------------------------------------------------------------------------------------

/** A response head with only what flows may look at: status and headers. */
const head = (status: number, headers: Record<string, string> = {}): ResponseHead =>
  ({ status, headers: Headers.fromInput(headers) }) as unknown as ResponseHead

/** A fake `send` that records every request and answers with `respond`. */
const recorder = (respond: (request: Request.Request, index: number) => ResponseHead) => {
  const sent: Array<Request.Request> = []
  // Yielding first lets concurrent flows interleave as they would on a network.
  const send = (request: Request.Request): Effect.Effect<ResponseHead, HttpError.HttpError> =>
    Effect.zipRight(
      Effect.yieldNow(),
      Effect.sync(() => {
        sent.push(request)
        return respond(request, sent.length - 1)
      })
    )
  return { sent, send }
}

const get = (url: string, body?: Request.Body) => Request.make({ method: "GET", url, body })

const authorizationOf = (request: Request.Request | undefined) => request?.headers["authorization"]

/** The auth-params of an Authorization value, read with the same parser as challenges (the grammar is shared). */
const paramsOf = (authorization: string | undefined): ReadonlyMap<string, string> => {
  const [credentials] = parseChallenges(authorization ?? "")
  return credentials?.params ?? new Map()
}

const H = (algorithm: string, data: string | Uint8Array) => createHash(algorithm).update(data).digest("hex")

// RFC 7616 §3.9.1
const RFC = {
  username: "Mufasa",
  password: "Circle of Life",
  realm: "http-auth@example.org",
  nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
  opaque: "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS",
  cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
  url: "http://www.example.org/dir/index.html"
}
const rfcChallenge = (algorithm: string) =>
  `Digest realm="${RFC.realm}", qop="auth, auth-int", algorithm=${algorithm}, nonce="${RFC.nonce}", ` +
  `opaque="${RFC.opaque}"`

/** A fake server that accepts any Authorization and challenges requests without one. */
const challengeUnlessAuthorized = (challenge: string) =>
  recorder((request) =>
    request.headers["authorization"] === undefined ? head(401, { "www-authenticate": challenge }) : head(200)
  )

// ---- Basic, Bearer, custom ------------------------------------------------------------------------------------------

describe("Auth.basic", () => {
  it.effect("sends base64(user:password) (RFC 7617 §2)", () =>
    Effect.gen(function*() {
      const { send, sent } = recorder(() => head(200))
      yield* Auth.basic("Aladdin", "open sesame").flow(get("http://h/"), send)
      expect(authorizationOf(sent[0])).toBe("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    }))

  it.effect("encodes a non-ASCII password as UTF-8 (RFC 7617 §2.1's example)", () =>
    Effect.gen(function*() {
      const { send, sent } = recorder(() => head(200))
      yield* Auth.basic("test", "123£").flow(get("http://h/"), send)
      expect(authorizationOf(sent[0])).toBe("Basic dGVzdDoxMjPCow==")
    }))

  it.effect("sends once and returns a 401 as it is", () =>
    Effect.gen(function*() {
      const { send, sent } = recorder(() => head(401, { "www-authenticate": "Basic realm=\"x\"" }))
      const response = yield* Auth.basic("u", "p").flow(get("http://h/"), send)
      expect(response.status).toBe(401)
      expect(sent).toHaveLength(1)
    }))
})

describe("Auth.bearer", () => {
  it.effect("sends the token (RFC 6750 §2.1)", () =>
    Effect.gen(function*() {
      const { send, sent } = recorder(() => head(200))
      yield* Auth.bearer("mF_9.B5f-4.1JqM").flow(get("http://h/"), send)
      expect(authorizationOf(sent[0])).toBe("Bearer mF_9.B5f-4.1JqM")
    }))

  it.effect("replaces an Authorization header already on the request", () =>
    Effect.gen(function*() {
      const { send, sent } = recorder(() => head(200))
      yield* Auth.bearer("new").flow(Request.setHeader(get("http://h/"), "Authorization", "Bearer old"), send)
      expect(authorizationOf(sent[0])).toBe("Bearer new")
    }))
})

describe("Auth.make", () => {
  it.effect("a custom flow can look at a 401, refresh its token and send again", () =>
    Effect.gen(function*() {
      let token = "expired"
      const refreshing = Auth.make((request, send) =>
        Effect.gen(function*() {
          const response = yield* send(Request.setHeader(request, "authorization", `Bearer ${token}`))
          if (response.status !== 401) return response
          token = "fresh"
          return yield* send(Request.setHeader(request, "authorization", `Bearer ${token}`))
        })
      )
      const { send, sent } = recorder((request) =>
        head(request.headers["authorization"] === "Bearer fresh" ? 200 : 401)
      )
      const response = yield* refreshing.flow(get("http://h/"), send)
      expect(response.status).toBe(200)
      expect(sent.map(authorizationOf)).toEqual(["Bearer expired", "Bearer fresh"])
    }))

  it("isAuth recognises every constructor's result and nothing else", () => {
    for (const auth of [Auth.basic("u", "p"), Auth.bearer("t"), Auth.digest("u", "p"), Auth.make((r, s) => s(r))]) {
      expect(Auth.isAuth(auth)).toBe(true)
      expect(auth[Auth.TypeId]).toBe(Auth.TypeId)
    }
    expect(Auth.isAuth({ flow: () => undefined })).toBe(false)
    expect(Auth.isAuth(null)).toBe(false)
  })

  it("printing an Auth shows no credentials", () => {
    expect(JSON.stringify(Auth.basic("user", "hunter2"))).not.toContain("hunter2")
    expect(String(Auth.digest("user", "hunter2"))).toBe("<Auth Digest>")
  })
})

// ---- Digest: challenge parsing --------------------------------------------------------------------------------------

describe("WWW-Authenticate parsing", () => {
  it("splits challenges joined by commas and keeps quoted commas and escapes (RFC 9110 §11.6.1's example)", () => {
    const challenges = parseChallenges(
      "Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", Basic realm=\"simple\", " +
        "Digest realm=\"y\", qop=\"auth, auth-int\", nonce=\"a,b\""
    )
    expect(challenges.map((c) => c.scheme)).toEqual(["Newauth", "Basic", "Digest"])
    expect(Object.fromEntries(challenges[0]!.params)).toEqual({ realm: "apps", type: "1", title: "Login to \"apps\"" })
    expect(Object.fromEntries(challenges[2]!.params)).toEqual({ realm: "y", qop: "auth, auth-int", nonce: "a,b" })
  })

  it("reads a token68 and a scheme with no parameters", () => {
    const challenges = parseChallenges("Negotiate, NTLM abc+/de==, Digest nonce=n1, realm=r")
    expect(challenges.map((c) => [c.scheme, c.token68])).toEqual([
      ["Negotiate", undefined],
      ["NTLM", "abc+/de=="],
      ["Digest", undefined]
    ])
    expect(Object.fromEntries(challenges[2]!.params)).toEqual({ nonce: "n1", realm: "r" })
  })

  it("lower-cases parameter names and tolerates spaces around '='", () => {
    const [challenge] = parseChallenges("DIGEST Realm = \"r\" ,NONCE=\"n\"")
    expect(Object.fromEntries(challenge!.params)).toEqual({ realm: "r", nonce: "n" })
  })
})

// ---- Digest: fake server -------------------------------------------------------------------------------------------

describe("Auth.digest", () => {
  const rfcDigest = () => digestWith(RFC.username, RFC.password, { cnonce: () => RFC.cnonce })

  it.effect("answers the RFC 7616 §3.9.1 MD5 example exactly", () =>
    Effect.gen(function*() {
      const { send, sent } = challengeUnlessAuthorized(rfcChallenge("MD5"))
      const response = yield* rfcDigest().flow(get(RFC.url), send)
      expect(response.status).toBe(200)
      expect(sent).toHaveLength(2)
      expect(authorizationOf(sent[0])).toBeUndefined()
      expect(authorizationOf(sent[1])).toBe(
        `Digest username="Mufasa", realm="${RFC.realm}", uri="/dir/index.html", algorithm=MD5, ` +
          `nonce="${RFC.nonce}", nc=00000001, cnonce="${RFC.cnonce}", qop=auth, ` +
          `response="8ca523f5e9506fed4657c9700eebdbec", opaque="${RFC.opaque}"`
      )
    }))

  it.effect("answers the RFC 7616 §3.9.1 SHA-256 example, choosing the server's first algorithm", () =>
    Effect.gen(function*() {
      // The RFC's two WWW-Authenticate fields, joined by ", " as Headers joins them.
      const { send, sent } = challengeUnlessAuthorized(`${rfcChallenge("SHA-256")}, ${rfcChallenge("MD5")}`)
      yield* rfcDigest().flow(get(RFC.url), send)
      const params = paramsOf(authorizationOf(sent[1]))
      expect(params.get("algorithm")).toBe("SHA-256")
      expect(params.get("response")).toBe("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")
    }))

  it.effect("answers a Digest challenge listed after other schemes", () =>
    Effect.gen(function*() {
      const { send, sent } = challengeUnlessAuthorized(
        "Basic realm=\"x\", Digest realm=\"y\", qop=\"auth\", nonce=\"abc\", Bearer realm=\"z\""
      )
      const response = yield* digestWith("u", "p", { cnonce: () => "c" }).flow(get("http://h/p?q=1"), send)
      expect(response.status).toBe(200)
      const params = paramsOf(authorizationOf(sent[1]))
      expect(params.get("realm")).toBe("y")
      expect(params.get("nonce")).toBe("abc")
      expect(params.get("uri")).toBe("/p?q=1")
      const ha1 = H("md5", "u:y:p")
      const ha2 = H("md5", "GET:/p?q=1")
      expect(params.get("response")).toBe(H("md5", `${ha1}:abc:00000001:c:auth:${ha2}`))
    }))

  it.effect("computes MD5-sess with the cnonce in A1 (RFC 7616 §3.4.2)", () =>
    Effect.gen(function*() {
      const { send, sent } = challengeUnlessAuthorized("Digest realm=\"r\", nonce=\"n\", qop=auth, algorithm=MD5-sess")
      yield* digestWith("u", "p", { cnonce: () => "cn" }).flow(get("http://h/x"), send)
      const params = paramsOf(authorizationOf(sent[1]))
      const ha1 = H("md5", `${H("md5", "u:r:p")}:n:cn`)
      const ha2 = H("md5", "GET:/x")
      expect(params.get("algorithm")).toBe("MD5-sess")
      expect(params.get("response")).toBe(H("md5", `${ha1}:n:00000001:cn:auth:${ha2}`))
    }))

  it.effect("computes SHA-512-256 (RFC 7616 §3.2)", () =>
    Effect.gen(function*() {
      const { send, sent } = challengeUnlessAuthorized(
        "Digest realm=\"r\", nonce=\"n\", qop=auth, algorithm=SHA-512-256"
      )
      yield* digestWith("u", "p", { cnonce: () => "cn" }).flow(get("http://h/x"), send)
      const h = (s: string) => H("sha512-256", s)
      expect(paramsOf(authorizationOf(sent[1])).get("response")).toBe(
        h(`${h("u:r:p")}:n:00000001:cn:auth:${h("GET:/x")}`)
      )
    }))

  it.effect("without qop, answers as RFC 2069 did: no nc, no cnonce, response = H(HA1:nonce:HA2)", () =>
    Effect.gen(function*() {
      const { send, sent } = challengeUnlessAuthorized("Digest realm=\"r\", nonce=\"n\"")
      yield* digestWith("u", "p", { cnonce: () => "cn" }).flow(get("http://h/x"), send)
      const authorization = authorizationOf(sent[1])
      const params = paramsOf(authorization)
      expect([...params.keys()]).toEqual(["username", "realm", "uri", "nonce", "response"])
      expect(params.get("response")).toBe(H("md5", `${H("md5", "u:r:p")}:n:${H("md5", "GET:/x")}`))
    }))

  it.effect("echoes the opaque value, quoted", () =>
    Effect.gen(function*() {
      const { send, sent } = challengeUnlessAuthorized(
        "Digest realm=\"r\", nonce=\"n\", qop=auth, opaque=\"o \\\"q\\\"\""
      )
      yield* Auth.digest("u", "p").flow(get("http://h/"), send)
      expect(authorizationOf(sent[1])).toContain("opaque=\"o \\\"q\\\"\"")
      expect(paramsOf(authorizationOf(sent[1])).get("opaque")).toBe("o \"q\"")
    }))

  it.effect("returns a second 401 as it is, after exactly two requests", () =>
    Effect.gen(function*() {
      const challenge = "Digest realm=\"r\", nonce=\"n\", qop=auth"
      const { send, sent } = recorder(() => head(401, { "www-authenticate": challenge }))
      const response = yield* Auth.digest("u", "wrong").flow(get("http://h/"), send)
      expect(response.status).toBe(401)
      expect(sent).toHaveLength(2)
    }))

  it.effect("returns a 401 without a Digest challenge, and any other status, untouched after one request", () =>
    Effect.gen(function*() {
      for (const answer of [head(401, { "www-authenticate": "Basic realm=\"x\"" }), head(401), head(403), head(200)]) {
        const { send, sent } = recorder(() => answer)
        const response = yield* Auth.digest("u", "p").flow(get("http://h/"), send)
        expect(response).toBe(answer)
        expect(sent).toHaveLength(1)
      }
    }))

  it.effect("answers the remembered challenge at once on the next request, with nc 00000002 and a new cnonce", () =>
    Effect.gen(function*() {
      let counter = 0
      const auth = digestWith("u", "p", { cnonce: () => `cnonce${++counter}` })
      const { send, sent } = challengeUnlessAuthorized("Digest realm=\"r\", nonce=\"n\", qop=auth")
      yield* auth.flow(get("http://h/one"), send)
      const response = yield* auth.flow(get("http://h/two"), send)
      expect(response.status).toBe(200)
      expect(sent).toHaveLength(3)
      const params = paramsOf(authorizationOf(sent[2]))
      expect(params.get("nc")).toBe("00000002")
      expect(params.get("cnonce")).toBe("cnonce2")
      expect(params.get("uri")).toBe("/two")
      const ha1 = H("md5", "u:r:p")
      expect(params.get("response")).toBe(H("md5", `${ha1}:n:00000002:cnonce2:auth:${H("md5", "GET:/two")}`))
    }))

  it.effect("keeps remembered challenges per origin: another server gets no answer before it asks", () =>
    Effect.gen(function*() {
      const auth = Auth.digest("u", "p")
      const { send, sent } = challengeUnlessAuthorized("Digest realm=\"r\", nonce=\"n\", qop=auth")
      yield* auth.flow(get("http://a/"), send)
      yield* auth.flow(get("http://b/"), send)
      expect(sent.map((r) => [r.url, authorizationOf(r) !== undefined])).toEqual([
        ["http://a/", false],
        ["http://a/", true],
        ["http://b/", false],
        ["http://b/", true]
      ])
    }))

  it.effect("counts nc per nonce across concurrent requests: no value is used twice", () =>
    Effect.gen(function*() {
      const auth = Auth.digest("u", "p")
      const { send, sent } = challengeUnlessAuthorized("Digest realm=\"r\", nonce=\"n\", qop=auth")
      yield* auth.flow(get("http://h/"), send)
      yield* Effect.forEach(Array.from({ length: 10 }), () => auth.flow(get("http://h/"), send), { concurrency: 10 })
      const counts = sent.slice(1).map((r) => paramsOf(authorizationOf(r)).get("nc"))
      expect(new Set(counts).size).toBe(11)
      expect(counts.sort()).toEqual(Array.from({ length: 11 }, (_, i) => (i + 1).toString(16).padStart(8, "0")))
    }))

  it.effect("on stale=true, answers the new nonce once, from nc 00000001", () =>
    Effect.gen(function*() {
      let nonce = "old"
      const auth = digestWith("u", "p", { cnonce: () => "c" })
      const { send, sent } = recorder((request) => {
        const given = paramsOf(request.headers["authorization"]).get("nonce")
        if (given === nonce) return head(200)
        return head(401, {
          "www-authenticate": `Digest realm="r", nonce="${nonce}", qop=auth${given !== undefined ? ", stale=true" : ""}`
        })
      })
      yield* auth.flow(get("http://h/"), send)
      nonce = "new"
      const response = yield* auth.flow(get("http://h/"), send)
      expect(response.status).toBe(200)
      expect(sent).toHaveLength(4)
      expect([2, 3].map((i) => [...paramsOf(authorizationOf(sent[i]))].filter(([k]) => k === "nonce" || k === "nc")))
        .toEqual([[["nonce", "old"], ["nc", "00000002"]], [["nonce", "new"], ["nc", "00000001"]]])
    }))

  it.effect("on stale=true for the same nonce, answers once more and keeps counting nc", () =>
    Effect.gen(function*() {
      const auth = Auth.digest("u", "p")
      let staleOnce = false
      const { send, sent } = recorder((request) => {
        const nc = paramsOf(request.headers["authorization"]).get("nc")
        if (nc === undefined) return head(401, { "www-authenticate": "Digest realm=\"r\", nonce=\"n\", qop=auth" })
        if (!staleOnce) return head(200)
        staleOnce = false
        return head(401, { "www-authenticate": "Digest realm=\"r\", nonce=\"n\", qop=auth, stale=TRUE" })
      })
      yield* auth.flow(get("http://h/"), send)
      staleOnce = true
      expect((yield* auth.flow(get("http://h/"), send)).status).toBe(200)
      expect(sent.map((r) => paramsOf(authorizationOf(r)).get("nc"))).toEqual([
        undefined,
        "00000001",
        "00000002",
        "00000003"
      ])
    }))

  it.effect("concurrent first requests answered with the same nonce never repeat an nc", () =>
    Effect.gen(function*() {
      const auth = Auth.digest("u", "p")
      const { send, sent } = challengeUnlessAuthorized("Digest realm=\"r\", nonce=\"n\", qop=auth")
      yield* Effect.forEach([1, 2, 3], () => auth.flow(get("http://h/"), send), { concurrency: 3 })
      const counts = sent.map((r) => paramsOf(authorizationOf(r)).get("nc")).filter((nc) => nc !== undefined)
      expect(counts.sort()).toEqual(["00000001", "00000002", "00000003"])
    }))

  it.effect("answers a renewed nonce once even without stale", () =>
    Effect.gen(function*() {
      const auth = Auth.digest("u", "p")
      let nonce = "n1"
      const { send, sent } = recorder((request) =>
        paramsOf(request.headers["authorization"]).get("nonce") === nonce
          ? head(200)
          : head(401, { "www-authenticate": `Digest realm="r", nonce="${nonce}", qop=auth` })
      )
      yield* auth.flow(get("http://h/"), send)
      nonce = "n2"
      expect((yield* auth.flow(get("http://h/"), send)).status).toBe(200)
      expect(sent).toHaveLength(4)
    }))

  it.effect("does not repeat an answer the server refused for the same nonce (wrong credentials)", () =>
    Effect.gen(function*() {
      const auth = Auth.digest("u", "p")
      const challenge = head(401, { "www-authenticate": "Digest realm=\"r\", nonce=\"n\", qop=auth" })
      let accept = true
      const { send, sent } = recorder((request) =>
        request.headers["authorization"] !== undefined && accept ? head(200) : challenge
      )
      yield* auth.flow(get("http://h/"), send)
      accept = false
      expect((yield* auth.flow(get("http://h/"), send)).status).toBe(401)
      expect(sent).toHaveLength(3)
    }))

  it.effect("with userhash=true, sends H(username:realm) as the username and hashes A1 with the real name", () =>
    Effect.gen(function*() {
      const { send, sent } = challengeUnlessAuthorized(
        "Digest realm=\"api@example.org\", qop=\"auth\", algorithm=SHA-256, nonce=\"n\", charset=UTF-8, userhash=true"
      )
      yield* digestWith("Jäsøn Doe", "Secret, or not?", { cnonce: () => "c" }).flow(get("http://h/doe.json"), send)
      const params = paramsOf(authorizationOf(sent[1]))
      const h = (s: string) => H("sha256", s)
      expect(params.get("username")).toBe(h("Jäsøn Doe:api@example.org"))
      expect(params.get("userhash")).toBe("true")
      const ha1 = h("Jäsøn Doe:api@example.org:Secret, or not?")
      expect(params.get("response")).toBe(h(`${ha1}:n:00000001:c:auth:${h("GET:/doe.json")}`))
    }))

  it.effect("hashes non-ASCII credentials as UTF-8 and sends a non-ASCII name as username* (RFC 7616 §3.4.4)", () =>
    Effect.gen(function*() {
      const { send, sent } = challengeUnlessAuthorized("Digest realm=\"r\", nonce=\"n\", qop=auth")
      yield* digestWith("Jäsøn", "pässwörd€", { cnonce: () => "c" }).flow(get("http://h/"), send)
      const params = paramsOf(authorizationOf(sent[1]))
      expect(params.has("username")).toBe(false)
      expect(params.get("username*")).toBe("UTF-8''J%C3%A4s%C3%B8n")
      const ha1 = H("md5", Buffer.from("Jäsøn:r:pässwörd€", "utf8"))
      expect(params.get("response")).toBe(H("md5", `${ha1}:n:00000001:c:auth:${H("md5", "GET:/")}`))
    }))

  it.effect("with only qop=auth-int, hashes the body into A2 (RFC 7616 §3.4.3)", () =>
    Effect.gen(function*() {
      const { send, sent } = challengeUnlessAuthorized("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"")
      const body = new TextEncoder().encode("hello")
      const request = Request.make({ method: "POST", url: "http://h/p", body: { _tag: "Bytes", bytes: body } })
      yield* digestWith("u", "p", { cnonce: () => "c" }).flow(request, send)
      const params = paramsOf(authorizationOf(sent[1]))
      expect(params.get("qop")).toBe("auth-int")
      const ha2 = H("md5", `POST:/p:${H("md5", body)}`)
      expect(params.get("response")).toBe(H("md5", `${H("md5", "u:r:p")}:n:00000001:c:auth-int:${ha2}`))
    }))

  it.effect("fails with LocalProtocolError when only auth-int is offered and the body is a stream", () =>
    Effect.gen(function*() {
      const { send, sent } = challengeUnlessAuthorized("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"")
      const request = get("http://h/", {
        _tag: "Stream",
        stream: Stream.make(new Uint8Array([1])),
        length: undefined,
        replayable: true
      })
      const exit = yield* Effect.exit(Auth.digest("u", "p").flow(request, send))
      expect(exit).toMatchObject(Exit.fail({ _tag: "LocalProtocolError" }))
      expect(sent).toHaveLength(1)
    }))

  it.effect("fails with RemoteProtocolError on a Digest challenge without a nonce", () =>
    Effect.gen(function*() {
      const { send } = challengeUnlessAuthorized("Digest realm=\"r\", qop=auth")
      const error = yield* Effect.flip(Auth.digest("u", "p").flow(get("http://h/"), send))
      expect(error._tag).toBe("RemoteProtocolError")
      expect(error.message).toContain("no nonce")
    }))

  it.effect("returns the 401 when the only Digest challenge uses an unknown algorithm", () =>
    Effect.gen(function*() {
      const { send, sent } = challengeUnlessAuthorized("Digest realm=\"r\", nonce=\"n\", algorithm=SHA3-999")
      expect((yield* Auth.digest("u", "p").flow(get("http://h/"), send)).status).toBe(401)
      expect(sent).toHaveLength(1)
    }))
})

// ---- Digest: a real server -----------------------------------------------------------------------------------------

interface DigestServerOptions {
  readonly algorithm: "MD5" | "SHA-256"
  readonly qop: "auth" | "auth-int"
  readonly username: string
  readonly password: string
}

/**
 * A server that checks Digest answers itself (RFC 7616 §3.4, written separately from src/): the nonce must be one it
 * issued, the nc must grow, the uri must be the request-target, and the response must match.
 */
const digestServer = (options: DigestServerOptions) => {
  const realm = "test@httpfx"
  const opaque = randomBytes(8).toString("hex")
  const hash = options.algorithm === "MD5" ? "md5" : "sha256"
  const h = (data: string | Buffer) => createHash(hash).update(data).digest("hex")
  const lastNc = new Map<string, number>()
  let requests = 0

  const parse = (header: string) => {
    const params: Record<string, string> = {}
    for (const match of header.slice("Digest ".length).matchAll(/([\w*-]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
      params[match[1]!] = match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3]!
    }
    return params
  }

  const verify = (req: http.IncomingMessage, body: Buffer): boolean => {
    const header = req.headers.authorization
    if (header === undefined || !header.startsWith("Digest ")) return false
    const p = parse(header)
    const issued = lastNc.get(p["nonce"] ?? "")
    const nc = parseInt(p["nc"] ?? "", 16)
    if (issued === undefined || !(nc > issued)) return false
    if (p["username"] !== options.username || p["realm"] !== realm || p["uri"] !== req.url) return false
    if (p["algorithm"] !== options.algorithm || p["qop"] !== options.qop || p["opaque"] !== opaque) return false
    const ha1 = h(`${options.username}:${realm}:${options.password}`)
    const ha2 = options.qop === "auth" ? h(`${req.method}:${req.url}`) : h(`${req.method}:${req.url}:${h(body)}`)
    const expected = h(`${ha1}:${p["nonce"]}:${p["nc"]}:${p["cnonce"]}:${p["qop"]}:${ha2}`)
    if (p["response"] !== expected) return false
    lastNc.set(p["nonce"]!, nc)
    return true
  }

  return Effect.map(
    httpServer((req, res) => {
      requests++
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        if (verify(req, Buffer.concat(chunks))) {
          res.end("secret")
          return
        }
        const nonce = randomBytes(16).toString("base64")
        lastNc.set(nonce, 0)
        // Two fields: the client sees them joined into one value.
        res.writeHead(401, {
          "www-authenticate": [
            "Basic realm=\"other\"",
            `Digest realm="${realm}", qop="${options.qop}", algorithm=${options.algorithm}, nonce="${nonce}", ` +
            `opaque="${opaque}"`
          ]
        })
        res.end("denied")
      })
    }),
    (server) => ({ server, requests: () => requests })
  )
}

const poolSend = (pool: Pool.Pool) => (request: Request.Request) =>
  pool.request(request.method, request.url, {
    headers: request.headers,
    content: request.body._tag === "Bytes" ? request.body.bytes : undefined
  })

describe("Auth.digest against a loopback server", () => {
  for (const algorithm of ["MD5", "SHA-256"] as const) {
    it.scoped(`${algorithm} with qop=auth gets 200 after one challenge`, () =>
      Effect.gen(function*() {
        const { server, requests } = yield* digestServer({ algorithm, qop: "auth", username: "user", password: "pw" })
        const pool = yield* Pool.make()
        const response = yield* Auth.digest("user", "pw").flow(get(`${server.url}/private?x=1`), poolSend(pool))
        expect(response.status).toBe(200)
        expect(response.text).toBe("secret")
        expect(requests()).toBe(2)
      }))
  }

  it.scoped("qop=auth-int with a body gets 200", () =>
    Effect.gen(function*() {
      const { server } = yield* digestServer({ algorithm: "SHA-256", qop: "auth-int", username: "u", password: "p" })
      const pool = yield* Pool.make()
      const request = Request.make({
        method: "PUT",
        url: `${server.url}/doc`,
        body: { _tag: "Bytes", bytes: new TextEncoder().encode("{\"a\":1}") }
      })
      expect((yield* Auth.digest("u", "p").flow(request, poolSend(pool))).status).toBe(200)
    }))

  it.scoped("a wrong password yields 401 after exactly 2 requests", () =>
    Effect.gen(function*() {
      const { server, requests } = yield* digestServer({
        algorithm: "MD5",
        qop: "auth",
        username: "user",
        password: "pw"
      })
      const pool = yield* Pool.make()
      const response = yield* Auth.digest("user", "nope").flow(get(`${server.url}/`), poolSend(pool))
      expect(response.status).toBe(401)
      expect(requests()).toBe(2)
    }))

  it.scoped("the second call answers the remembered challenge in exactly 1 request", () =>
    Effect.gen(function*() {
      const { server, requests } = yield* digestServer({
        algorithm: "SHA-256",
        qop: "auth",
        username: "u",
        password: "p"
      })
      const pool = yield* Pool.make()
      const auth = Auth.digest("u", "p")
      expect((yield* auth.flow(get(`${server.url}/a`), poolSend(pool))).status).toBe(200)
      expect(requests()).toBe(2)
      expect((yield* auth.flow(get(`${server.url}/b`), poolSend(pool))).status).toBe(200)
      expect(requests()).toBe(3)
    }))
})
