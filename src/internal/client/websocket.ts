/**
 * `client.websocket`: the RFC 6455 opening handshake as a request of the client's own (its pipeline: default headers,
 * cookies, auth, hooks, middleware; its pool's connect step: TLS options, proxies, timeouts), then the WebSocket over
 * the connection the 101 handed over (connection/websocket.ts).
 */
import * as Headers from "@effect/platform/Headers"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as builtins from "../core/builtins.js"
import {
  HttpStatusError,
  InvalidUrl,
  LocalProtocolError,
  UnsupportedProtocol,
  WebSocketError
} from "../../HttpError.js"
import type * as HttpError from "../../HttpError.js"
import type { TimeoutInput } from "../core/timeouts.js"
import { withoutUserinfo } from "../core/url.js"
import { upgradedOf } from "../exchange/exchange.js"
import type { Request } from "../message/request.js"
import type { StreamingResponse } from "../message/response.js"
import { WebSocketConnection } from "../connection/websocket.js"
import type { WebSocket } from "../connection/websocket.js"
import { DEFAULT_MAX_MESSAGE_SIZE } from "../wire/websocketFrame.js"
import { DEFLATE_OFFER, parseDeflateAnswer, PerMessageDeflate } from "../wire/websocketDeflate.js"
import type { HeadersInput, RequestOptions } from "./options.js"

/**
 * The options of `client.websocket`.
 *
 * @since 0.2.0
 * @category models
 */
export interface WebSocketOptions {
  /** sent with the handshake, over the client's own (a name here replaces the client's) */
  readonly headers?: HeadersInput | undefined
  /** subprotocols to offer, most preferred first (Sec-WebSocket-Protocol); the server picks one or none */
  readonly protocols?: ReadonlyArray<string> | undefined
  /** the handshake's timeouts, as a request's `timeout`; once open, a WebSocket has none */
  readonly timeout?: TimeoutInput | undefined
  /** the largest message accepted, all its fragments together, in bytes [64 MiB]; past it the socket closes with 1009 */
  readonly maxMessageSize?: number | undefined
  /**
   * Offer permessage-deflate (RFC 7692) [true]: when the server accepts, messages of 1 KiB or more are sent
   * compressed and compressed messages are inflated (`maxMessageSize` then holds the inflated size)
   */
  readonly compression?: boolean | undefined
}

/** What the handshake needs of the client: its requests, built and sent through its pipeline. */
interface Sender {
  buildRequest(method: string, url: string | URL, options?: RequestOptions<never>): Request
  sendStreaming(request: Request): Effect.Effect<StreamingResponse, HttpError.HttpError, Scope.Scope>
}

/** RFC 6455 §1.3 */
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

const acceptFor = (key: string): string => builtins.crypto().createHash("sha1").update(key + GUID).digest("base64")

/** The http(s) URL the handshake goes to, or why `url` cannot be a WebSocket URL. */
const httpUrlOf = (url: string | URL): string | HttpError.HttpError => {
  const text = typeof url === "string" ? url : url.href
  const shown = withoutUserinfo(text)
  const request = { method: "GET", url: shown }
  const scheme = SCHEME.exec(text)?.[1]?.toLowerCase()
  if (text.includes("#")) {
    return new InvalidUrl({
      message: `The WebSocket URL ${shown} has a fragment (#…), which WebSocket URLs cannot have (RFC 6455 §3)`,
      request
    })
  }
  // A relative URL extends the client's baseUrl, whose http(s) scheme says ws or wss.
  if (scheme === undefined) return text
  if (scheme === "ws" || scheme === "wss") return "http" + text.slice(2)
  return new UnsupportedProtocol({
    message: `The WebSocket URL ${shown} uses the scheme "${scheme}"; a WebSocket URL starts with ws:// or wss://` +
      (scheme === "http" || scheme === "https" ? ` (try ${scheme === "http" ? "ws" : "wss"}${shown.slice(4)})` : ""),
    request
  })
}

const wsUrlOf = (httpUrl: string): string => "ws" + httpUrl.slice(4)

const optionsProblem = (options: WebSocketOptions): string | undefined => {
  const protocols = options.protocols ?? []
  const seen = new Set<string>()
  for (const protocol of protocols) {
    if (typeof protocol !== "string" || !TOKEN.test(protocol)) {
      return `the subprotocol ${JSON.stringify(protocol)} is not a token (RFC 6455 §4.1)`
    }
    if (seen.has(protocol)) return `the subprotocol ${JSON.stringify(protocol)} is offered twice`
    seen.add(protocol)
  }
  const max = options.maxMessageSize
  if (max !== undefined && !(Number.isSafeInteger(max) && max > 0)) {
    return `maxMessageSize must be a positive integer number of bytes, not ${String(max)}`
  }
  return undefined
}

