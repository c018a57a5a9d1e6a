import { createRequire } from "node:module"
import * as net from "node:net"
import { domainToASCII } from "node:url"
import type * as Tldts from "tldts"
import { parseTarget } from "../core/url.js"

/** One cookie as the jar keeps it: the fields of RFC 6265 §5.3, minus the ones an HTTP client has no use for. */
interface StoredCookie {
  readonly name: string
  readonly value: string
  /** Canonical, lower-case, no leading dot. The empty string (only from `set` without a domain) means every host. */
  readonly domain: string
  readonly path: string
  /** Sent to `domain` exactly, not to its subdomains (§5.3 step 6: the response named no Domain). */
  readonly hostOnly: boolean
  readonly secure: boolean
  readonly httpOnly: boolean
  /** Epoch milliseconds; undefined for a session cookie, which lives as long as the jar. */
  readonly expires: number | undefined
  readonly sameSite: "strict" | "lax" | "none" | undefined
  readonly createdAt: number
}

/** A Set-Cookie line taken apart (§5.2), before the request URL decides whether and how it is stored (§5.3). */
interface ParsedSetCookie {
  readonly name: string
  readonly value: string
  /** The last Domain attribute, canonicalised; undefined when absent or empty (§5.2.3). */
  readonly domain: string | undefined
  /** The last Path attribute; undefined when absent or not starting with "/", meaning the default-path (§5.2.4). */
  readonly path: string | undefined
  /** Whether a Path attribute was present at all: the `__Host-` prefix demands one. */
  readonly pathAttribute: boolean
  /** Epoch milliseconds from the last valid Expires (§5.2.1). */
  readonly expires: number | undefined
  /** Epoch milliseconds from the last valid Max-Age (§5.2.2); it wins over Expires (§5.3 step 3). */
  readonly maxAge: number | undefined
  readonly secure: boolean
  readonly httpOnly: boolean
  readonly sameSite: "strict" | "lax" | "none" | undefined
}

interface Entry {
  readonly cookie: StoredCookie
  /** Insertion order. Several cookies stored from one response share a `createdAt`, and §5.4 wants them in order. */
  readonly seq: number
}

/** What a request URL tells the jar: the canonical host (§5.1.2), the path (§5.1.4) and how far it is trusted. */
interface Origin {
  readonly host: string
  readonly path: string
  readonly isIp: boolean
  /** https, or a loopback host, which browsers treat as potentially trustworthy (RFC 6265bis §5.7). */
  readonly trustworthy: boolean
}

// RFC 6265 §6.1 asks a user agent to hold at least 50 cookies per domain and 3000 in all; past these (Chrome's
// numbers) the oldest go, so a hostile server cannot grow the jar without bound.
const MAX_PER_DOMAIN = 180
const MAX_TOTAL = 3300
// RFC 6265bis §5.6: a name and value longer than this together, or an attribute value longer than 1024, is dropped.
const MAX_NAME_VALUE = 4096
const MAX_ATTRIBUTE_VALUE = 1024
// The ECMAScript time range; a Max-Age beyond it is clamped, one below zero means "expired already" (§5.2.2).
const LATEST = 8.64e15
const EARLIEST = -8.64e15

// What a Cookie header can carry: the field-value bytes of RFC 9110 §5.5 (tab, visible ASCII, obs-text), as the
// request encoder checks them. A name or value with anything else (control characters, which RFC 6265bis §5.6 also
// refuses, or a character above U+00FF) would make every later request to its domain fail, so it is never stored.
const UNSENDABLE = /[^\t\x20-\x7e\x80-\xff]/
// §5.2 strips only WSP (space and tab), not every Unicode space as String.prototype.trim would.
const WSP = /^[ \t]+|[ \t]+$/g
const trimWsp = (s: string): string => s.replace(WSP, "")
// §5.2 parses octets. A field line read off the wire is a Latin-1 string, one character per octet; one holding a
// character above U+00FF was decoded as UTF-8 by whoever handed it to `store` (a Transport, a test), so its name and
// value go back to those octets: the server gets back the bytes it sent, and the Cookie header can carry them.
const WIDE = /[^\x00-\xff]/
const octets = (s: string): string => (WIDE.test(s) ? Buffer.from(s, "utf8").toString("latin1") : s)

