/**
 * The network layer: open a TCP, TLS or Unix-socket stream. Nothing here knows about HTTP.
 */
import * as net from "node:net"
import type * as tls from "node:tls"
import * as builtins from "../core/builtins.js"
import type { Target } from "../core/url.js"
import type { ReadHandover, ReadSink } from "../exchange/exchange.js"
import { httpTunnel, socks5Handshake } from "./proxy.js"
import type { ProxyConfig } from "./proxy.js"

export interface TlsOptions {
  readonly ca?: string | Buffer | ReadonlyArray<string | Buffer> | undefined
  readonly cert?: string | Buffer | ReadonlyArray<string | Buffer> | undefined
  readonly key?: string | Buffer | ReadonlyArray<string | Buffer> | undefined
  readonly rejectUnauthorized?: boolean | undefined
  readonly servername?: string | undefined
}

export interface NetworkOptions {
  readonly uds?: string | undefined
  readonly localAddress?: string | undefined
  readonly tls?: TlsOptions | undefined
  /** ALPN protocols to offer, most preferred first. */
  readonly alpn: ReadonlyArray<string>
  /**
   * Through an HTTP proxy, tunnel (CONNECT) to a plain http target too, rather than send it requests in absolute-form:
   * for a connection that will switch protocols, which a forward proxy would not carry.
   */
  readonly tunnel?: boolean | undefined
}

/** A stream being opened; `abort` destroys whatever sockets exist so far. */
export interface Opening {
  abort(): void
}

export type OpenFailure = { readonly phase: "connect" | "proxy"; readonly error: unknown }

/**
 * When an opening passed each step, on `performance.now()`'s clock (0: not passed): the host name resolved (Node's
 * "lookup", which an IP literal or a Unix socket never emits), the stream connected (through a proxy: once its
 * tunnel or SOCKS5 handshake is done, or on connect for a forward proxy), TLS done. Written here, read by the
 * connect step when the stream is open.
 */
export interface OpenMarks {
  lookupAt: number
  connectAt: number
  secureAt: number
}

/**
 * Reads into memory the caller chooses: `buffer` is asked for the memory of the next read (once before the first,
 * then after every read), and `callback` gets the bytes, valid until that memory is read into again. Return false
 * from `callback` to stop reading (as `pause`).
 */
interface ReadInto {
  readonly buffer: () => Buffer
  readonly callback: (nread: number, bytes: Buffer) => boolean
}

/**
 * `ReadInto` for a socket opened before the connection that will read it exists (Node takes `onread` when the
 * socket is made): it passes each call on to `sink` (the connection, then whatever an upgrade hands the socket to),
 * once set; until then reads land in the shared buffer.
 */
export class ReadRelay implements ReadInto, ReadHandover {
  sink: ReadSink | undefined = undefined
  readonly buffer = (): Buffer => this.sink === undefined ? sharedReadBuffer() : this.sink.nextReadBuffer()
  readonly callback = (nread: number, bytes: Buffer): boolean =>
    this.sink === undefined ? false : this.sink.onRead(nread, bytes)
}

/** The size of every read buffer: a read takes as much as the kernel holds, up to this, not at most 64 KiB. */
export const READ_SIZE = 256 * 1024
let shared: Buffer | undefined

/**
 * The read buffer any number of sockets may share. One read is handled to the end before the next one starts
 * (Node runs them one at a time on this thread), so one buffer serves them all, with no allocation per read, as
 * long as nobody keeps a view into it past the read's callback.
 */
export const sharedReadBuffer = (): Buffer => (shared ??= Buffer.allocUnsafeSlow(READ_SIZE))

const tlsOptionsFor = (target: Target, options: NetworkOptions): tls.ConnectionOptions => {
  const tlsOptions = options.tls
  const base: tls.ConnectionOptions = {
    ALPNProtocols: options.alpn as Array<string>,
    rejectUnauthorized: tlsOptions?.rejectUnauthorized ?? true
  }
  const servername = tlsOptions?.servername ?? target.servername
  if (servername !== undefined) base.servername = servername
  if (tlsOptions?.ca !== undefined) base.ca = tlsOptions.ca as tls.ConnectionOptions["ca"]
  if (tlsOptions?.cert !== undefined) base.cert = tlsOptions.cert as tls.ConnectionOptions["cert"]
  if (tlsOptions?.key !== undefined) base.key = tlsOptions.key as tls.ConnectionOptions["key"]
  return base
}

