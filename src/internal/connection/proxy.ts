/**
 * Proxies as ways of opening a stream (httpcore's http_proxy / socks_proxy): an HTTP CONNECT tunnel, an HTTP
 * forward proxy for plain-http targets, and SOCKS5 (RFC 1928, with RFC 1929 username/password). Plain event-driven
 * code; the connection drives it and owns every socket it makes.
 */
import * as net from "node:net"
import { percentDecode } from "../core/credentials.js"
import { authorityProblem, CONTROL_CHARACTER, lacksScheme, parsedProblem, printableUrl } from "../core/url.js"
import type { Target } from "../core/url.js"

export interface ProxyConfig {
  readonly kind: "http" | "socks5"
  readonly host: string
  readonly port: number
  readonly username: string | undefined
  readonly password: string | undefined
  /** the proxy URL without credentials, for messages */
  readonly display: string
}

/** Which proxy each request goes through: per scheme, with NO_PROXY exceptions. */
export interface ProxyRoutes {
  readonly http: ProxyConfig | undefined
  readonly https: ProxyConfig | undefined
  readonly noProxy: ReadonlyArray<NoProxyRule>
}

export type ProxyInput =
  | string
  | URL
  | {
    readonly http?: string | URL | undefined
    readonly https?: string | URL | undefined
    /**
     * comma-separated hosts, domains (".example.com" or "example.com" match subdomains), IPs, CIDR ranges
     * ("10.0.0.0/8", "::1/128"), or "*"
     */
    readonly noProxy?: string | undefined
  }

/** A proxy URL's user or password, percent-decoded; a `%` that starts no escape stays as it is (as curl keeps it). */
const decodeUserinfo = (text: string): string => Buffer.from(percentDecode(text)).toString("utf8")

/**
 * The proxy a URL names, or why it names none, in a message that says where the URL came from (`source`: the
 * option or the environment variable) and shows it without credentials.
 */
const parseProxy = (input: string | URL, source = "proxy"): ProxyConfig | string => {
  const raw = String(input)
  const shown = printableUrl(raw)
  if (CONTROL_CHARACTER.test(raw)) {
    return `${source} ${shown} contains a control character (CR, LF, TAB or NUL); remove it`
  }
  if (lacksScheme(raw)) return `${source} ${shown} has no scheme: add one, as in ${printableUrl("http://" + raw)}`
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    const why = authorityProblem(raw)
    if (why !== undefined) return `${source} ${shown} is not valid: ${why}`
    return `${source} ${shown} is not a URL; expected "http://host:port" or "socks5://host:port"`
  }
  const scheme = url.protocol.slice(0, -1)
  const kind = scheme === "http" ? "http" : scheme === "socks5" || scheme === "socks5h" ? "socks5" : undefined
  if (kind === undefined) {
    return `${source} ${shown} uses the scheme "${scheme}", which httpfx cannot speak to a proxy: use http:// ` +
      `(CONNECT tunnels and forwarding) or socks5:// (or socks5h://)`
  }
  if (url.hostname === "") return `${source} ${shown} has no host; expected "${scheme}://host:port"`
  const unusable = parsedProblem(raw, url)
  if (unusable !== undefined) return `${source} ${shown} is not valid: ${unusable}`
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname
  // Without a port, an http proxy is on the scheme's own port as the URL says (httpx, requests; curl alone guesses
  // 1080), a SOCKS proxy on 1080 (RFC 1928 §3).
  const port = url.port === "" ? (kind === "http" ? 80 : 1080) : Number(url.port)
  return {
    kind,
    host,
    port,
    username: url.username === "" ? undefined : decodeUserinfo(url.username),
    password: url.password === "" ? undefined : decodeUserinfo(url.password),
    display: `${scheme}://${url.host}`
  }
}

/** Resolve the `proxy` option; a string or URL proxies every scheme. */
export const routesFrom = (input: ProxyInput): ProxyRoutes | string => {
  if (typeof input === "string" || input instanceof URL) {
    const proxy = parseProxy(input)
    return typeof proxy === "string" ? proxy : { http: proxy, https: proxy, noProxy: [] }
  }
  const http = input.http === undefined ? undefined : parseProxy(input.http, "proxy.http")
  if (typeof http === "string") return http
  const https = input.https === undefined ? undefined : parseProxy(input.https, "proxy.https")
  if (typeof https === "string") return https
  return { http, https, noProxy: parseNoProxy(input.noProxy) }
}