// `set` takes what `parseSetCookie` would keep, and what the header can carry as one pair: no ";", no "=" in a name.
const NAME_FORBIDDEN = /[^\t\x20-\x7e\x80-\xff]|[=;]/
const VALUE_FORBIDDEN = /[^\t\x20-\x7e\x80-\xff]|;/
const ALLOWED = `a name or value takes Latin-1 characters (U+0000-U+00FF) other than control characters and ";"`

/** Why `set` refuses this name and value, or undefined: the reasons `parseSetCookie` would ignore them for. */
const unsettable = (name: string, value: string): string | undefined => {
  if (name === "") return "the name is empty (RFC 6265 §5.2 ignores such cookies)"
  if (name.trim() !== name) return "the name starts or ends with white space"
  const inName = NAME_FORBIDDEN.exec(name)
  if (inName !== null) return `the name has ${describeChar(name, inName.index)}; ${ALLOWED} and no "="`
  const inValue = VALUE_FORBIDDEN.exec(value)
  if (inValue !== null) {
    return `the value has ${describeChar(value, inValue.index)}; ${ALLOWED} (percent-encode other text first)`
  }
  return undefined
}

const describeChar = (s: string, index: number): string =>
  `U+${s.codePointAt(index)!.toString(16).toUpperCase().padStart(4, "0")} at index ${index}`

/** The Cookie header of the sendable cookies among `found`, or undefined when none is. */
const sendableHeader = (found: ReadonlyArray<Entry>): string | undefined => {
  let header: string | undefined
  for (const { cookie } of found) {
    if (unsettable(cookie.name, cookie.value) !== undefined) continue
    header = header === undefined ? `${cookie.name}=${cookie.value}` : `${header}; ${cookie.name}=${cookie.value}`
  }
  return header
}

// §5.1.1 cookie-date grammar.
const DATE_DELIMITER = /[\x09\x20-\x2f\x3b-\x40\x5b-\x60\x7b-\x7e]+/
const TIME = /^(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\D|$)/
const DAY_OF_MONTH = /^(\d{1,2})(?:\D|$)/
const MONTH = /^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)/i
const YEAR = /^(\d{2,4})(?:\D|$)/
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

/**
 * The cookie-date algorithm of RFC 6265 §5.1.1: picks a time, day, month and year out of whatever order and
 * punctuation servers use, always in UTC. `Date.parse` is not used because it reads a date without a zone
 * ("Wed, 21 Oct 2015 07:28:00") as local time and accepts forms no browser does.
 */
export const parseCookieDate = (input: string): number | undefined => {
  let time: RegExpExecArray | undefined
  let day: number | undefined
  let month: number | undefined
  let year: number | undefined
  for (const token of input.split(DATE_DELIMITER)) {
    if (token === "") continue
    let match: RegExpExecArray | null
    if (time === undefined && (match = TIME.exec(token)) !== null) time = match
    else if (day === undefined && (match = DAY_OF_MONTH.exec(token)) !== null) day = Number(match[1])
    else if (month === undefined && (match = MONTH.exec(token)) !== null) {
      month = MONTHS.indexOf(match[1]!.toLowerCase())
    } else if (year === undefined && (match = YEAR.exec(token)) !== null) year = Number(match[1])
  }
  if (time === undefined || day === undefined || month === undefined || year === undefined) return undefined
  // Steps 3 and 4: two-digit years.
  if (year >= 70 && year <= 99) year += 1900
  else if (year >= 0 && year <= 69) year += 2000
  const hour = Number(time[1])
  const minute = Number(time[2])
  const second = Number(time[3])
  if (day < 1 || day > 31 || year < 1601 || hour > 23 || minute > 59 || second > 59) return undefined
  const ms = Date.UTC(year, month, day, hour, minute, second)
  // Step 6: a day that does not exist in its month (31 April) would roll over into the next one.
  if (new Date(ms).getUTCDate() !== day) return undefined
  return ms
}

const canonicalDomain = (value: string): string => {
  const lower = (value.startsWith(".") ? value.slice(1) : value).toLowerCase()
  // §5.1.2: hosts are compared in their A-label form, which is what the WHATWG URL parser gives us for the host.
  // An invalid IDN stays as it is and then fails to domain-match, so the cookie is ignored.
  return /[^\x00-\x7f]/.test(lower) ? domainToASCII(lower) || lower : lower
}

/**
 * Parses one Set-Cookie field line per RFC 6265 §5.2. Returns undefined for a line to ignore. Each field line is a
 * separate header, so a line is never split on commas (Expires dates contain them).
 */
