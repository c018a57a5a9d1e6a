/**
 * Node's TLS and HTTP/2 modules, loaded on first use: a program that only speaks plain HTTP/1.1 never pays for
 * them (about 1 MB of heap, and their load time at startup). `node:http` is required here too, never imported:
 * from Node 22 on, an ESM import of `node:http` loads `node:tls` and `node:http2` with it.
 */
import { createRequire } from "node:module"
import type * as Http2 from "node:http2"
import type * as Tls from "node:tls"

const load = createRequire(import.meta.url)

let tlsModule: typeof Tls | undefined
let http2Module: typeof Http2 | undefined

export const tls = (): typeof Tls => (tlsModule ??= load("node:tls") as typeof Tls)

export const http2 = (): typeof Http2 => (http2Module ??= load("node:http2") as typeof Http2)

let statusCodes: Readonly<Record<number, string | undefined>> | undefined

/** The standard reason phrase of a status code ("" for one without), as HTTP/1.1 servers send it. */
export const reasonPhrase = (status: number): string =>
  (statusCodes ??= (load("node:http") as typeof import("node:http")).STATUS_CODES)[status] ?? ""