/**
 * HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY (either case, lower case first as curl reads them), or why one of
 * them cannot be used (its message names the variable). Like curl and httpx, HTTP_PROXY in upper case is ignored
 * when running as a CGI script (REQUEST_METHOD set), where it could come from a request's "Proxy:" header (httpoxy).
 */
export const routesFromEnv = (env: NodeJS.ProcessEnv): ProxyRoutes | string | undefined => {
  const nameOf = (name: string): string | undefined => {
    if (env[name.toLowerCase()]) return name.toLowerCase()
    if (name === "HTTP_PROXY" && env.REQUEST_METHOD) return undefined
    return env[name] ? name : undefined
  }
  const all = nameOf("ALL_PROXY")
  const httpName = nameOf("HTTP_PROXY") ?? all
  const httpsName = nameOf("HTTPS_PROXY") ?? all
  if (httpName === undefined && httpsName === undefined) return undefined
  const parse = (name: string | undefined) =>
    name === undefined ? undefined : parseProxy(env[name]!, `the environment variable ${name}`)
  const http = parse(httpName)
  if (typeof http === "string") return http
  const https = parse(httpsName)
  if (typeof https === "string") return https
  const noProxy = nameOf("NO_PROXY")
  return { http, https, noProxy: parseNoProxy(noProxy === undefined ? undefined : env[noProxy]) }
}

/**
 * One NO_PROXY entry: `*`; a host or IP (a name also matches its subdomains); `.domain` (subdomains, and the domain
 * itself); `[v6]`; any of these with `:port`; or a CIDR range, which matches IP literals only, as curl does (the
 * name is not resolved to find out).
 */
export interface NoProxyRule {
  readonly pattern: string
  readonly port: number | undefined
  /** the addresses of a CIDR range */
  readonly range: net.BlockList | undefined
}

const ANY: NoProxyRule = { pattern: "*", port: undefined, range: undefined }

const parseNoProxy = (value: string | undefined): ReadonlyArray<NoProxyRule> => {
  const rules: Array<NoProxyRule> = []
  if (value === undefined) return rules
  for (const item of value.split(",")) {
    const entry = item.trim().toLowerCase()
    if (entry === "") continue
    if (entry === "*") return [ANY]
    const rule = entry.includes("/") ? rangeRule(entry) : hostRule(entry)
    if (rule !== undefined) rules.push(rule)
  }
  return rules
}

/** `10.0.0.0/8`, `::1/128`, `[::1]/128`; an entry that is not a range (a bad prefix length) matches nothing. */
const rangeRule = (entry: string): NoProxyRule | undefined => {
  const slash = entry.indexOf("/")
  let address = entry.slice(0, slash)
  if (address.startsWith("[") && address.endsWith("]")) address = address.slice(1, -1)
  const bits = entry.slice(slash + 1)
  const family = net.isIP(address)
  if (family === 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)) return undefined
  const range = new net.BlockList()
  range.addSubnet(address, Number(bits), family === 4 ? "ipv4" : "ipv6")
  return { pattern: entry, port: undefined, range }
}

const hostRule = (entry: string): NoProxyRule => {
  let pattern = entry
  let port: number | undefined
  const colon = pattern.lastIndexOf(":")
  if (colon > 0 && !pattern.includes("]") && pattern.indexOf(":") === colon) {
    port = Number(pattern.slice(colon + 1))
    pattern = pattern.slice(0, colon)
  } else if (pattern.startsWith("[") && /\]:\d+$/.test(pattern)) {
    port = Number(pattern.slice(pattern.lastIndexOf(":") + 1))
    pattern = pattern.slice(0, pattern.lastIndexOf(":"))
  }
  if (pattern.startsWith("[") && pattern.endsWith("]")) pattern = pattern.slice(1, -1)
  if (pattern.startsWith("*.")) pattern = pattern.slice(1)
  return { pattern, port, range: undefined }
}