export const parseSetCookie = (line: string, now: number): ParsedSetCookie | undefined => {
  const semicolon = line.indexOf(";")
  const pair = semicolon === -1 ? line : line.slice(0, semicolon)
  const equals = pair.indexOf("=")
  // §5.2 step 2: a pair without "=" ignores the line (RFC 6265bis would keep "foo" as a nameless cookie).
  if (equals === -1) return undefined
  const name = octets(trimWsp(pair.slice(0, equals)))
  const value = octets(trimWsp(pair.slice(equals + 1)))
  // §5.2 step 5: an empty name ignores the line ("=token" too, which RFC 6265bis would keep as a nameless cookie).
  if (name === "") return undefined
  if (name.length + value.length > MAX_NAME_VALUE || UNSENDABLE.test(name) || UNSENDABLE.test(value)) return undefined
  let domain: string | undefined
  let path: string | undefined
  let pathAttribute = false
  let expires: number | undefined
  let maxAge: number | undefined
  let secure = false
  let httpOnly = false
  let sameSite: ParsedSetCookie["sameSite"]
  if (semicolon !== -1) {
    // §5.2 steps 1-6 for each cookie-av; a repeated attribute is overwritten, since §5.3 uses the last one.
    for (const av of line.slice(semicolon + 1).split(";")) {
      const eq = av.indexOf("=")
      const key = trimWsp(eq === -1 ? av : av.slice(0, eq)).toLowerCase()
      const attribute = eq === -1 ? "" : trimWsp(av.slice(eq + 1))
      if (attribute.length > MAX_ATTRIBUTE_VALUE) continue
      switch (key) {
        case "expires": {
          const ms = parseCookieDate(attribute)
          if (ms !== undefined) expires = ms
          break
        }
        case "max-age": {
          // §5.2.2: a leading digit or "-", then digits only; anything else leaves the attribute out.
          if (!/^-?\d+$/.test(attribute)) break
          const seconds = Number(attribute)
          maxAge = seconds <= 0 ? EARLIEST : Math.min(now + seconds * 1000, LATEST)
          break
        }
        case "domain": {
          // §5.2.3: an empty Domain is ignored entirely (a bare "." is not empty and leaves a host-only cookie).
          if (attribute !== "") domain = canonicalDomain(attribute)
          break
        }
        case "path": {
          pathAttribute = true
          // §5.2.4: a Path not starting with "/" means the default-path, decided later from the request URL.
          path = attribute.startsWith("/") ? attribute : undefined
          break
        }
        case "secure": {
          secure = true
          break
        }
        case "httponly": {
          httpOnly = true
          break
        }
        case "samesite": {
          // RFC 6265bis §5.6.7: an unrecognised value leaves the default enforcement, which we record as undefined.
          const lower = attribute.toLowerCase()
          sameSite = lower === "strict" || lower === "lax" || lower === "none" ? lower : undefined
          break
        }
      }
    }
  }
  return {
    name,
    value,
    domain: domain === "" ? undefined : domain,
    path,
    pathAttribute,
    expires,
    maxAge,
    secure,
    httpOnly,
    sameSite
  }
}

// The public-suffix list (tldts) is about 290 KB of JavaScript: some 20 ms to require on an idle machine (an ESM
// import, through Node's CommonJS interop, takes three times that) and 0.9 MB of heap. It is required on the first
// Domain attribute that needs it, so a program that receives none never pays, and `store` stays synchronous, which
// an `await import()` would not allow.
const load = createRequire(import.meta.url)
let tldts: typeof Tldts | null | undefined
// Private suffixes (github.io, blogspot.com) too: each of their subdomains is a different owner's site.
const SUFFIX_OPTIONS = { allowPrivateDomains: true, extractHostname: false, validateHostname: false }
const TRAILING_DOTS = /\.+$/

/** §5.3 step 5: whether no single site owns `domain` (canonical, as `canonicalDomain` gives it), as with co.uk. */
const isPublicSuffix = (domain: string): boolean => {
  if (tldts === undefined) {
    try {
      tldts = load("tldts") as typeof Tldts
    } catch {
      tldts = null
    }
  }
  // The list reads "co.uk." and "co.uk.." as "co.uk", so they are compared without their trailing dots; an empty label
  // (".co.uk" from "Domain=..co.uk", "a..co.uk") names nothing registrable.
  const bare = domain.replace(TRAILING_DOTS, "")
  if (bare === "" || bare.startsWith(".") || bare.includes("..")) return true
  // Without the list (a broken install), every domain counts as a suffix: cookies stay host-only rather than leak.
  return tldts === null || tldts.getPublicSuffix(bare, SUFFIX_OPTIONS) === bare
}

