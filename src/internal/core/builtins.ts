/**
 * Node's TLS, HTTP/2, crypto and zlib modules, loaded on first use: a program that only speaks plain HTTP/1.1 never
 * pays for TLS and HTTP/2 (about 1 MB of heap, and their load time at startup); one that sends no multipart body and
 * answers no Digest challenge never pays for crypto (about 350 KB); a pool that never meets a compressed body never
 * pays for zlib (about 180 KB). `node:http` is required here too, never imported: from Node 22 on, an ESM import of
 * `node:http` loads `node:tls` and `node:http2` with it.
 */
import { createRequire } from "node:module"
import type * as Crypto from "node:crypto"
import type * as Http2 from "node:http2"
import type * as Tls from "node:tls"
import type * as Zlib from "node:zlib"

const load = createRequire(import.meta.url)

let tlsModule: typeof Tls | undefined
let http2Module: typeof Http2 | undefined
let cryptoModule: typeof Crypto | undefined
let zlibModule: typeof Zlib | undefined

export const tls = (): typeof Tls => (tlsModule ??= load("node:tls") as typeof Tls)

export const http2 = (): typeof Http2 => (http2Module ??= load("node:http2") as typeof Http2)

export const crypto = (): typeof Crypto => (cryptoModule ??= load("node:crypto") as typeof Crypto)

export const zlib = (): typeof Zlib => (zlibModule ??= load("node:zlib") as typeof Zlib)

let statusCodes: Readonly<Record<number, string | undefined>> | undefined

/** The standard reason phrase of a status code ("" for one without), as HTTP/1.1 servers send it. */
export const reasonPhrase = (status: number): string =>
  (statusCodes ??= (load("node:http") as typeof import("node:http")).STATUS_CODES)[status] ?? ""