/**
 * Open a stream to the target — directly, through a Unix socket, or through a proxy — and TLS on top for https.
 * Exactly one of `onOpen` and `onFail` is called, unless the opening is aborted first.
 *
 * With `onRead`, a direct plain (TCP or Unix) socket delivers its bytes there instead of as "data" events; other
 * sockets ignore it and emit "data" as usual.
 *
 * Nothing may throw out of it, nor out of the socket callbacks it sets up (they run outside any fiber): what is
 * thrown fails the opening, in the phase it happened in, with what was thrown as the failure's error.
 */
export const openSocket = (
  target: Target,
  options: NetworkOptions,
  proxy: ProxyConfig | undefined,
  onOpen: (socket: net.Socket) => void,
  onFail: (failure: OpenFailure) => void,
  marks: OpenMarks,
  onRead?: ReadInto
): Opening => {
  const sockets: Array<net.Socket> = []
  let settled = false
  // Node emits "lookup" once per address it resolved (several with autoSelectFamily): the first is the end of DNS.
  const looked = () => {
    marks.lookupAt = performance.now()
  }
  const connected = () => {
    marks.connectAt = performance.now()
  }
  const fail = (phase: OpenFailure["phase"]) => (error: unknown) => {
    if (settled) return
    settled = true
    for (const socket of sockets) destroyQuietly(socket)
    onFail({ phase, error })
  }
  const open = (socket: net.Socket) => {
    if (settled) return
    settled = true
    socket.removeAllListeners("error")
    onOpen(socket)
  }
  const track = <S extends net.Socket>(socket: S, phase: OpenFailure["phase"]): S => {
    sockets.push(socket)
    socket.on("error", fail(phase))
    return socket
  }
  /** TLS over an already connected stream (a tunnel), or the stream itself for http. */
  const finish = (raw: net.Socket) => {
    try {
      connected()
      raw.removeAllListeners("error")
      if (!target.secure) return open(raw)
      raw.on("error", fail("connect"))
      const secure = track(builtins.tls().connect({ ...tlsOptionsFor(target, options), socket: raw }), "connect")
      secure.once("secureConnect", () => {
        marks.secureAt = performance.now()
        raw.removeAllListeners("error")
        open(secure)
      })
    } catch (error) {
      fail("connect")(error)
    }
  }

  try {
    if (proxy !== undefined) {
      const connectOptions: net.TcpNetConnectOpts = { host: proxy.host, port: proxy.port, noDelay: true }
      if (options.localAddress !== undefined) connectOptions.localAddress = options.localAddress
      const raw = track(net.connect(connectOptions), "connect")
      raw.once("lookup", looked)
      raw.once("connect", () => {
        try {
          connected()
          if (proxy.kind === "socks5") {
            socks5Handshake(raw, target, proxy, (error) => (error === undefined ? finish(raw) : fail("proxy")(error)))
          } else if (target.secure || options.tunnel === true) {
            httpTunnel(raw, target, proxy, (error) => (error === undefined ? finish(raw) : fail("proxy")(error)))
          } else {
            // A forward proxy: requests go to it in absolute-form (RFC 9112 §3.2.2) on this very stream.
            open(raw)
          }
        } catch (error) {
          fail("proxy")(error)
        }
      })
    } else if (target.secure) {
      const base = tlsOptionsFor(target, options)
      if (options.uds !== undefined) {
        base.path = options.uds
      } else {
        base.host = target.hostname
        base.port = target.port
        if (options.localAddress !== undefined) (base as net.TcpNetConnectOpts).localAddress = options.localAddress
      }
      const socket = track(builtins.tls().connect(base), "connect")
      socket.setNoDelay(true)
      socket.once("lookup", looked)
      socket.once("connect", connected)
      socket.once("secureConnect", () => {
        marks.secureAt = performance.now()
        open(socket)
      })
    } else {
      let socket: net.Socket
      if (options.uds !== undefined) {
        socket = net.connect(onRead === undefined ? { path: options.uds } : { path: options.uds, onread: onRead })
      } else {
        const tcp: net.TcpNetConnectOpts = { host: target.hostname, port: target.port, noDelay: true }
        if (options.localAddress !== undefined) tcp.localAddress = options.localAddress
        if (onRead !== undefined) tcp.onread = onRead
        socket = net.connect(tcp)
      }
      track(socket, "connect").once("lookup", looked).once("connect", () => {
        connected()
        open(socket)
      })
    }
  } catch (error) {
    // Thrown before any callback could run (options Node refuses, say): a failure all the same, reported after this
    // returns, as every other outcome is.
    process.nextTick(fail("connect"), error)
  }
  return {
    abort: () => {
      if (settled) return
      settled = true
      for (const socket of sockets) destroyQuietly(socket)
    }
  }
}