/** §5.1.3 domain-match: identical, or a subdomain when the host is a name rather than an IP address. */
const domainMatch = (host: string, domain: string, hostIsIp: boolean): boolean =>
  host === domain ||
  (!hostIsIp && host.length > domain.length && host.endsWith(domain) && host[host.length - domain.length - 1] === ".")

/** §5.1.4 default-path: the request path up to, not including, its last "/"; "/" when that leaves nothing. */
const defaultPath = (requestPath: string): string => {
  if (!requestPath.startsWith("/")) return "/"
  const last = requestPath.lastIndexOf("/")
  return last === 0 ? "/" : requestPath.slice(0, last)
}

/** §5.1.4 path-match: "/docs" matches "/docs", "/docs/" and "/docs/web", but not "/docsets". */
const pathMatch = (requestPath: string, cookiePath: string): boolean =>
  requestPath === cookiePath ||
  (requestPath.startsWith(cookiePath) &&
    (cookiePath.endsWith("/") || requestPath.charCodeAt(cookiePath.length) === 47 /* "/" */))

const isLoopback = (host: string, isIp: boolean): boolean =>
  isIp
    ? host === "::1" || (net.isIPv4(host) && host.startsWith("127."))
    : host === "localhost" || host.endsWith(".localhost")

const originOf = (url: string | URL): Origin | undefined => {
  const target = parseTarget(url)
  if ("_tag" in target) return undefined
  const host = target.hostname
  const isIp = net.isIP(host) !== 0
  // The target's path carries the query; a path never holds a raw "?", so the first one starts the query.
  const query = target.path.indexOf("?")
  return {
    host,
    path: query === -1 ? target.path : target.path.slice(0, query),
    isIp,
    trustworthy: target.secure || isLoopback(host, isIp)
  }
}

const isExpired = (cookie: StoredCookie, now: number): boolean => cookie.expires !== undefined && cookie.expires <= now

const bySpecificity = (a: Entry, b: Entry): number => b.cookie.path.length - a.cookie.path.length || a.seq - b.seq

const bySeq = (a: Entry, b: Entry): number => a.seq - b.seq

/**
 * A cookie store following RFC 6265 §5.3 (storage) and §5.4 (the Cookie header), with the RFC 6265bis rules that
 * protect Secure cookies. Cookies are indexed by domain, so a request only looks at its host and the host's parent
 * domains; an empty jar answers `header` without parsing the URL or allocating.
 */
export class CookieJar {
  private readonly byDomain = new Map<string, Array<Entry>>()
  private count = 0
  private nextSeq = 0

  /** Store the cookies of a response's Set-Cookie field lines, received for `url`. `now` (epoch ms) for tests. */
  store(url: string | URL, setCookie: ReadonlyArray<string>, now?: number): void {
    if (setCookie.length === 0) return
    const origin = originOf(url)
    if (origin === undefined) return
    const at = now ?? Date.now()
    for (const line of setCookie) {
      const parsed = parseSetCookie(line, at)
      if (parsed !== undefined) this.receive(parsed, origin, at)
    }
  }

  /** The Cookie header value for a request to `url`, or undefined when no cookie applies. */
  header(url: string | URL, now?: number): string | undefined {
    // The client asks on every request; most jars are empty, and this answer must cost nothing.
    if (this.count === 0) return undefined
    const origin = originOf(url)
    if (origin === undefined) return undefined
    const at = now ?? Date.now()
    const found: Array<Entry> = []
    const host = origin.host
    this.collect(host, origin, at, found)
    // §5.4 step 1: domain cookies of every parent domain; an IP address has no parents (§5.1.3).
    if (!origin.isIp) {
      let dot = host.indexOf(".")
      while (dot !== -1 && dot < host.length - 1) {
        this.collect(host.slice(dot + 1), origin, at, found)
        dot = host.indexOf(".", dot + 1)
      }
    }
    this.collect("", origin, at, found)
    if (found.length === 0) return undefined
    // §5.4 step 2: longer paths first, then earlier creation.
    found.sort(bySpecificity)
    let header = ""
    for (let i = 0; i < found.length; i++) {
      const cookie = found[i]!.cookie
      if (i > 0) header += "; "
      header += `${cookie.name}=${cookie.value}`
    }
    // Nothing unsendable is stored (parseSetCookie and set refuse it), but toArray hands out the stored objects: one
    // altered there must cost its own cookie, never every later request to its domain.
    return UNSENDABLE.test(header) ? sendableHeader(found) : header
  }