/** Whether NO_PROXY exempts the target. */
const bypasses = (noProxy: ReadonlyArray<NoProxyRule>, target: Target): boolean => {
  if (noProxy.length === 0) return false
  const host = target.hostname.toLowerCase()
  for (const rule of noProxy) {
    if (rule === ANY) return true
    if (rule.port !== undefined && rule.port !== target.port) continue
    const pattern = rule.pattern
    if (rule.range !== undefined) {
      const family = net.isIP(host)
      if (family !== 0 && rule.range.check(host, family === 4 ? "ipv4" : "ipv6")) return true
    } else if (pattern.startsWith(".")) {
      if (host.endsWith(pattern) || host === pattern.slice(1)) return true
    } else if (host === pattern || (net.isIP(host) === 0 && host.endsWith("." + pattern))) {
      return true
    }
  }
  return false
}

export const proxyFor = (routes: ProxyRoutes | undefined, target: Target): ProxyConfig | undefined => {
  if (routes === undefined) return undefined
  const proxy = target.secure ? routes.https : routes.http
  return proxy === undefined || bypasses(routes.noProxy, target) ? undefined : proxy
}

/** The `Proxy-Authorization` field line for credentials in the proxy URL (RFC 9110 §11.7.1), or "". */
export const proxyAuthorization = (proxy: ProxyConfig): string =>
  proxy.username === undefined
    ? ""
    : "Proxy-Authorization: Basic " +
      Buffer.from(`${proxy.username}:${proxy.password ?? ""}`, "utf8").toString("base64") + "\r\n"

/** A failure of the proxy itself (as opposed to the network): becomes a ProxyError. */
class ProxyFailure extends Error {}

/**
 * Our own code threw while handling the proxy's reply (the handshakes run in socket callbacks, outside any fiber,
 * where it must not escape): the handshake fails, keeping what was thrown as the cause.
 */
const internalFailure = (proxy: ProxyConfig, error: unknown): ProxyFailure =>
  new ProxyFailure(
    `the handshake with the proxy ${proxy.display} failed on an internal error ` +
      `(${error instanceof Error ? `${error.name}: ${error.message}` : String(error)})`,
    { cause: error }
  )

const MAX_PROXY_REPLY = 16 * 1024

/**
 * Ask an HTTP proxy for a tunnel (RFC 9110 §9.3.6) on a connected socket, and call `done` once the proxy has
 * answered: with nothing when the tunnel is open, or with why not.
 */