/** Open a WebSocket to `url` through `client`; it closes (1000) with the scope. */
export const connect = (
  client: Sender,
  url: string | URL,
  options: WebSocketOptions = {}
): Effect.Effect<WebSocket, HttpError.HttpError, Scope.Scope> =>
  Effect.suspend(() => {
    const httpUrl = httpUrlOf(url)
    if (typeof httpUrl !== "string") return Effect.fail(httpUrl)
    const key = builtins.crypto().randomBytes(16).toString("base64")
    const handshake: Record<string, string> = {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": key,
      "sec-websocket-version": "13"
    }
    const protocols = options.protocols ?? []
    if (protocols.length > 0) handshake["sec-websocket-protocol"] = protocols.join(", ")
    const compression = options.compression !== false
    if (compression) handshake["sec-websocket-extensions"] = DEFLATE_OFFER
    const request = client.buildRequest("GET", httpUrl, {
      // The handshake's own fields win over the caller's: they are what makes it a handshake.
      headers: options.headers === undefined
        ? handshake
        : Headers.merge(Headers.fromInput(options.headers), Headers.fromInput(handshake)),
      timeout: options.timeout
    })
    if (!/^https?:/.test(request.url)) {
      const shown = withoutUserinfo(request.url)
      return Effect.fail(
        new InvalidUrl({
          message: `${JSON.stringify(shown)} is not an absolute WebSocket URL (and the client has no baseUrl); ` +
            `expected something like "ws://example.com/path"`,
          request: { method: "GET", url: shown }
        })
      )
    }
    const where = { method: "GET", url: wsUrlOf(request.url) }
    const problem = optionsProblem(options)
    if (problem !== undefined) {
      return Effect.fail(new LocalProtocolError({ message: `GET ${where.url}: ${problem}`, request: where }))
    }
    return Effect.flatMap(
      client.sendStreaming(request),
      (response) =>
        opened(response, key, protocols, where, options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE, compression)
    )
  })

/** The server's answer to the handshake (RFC 6455 §4.1, the client's checks), then the WebSocket. */
const opened = (
  response: StreamingResponse,
  key: string,
  protocols: ReadonlyArray<string>,
  where: HttpError.RequestInfo,
  maxMessageSize: number,
  compression: boolean
): Effect.Effect<WebSocket, HttpError.HttpError, Scope.Scope> => {
  if (response.status !== 101) return refused(response, where)
  const upgraded = upgradedOf(response)
  const fail = (why: string) => {
    upgraded?.socket.destroy()
    return Effect.fail(
      new WebSocketError({ message: `GET ${where.url}: the WebSocket handshake failed: ${why}`, request: where })
    )
  }
  if (upgraded === undefined) {
    return fail("the transport did not hand over its connection (a WebSocket needs the client's own pool)")
  }
  const headers = response.headers
  const upgrade = headers["upgrade"]
  if (upgrade === undefined || upgrade.toLowerCase() !== "websocket") {
    return fail(`the 101 response's Upgrade is ${JSON.stringify(upgrade ?? null)}, not "websocket"`)
  }
  const connection = headers["connection"]
  if (connection === undefined || !connection.toLowerCase().split(",").some((token) => token.trim() === "upgrade")) {
    return fail(`the 101 response's Connection is ${JSON.stringify(connection ?? null)}, without "upgrade"`)
  }
  const accept = headers["sec-websocket-accept"]
  if (accept !== acceptFor(key)) {
    return fail(`the 101 response's Sec-WebSocket-Accept is ${JSON.stringify(accept ?? null)}, not the one the ` +
      "key calls for (is this a WebSocket server?)")
  }
  const extensions = headers["sec-websocket-extensions"]
  let deflate: PerMessageDeflate | undefined
  if (extensions !== undefined && extensions.trim() !== "") {
    if (!compression) return fail(`the server chose the extension ${JSON.stringify(extensions)}, which was not offered`)
    const params = parseDeflateAnswer(extensions)
    if (typeof params === "string") return fail(params)
    deflate = new PerMessageDeflate(params, maxMessageSize)
  }
  const protocol = headers["sec-websocket-protocol"]?.trim() ?? ""
  if (protocol !== "" && !protocols.includes(protocol)) {
    return fail(`the server chose the subprotocol ${JSON.stringify(protocol)}, which was not offered` +
      (protocols.length === 0 ? " (none was)" : ` (offered: ${protocols.join(", ")})`))
  }
  return Effect.acquireRelease(
    Effect.sync(() =>
      new WebSocketConnection(upgraded, protocol, where.url, maxMessageSize, deflate)
    ),
    (socket) => socket.close()
  )
}

/**
 * Not a 101: a 4xx or 5xx is an HttpStatusError with the response, body read (as `raiseForStatus` gives); any other
 * answer is a WebSocketError naming the status.
 */
const refused = (
  response: StreamingResponse,
  where: HttpError.RequestInfo
): Effect.Effect<never, HttpError.HttpError> => {
  const status = `${response.status}${response.reasonPhrase === "" ? "" : " " + response.reasonPhrase}`
  if (response.status >= 400) {
    return Effect.flatMap(response.read, (buffered) =>
      Effect.fail(
        new HttpStatusError({
          message: `GET ${where.url}: the server refused the WebSocket handshake with ${status}`,
          request: where,
          response: buffered
        })
      ))
  }
  return Effect.zipRight(
    response.close,
    Effect.fail(
      new WebSocketError({
        message: `GET ${where.url}: the server answered the WebSocket handshake with ${status}, not 101 Switching ` +
          "Protocols" + (response.status >= 300 && response.status < 400 ? " (followRedirects is off)" : ""),
        request: where
      })
    )
  )
}