  /**
   * Set a cookie by hand. Without a `domain` it is sent to every host (as httpx's `Cookies.set`); with one, to that
   * domain and its subdomains. Throws a TypeError, and stores nothing, for a name or value that a Cookie header
   * cannot carry: an empty name, a character outside Latin-1, a control character, ";", or "=" in the name.
   */
  set(
    name: string,
    value: string,
    options?: { domain?: string; path?: string; secure?: boolean; expires?: number }
  ): void {
    const problem = unsettable(name, value)
    if (problem !== undefined) {
      // The value may be a secret (a session token), so the message names the character, never the value.
      throw new TypeError(`CookieJar.set: the cookie ${JSON.stringify(name)} cannot go in a Cookie header: ${problem}`)
    }
    const path = options?.path
    this.put(
      {
        name,
        value,
        domain: options?.domain === undefined ? "" : canonicalDomain(options.domain),
        path: path !== undefined && path.startsWith("/") ? path : "/",
        hostOnly: false,
        secure: options?.secure ?? false,
        httpOnly: false,
        expires: options?.expires,
        sameSite: undefined
      },
      Date.now()
    )
  }

  /** Remove the cookies called `name`, only those of `domain` and `path` when given. */
  delete(name: string, domain?: string, path?: string): void {
    const key = domain === undefined ? undefined : canonicalDomain(domain)
    for (const [bucketDomain, bucket] of this.byDomain) {
      if (key !== undefined && bucketDomain !== key) continue
      for (let i = bucket.length - 1; i >= 0; i--) {
        const cookie = bucket[i]!.cookie
        if (cookie.name === name && (path === undefined || cookie.path === path)) this.removeAt(bucketDomain, bucket, i)
      }
    }
  }

  clear(): void {
    this.byDomain.clear()
    this.count = 0
  }

  /** The number of cookies that have not expired. */
  get size(): number {
    this.purge(Date.now())
    return this.count
  }

  /** The live cookies, oldest first. */
  toArray(now?: number): ReadonlyArray<StoredCookie> {
    this.purge(now ?? Date.now())
    const all: Array<Entry> = []
    for (const bucket of this.byDomain.values()) all.push(...bucket)
    return all.sort(bySeq).map((entry) => entry.cookie)
  }

  /** True when the jar holds nothing (expired cookies not yet purged count as held); the client then skips cookies. */
  get isEmpty(): boolean {
    return this.count === 0
  }

  /** §5.3: decide whether a parsed cookie may be stored for this origin, and in what form. */
  private receive(parsed: ParsedSetCookie, origin: Origin, now: number): void {
    let domain: string
    let hostOnly: boolean
    if (parsed.domain === undefined) {
      // §5.3 step 6: no Domain attribute, so the cookie goes back to this host only.
      domain = origin.host
      hostOnly = true
    } else {
      // §5.3 step 6: a Domain must domain-match the host. Checked before step 5, whose answer is the same for a
      // Domain that fails here (ignored), so a foreign Domain never loads the public-suffix list.
      if (!domainMatch(origin.host, parsed.domain, origin.isIp)) return
      domain = parsed.domain
      // §5.3 step 5: a public suffix is honoured only when it is the host itself, and then as host-only. An IP
      // address has no subdomains (§5.1.3), so a Domain naming one is host-only as well.
      hostOnly = origin.isIp || isPublicSuffix(domain)
      if (hostOnly && domain !== origin.host) return
    }
    const path = parsed.path ?? defaultPath(origin.path)
    // RFC 6265bis §5.7 step 8: only a secure (or loopback) origin may set a Secure cookie.
    if (parsed.secure && !origin.trustworthy) return
    // RFC 6265bis §4.1.3: the prefixes promise a server that the cookie came from a secure origin, and for
    // `__Host-`, that no sibling or parent domain set it.
    const lowerName = parsed.name.toLowerCase()
    if (lowerName.startsWith("__secure-") && !parsed.secure) return
    const hostPrefixBroken = !parsed.secure || !hostOnly || !parsed.pathAttribute || path !== "/"
    if (lowerName.startsWith("__host-") && hostPrefixBroken) return
    // RFC 6265bis §5.7 step 16: an insecure origin may not shadow or overwrite a Secure cookie of the same name.
    if (!parsed.secure && !origin.trustworthy && this.shadowsSecure(parsed.name, domain, path)) return
    this.put(
      {
        name: parsed.name,
        value: parsed.value,
        domain,
        path,
        hostOnly,
        secure: parsed.secure,
        httpOnly: parsed.httpOnly,
        // §5.3 step 3: Max-Age takes precedence over Expires.
        expires: parsed.maxAge ?? parsed.expires,
        sameSite: parsed.sameSite
      },
      now
    )
  }