export const httpTunnel = (
  socket: net.Socket,
  target: Target,
  proxy: ProxyConfig,
  done: (error?: ProxyFailure) => void
): void => {
  const authority = net.isIPv6(target.hostname) ? `[${target.hostname}]:${target.port}` : `${target.hostname}:${target.port}`
  let received: Buffer = Buffer.alloc(0)
  let finished = false
  const onData = (chunk: Buffer) => {
    try {
      reply(chunk)
    } catch (error) {
      finish(internalFailure(proxy, error))
    }
  }
  const reply = (chunk: Buffer) => {
    received = Buffer.concat([received, chunk])
    const end = received.indexOf("\r\n\r\n")
    if (end < 0) {
      if (received.length > MAX_PROXY_REPLY) finish(new ProxyFailure(`the proxy ${proxy.display} sent an oversized reply`))
      return
    }
    const statusLine = received.toString("latin1", 0, received.indexOf("\r\n"))
    const match = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine)
    if (match === null) {
      return finish(new ProxyFailure(`the proxy ${proxy.display} answered CONNECT with ${JSON.stringify(statusLine.slice(0, 60))}`))
    }
    const status = Number(match[1])
    if (status < 200 || status > 299) {
      const hint = status === 407 ? " (it wants credentials: put them in the proxy URL, http://user:pass@host:port)" : ""
      return finish(new ProxyFailure(
        `the proxy ${proxy.display} refused to open a tunnel to ${authority}: ${status} ${match[2] ?? ""}${hint}`.trim()
      ))
    }
    if (end + 4 < received.length) {
      // Bytes after a 2xx CONNECT reply belong to the tunnel; we have not spoken yet, so none may come.
      return finish(new ProxyFailure(`the proxy ${proxy.display} sent data before the tunnel was used`))
    }
    finish()
  }
  const onEnd = () => finish(new ProxyFailure(`the proxy ${proxy.display} closed the connection during CONNECT`))
  const finish = (error?: ProxyFailure) => {
    if (finished) return
    finished = true
    socket.removeListener("data", onData)
    socket.removeListener("end", onEnd)
    done(error)
  }
  socket.on("data", onData)
  socket.on("end", onEnd)
  socket.write(
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${proxyAuthorization(proxy)}\r\n`,
    "latin1"
  )
}

const SOCKS_REPLIES: Record<number, string> = {
  1: "general SOCKS server failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported"
}

/** The SOCKS5 handshake (RFC 1928 §3–6, RFC 1929) on a connected socket, asking for a stream to the target. */
export const socks5Handshake = (
  socket: net.Socket,
  target: Target,
  proxy: ProxyConfig,
  done: (error?: ProxyFailure) => void
): void => {
  const fail = (reason: string) => finish(new ProxyFailure(`the SOCKS5 proxy ${proxy.display} ${reason}`))
  let phase: "method" | "auth" | "connect" = "method"
  let received: Buffer = Buffer.alloc(0)
  const hasAuth = proxy.username !== undefined
  const sendConnect = () => {
    phase = "connect"
    const ipVersion = net.isIP(target.hostname)
    let address: Buffer
    if (ipVersion === 4) {
      address = Buffer.from([1, ...target.hostname.split(".").map(Number)])
    } else if (ipVersion === 6) {
      const bytes = Buffer.alloc(17)
      bytes[0] = 4
      const groups = expandIpv6(target.hostname)
      for (let i = 0; i < 8; i++) bytes.writeUInt16BE(groups[i]!, 1 + i * 2)
      address = bytes
    } else {
      // A name, resolved by the proxy (what curl calls socks5h): the client may not be able to resolve it at all.
      const name = Buffer.from(target.hostname, "utf8")
      if (name.length > 255) return fail("cannot take a host name longer than 255 bytes")
      address = Buffer.concat([Buffer.from([3, name.length]), name])
    }
    const port = Buffer.alloc(2)
    port.writeUInt16BE(target.port)
    socket.write(Buffer.concat([Buffer.from([5, 1, 0]), address, port]))
  }
  let finished = false
  const onData = (chunk: Buffer) => {
    try {
      reply(chunk)
    } catch (error) {
      finish(internalFailure(proxy, error))
    }
  }
  const reply = (chunk: Buffer) => {
    received = received.length === 0 ? chunk : Buffer.concat([received, chunk])
    while (true) {
      if (phase === "method") {
        if (received.length < 2) return
        if (received[0] !== 5) return fail("did not answer as SOCKS version 5")
        const method = received[1]
        received = received.subarray(2)
        if (method === 0) {
          sendConnect()
        } else if (method === 2 && hasAuth) {
          phase = "auth"
          const user = Buffer.from(proxy.username!, "utf8")
          const pass = Buffer.from(proxy.password ?? "", "utf8")
          if (user.length > 255 || pass.length > 255) return fail("cannot take credentials longer than 255 bytes")
          socket.write(Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]))
        } else {
          return fail(
            hasAuth ? "accepts none of our authentication methods" : "requires credentials: use socks5://user:pass@host:port"
          )
        }
      } else if (phase === "auth") {
        if (received.length < 2) return
        if (received[1] !== 0) return fail("rejected the username and password")
        received = received.subarray(2)
        sendConnect()
      } else {
        if (received.length < 5) return
        if (received[0] !== 5) return fail("sent a malformed reply")
        if (received[1] !== 0) {
          return fail(`could not reach ${target.hostname}:${target.port}: ${SOCKS_REPLIES[received[1]!] ?? `error ${received[1]}`}`)
        }
        const type = received[3]
        const length = type === 1 ? 10 : type === 4 ? 22 : type === 3 ? 7 + received[4]! : -1
        if (length < 0) return fail("sent a reply with an unknown address type")
        if (received.length < length) return
        if (received.length > length) return fail("sent data before the stream was used")
        return finish()
      }
    }
  }
  const onEnd = () => fail("closed the connection during the handshake")
  const finish = (error?: ProxyFailure) => {
    if (finished) return
    finished = true
    socket.removeListener("data", onData)
    socket.removeListener("end", onEnd)
    done(error)
  }
  socket.on("data", onData)
  socket.on("end", onEnd)
  socket.write(Buffer.from(hasAuth ? [5, 2, 0, 2] : [5, 1, 0]))
}

const expandIpv6 = (address: string): Array<number> => {
  const [head, tail] = address.split("::") as [string, string | undefined]
  const parse = (part: string | undefined) => (part === undefined || part === "" ? [] : part.split(":").map((g) => parseInt(g, 16)))
  const left = parse(head)
  const right = parse(tail)
  return [...left, ...new Array(8 - left.length - right.length).fill(0), ...right]
}