const noop = () => {}

/** Destroy a socket whose errors nobody listens to any more, without letting a late one become uncaught. */
export const destroyQuietly = (socket: net.Socket): void => {
  socket.removeAllListeners()
  socket.on("error", noop)
  socket.destroy()
}

// What OpenSSL reports when the first bytes of the "handshake" are not a TLS record: "HTTP/1.1 400" read as a record
// header is an unknown version (OpenSSL 3.0/3.1) or an absurd length (3.2 and later, 1.1); "http request" is the
// same mistake seen by a server.
const PLAIN_ANSWER = new Set([
  "ERR_SSL_WRONG_VERSION_NUMBER",
  "ERR_SSL_PACKET_LENGTH_TOO_LONG",
  "ERR_SSL_HTTP_REQUEST"
])

/** The target as an http:// URL: the same host, port and path, for a server that answers https:// in plain HTTP. */
const plainUrlOf = (target: Target): string => `http://${target.origin.slice("https://".length)}${target.path}`

/** A connect failure in words a person can act on. */
export const describeConnectFailure = (
  error: unknown,
  target: Target,
  uds: string | undefined,
  proxy?: ProxyConfig | undefined,
  /** the ALPN protocols offered, to explain a refusal */
  alpn?: ReadonlyArray<string> | undefined
): string => {
  const code = (error as NodeJS.ErrnoException)?.code
  const where = proxy !== undefined && (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN")
    ? `the proxy ${proxy.display}`
    : uds !== undefined
    ? `the Unix socket ${uds}`
    : `${target.hostname}:${target.port}`
  switch (code) {
    case "ECONNREFUSED":
      return `Connection refused by ${where}: is the server running and listening there?`
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `Could not resolve ${where.startsWith("the proxy") ? where : `the host "${target.hostname}"`} (${code}): ` +
        `check the host name`
    case "ENOENT":
      return `No Unix socket at ${uds}: is the server running?`
    case "ECONNRESET":
      return `The connection to ${where} was reset while connecting`
    case "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL": {
      const offered = alpn === undefined ? "" : ` (${alpn.join(", ")})`
      return `TLS handshake with ${where} failed: the server accepts none of the protocols offered in ALPN${offered}` +
        (alpn !== undefined && !alpn.includes("http/1.1")
          ? `; it does not speak HTTP/2 — enable http1 to fall back to HTTP/1.1`
          : "")
    }
    default: {
      // OpenSSL's text ends with a line break.
      const message = (error instanceof Error ? error.message : String(error)).trimEnd()
      if (typeof code === "string" && PLAIN_ANSWER.has(code) && target.secure) {
        return `TLS handshake with ${where} failed: the server answered in plain HTTP, not TLS: use http://, as ` +
          `in ${JSON.stringify(plainUrlOf(target))}`
      }
      if (typeof code === "string" && /CERT|SELF_SIGNED|UNABLE_TO|HOSTNAME|ERR_TLS|ERR_SSL/.test(code)) {
        return `TLS handshake with ${where} failed: ${message}; pass tls.ca to trust a private CA`
      }
      return `Could not connect to ${where}: ${message}`
    }
  }
}