  private shadowsSecure(name: string, domain: string, path: string): boolean {
    for (const [bucketDomain, bucket] of this.byDomain) {
      if (!domainMatch(domain, bucketDomain, false) && !domainMatch(bucketDomain, domain, false)) continue
      for (const { cookie } of bucket) {
        if (cookie.secure && cookie.name === name && pathMatch(path, cookie.path)) return true
      }
    }
    return false
  }

  /** §5.3 steps 11-12: insert, replace (keeping the creation time) or, for an expired cookie, remove. */
  private put(cookie: Omit<StoredCookie, "createdAt">, now: number): void {
    let bucket = this.byDomain.get(cookie.domain)
    const index = bucket === undefined
      ? -1
      : bucket.findIndex((e) => e.cookie.name === cookie.name && e.cookie.path === cookie.path)
    if (cookie.expires !== undefined && cookie.expires <= now) {
      // A server deletes a cookie by sending it again already expired (Max-Age=0 or a past Expires).
      if (index !== -1) this.removeAt(cookie.domain, bucket!, index)
      return
    }
    if (index !== -1) {
      const old = bucket![index]!
      bucket![index] = { cookie: { ...cookie, createdAt: old.cookie.createdAt }, seq: old.seq }
      return
    }
    if (bucket === undefined) {
      bucket = []
      this.byDomain.set(cookie.domain, bucket)
    }
    bucket.push({ cookie: { ...cookie, createdAt: now }, seq: this.nextSeq++ })
    this.count++
    if (bucket.length > MAX_PER_DOMAIN) this.evict(cookie.domain, bucket, now)
    if (this.count > MAX_TOTAL) {
      this.purge(now)
      while (this.count > MAX_TOTAL) this.evictOldest()
    }
  }

  /** §5.3 step 12: expired cookies go first, then the oldest of the domain. */
  private evict(domain: string, bucket: Array<Entry>, now: number): void {
    for (let i = bucket.length - 1; i >= 0; i--) {
      if (isExpired(bucket[i]!.cookie, now)) this.removeAt(domain, bucket, i)
    }
    // Entries are appended in insertion order and replaced in place, so the front holds the oldest.
    while (bucket.length > MAX_PER_DOMAIN) this.removeAt(domain, bucket, 0)
  }

  private evictOldest(): void {
    let oldest: { domain: string; bucket: Array<Entry> } | undefined
    let seq = Infinity
    for (const [domain, bucket] of this.byDomain) {
      if (bucket[0]!.seq < seq) {
        seq = bucket[0]!.seq
        oldest = { domain, bucket }
      }
    }
    if (oldest !== undefined) this.removeAt(oldest.domain, oldest.bucket, 0)
  }

  private collect(domain: string, origin: Origin, now: number, found: Array<Entry>): void {
    const bucket = this.byDomain.get(domain)
    if (bucket === undefined) return
    for (let i = bucket.length - 1; i >= 0; i--) {
      const entry = bucket[i]!
      const cookie = entry.cookie
      if (isExpired(cookie, now)) {
        // §5.3: expired cookies are removed whenever we come across them, not on a timer.
        this.removeAt(domain, bucket, i)
        continue
      }
      if (cookie.hostOnly && domain !== origin.host) continue
      if (cookie.secure && !origin.trustworthy) continue
      if (!pathMatch(origin.path, cookie.path)) continue
      found.push(entry)
    }
  }

  private purge(now: number): void {
    for (const [domain, bucket] of this.byDomain) {
      for (let i = bucket.length - 1; i >= 0; i--) {
        if (isExpired(bucket[i]!.cookie, now)) this.removeAt(domain, bucket, i)
      }
    }
  }

  private removeAt(domain: string, bucket: Array<Entry>, index: number): void {
    bucket.splice(index, 1)
    this.count--
    if (bucket.length === 0) this.byDomain.delete(domain)
  }
}
