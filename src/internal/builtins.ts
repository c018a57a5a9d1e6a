/**
 * Node's TLS and HTTP/2 modules, loaded on first use: a program that only speaks plain HTTP/1.1 never pays for
 * them (about 1 MB of heap, and their load time at startup).
 */
import { createRequire } from "node:module"
import type * as Http2 from "node:http2"
import type * as Tls from "node:tls"

const load = createRequire(import.meta.url)

let tlsModule: typeof Tls | undefined
let http2Module: typeof Http2 | undefined

export const tls = (): typeof Tls => (tlsModule ??= load("node:tls") as typeof Tls)

export const http2 = (): typeof Http2 => (http2Module ??= load("node:http2") as typeof Http2)
