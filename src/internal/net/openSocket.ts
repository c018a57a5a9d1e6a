/**
 * The network layer: open a TCP, TLS or Unix-socket stream. Nothing here knows about HTTP.
 */
import * as net from "node:net"
import * as tls from "node:tls"
import type { Target } from "../url.js"

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
}

/**
 * Starts connecting and returns the socket at once; it emits `readyEvent` when usable (after the TLS handshake
 * for https) and `error` otherwise.
 */
export const openSocket = (
  target: Target,
  options: NetworkOptions
): { readonly socket: net.Socket; readonly readyEvent: "connect" | "secureConnect" } => {
  if (target.secure) {
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
    if (options.uds !== undefined) {
      base.path = options.uds
    } else {
      base.host = target.hostname
      base.port = target.port
      if (options.localAddress !== undefined) (base as net.TcpNetConnectOpts).localAddress = options.localAddress
    }
    const socket = tls.connect(base)
    socket.setNoDelay(true)
    return { socket, readyEvent: "secureConnect" }
  }
  if (options.uds !== undefined) {
    return { socket: net.connect({ path: options.uds }), readyEvent: "connect" }
  }
  const tcp: net.TcpNetConnectOpts = { host: target.hostname, port: target.port, noDelay: true }
  if (options.localAddress !== undefined) tcp.localAddress = options.localAddress
  return { socket: net.connect(tcp), readyEvent: "connect" }
}

/** A connect failure in words a person can act on. */
export const describeConnectFailure = (error: unknown, target: Target, uds: string | undefined): string => {
  const code = (error as NodeJS.ErrnoException)?.code
  const where = uds !== undefined ? `the Unix socket ${uds}` : `${target.hostname}:${target.port}`
  switch (code) {
    case "ECONNREFUSED":
      return `Connection refused by ${where}: is the server running and listening there?`
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `Could not resolve the host "${target.hostname}" (${code}): check the URL's host name`
    case "ENOENT":
      return `No Unix socket at ${uds}: is the server running?`
    case "ECONNRESET":
      return `The connection to ${where} was reset while connecting`
    default: {
      const message = error instanceof Error ? error.message : String(error)
      if (typeof code === "string" && /CERT|SELF_SIGNED|UNABLE_TO|HOSTNAME|ERR_TLS|ERR_SSL/.test(code)) {
        return `TLS handshake with ${where} failed: ${message}; pass tls.ca to trust a private CA`
      }
      return `Could not connect to ${where}: ${message}`
    }
  }
}
