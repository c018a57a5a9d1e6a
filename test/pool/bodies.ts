/**
 * The bodies the runForEach tests read, and a server that sends them: large enough to take many reads, with bytes
 * that differ from one position to the next, so a lost, doubled or misplaced chunk shows.
 */
import type * as http from "node:http"
import { gzipSync } from "node:zlib"
import { httpServer } from "../utils/servers.js"

export const KiB = 1024
export const MiB = 1024 * KiB

const pattern = (size: number): Buffer => {
  const out = Buffer.allocUnsafe(size)
  for (let i = 0; i < size; i++) out[i] = (i * 31 + (i >> 12)) & 0xff
  return out
}

/** 8 MiB: what /length sends with a Content-Length and /chunked in uneven chunks. */
export const body = pattern(8 * MiB)
/** What /medium sends, with a Content-Length. */
export const medium = pattern(200_000)
/** What /gzip sends, gzipped. */
export const text = "every line of this text, gzipped\n".repeat(2000)

export const bodyHandler: http.RequestListener = (req, res) => {
  req.resume()
  if (req.url === "/chunked") {
    // No Content-Length: chunked framing, in uneven pieces.
    for (let offset = 0, step = 1; offset < body.length; step = (step % 7) + 1) {
      const end = Math.min(body.length, offset + step * 65_537)
      res.write(body.subarray(offset, end))
      offset = end
    }
    res.end()
  } else if (req.url === "/gzip") {
    res.setHeader("Content-Encoding", "gzip")
    res.end(gzipSync(text))
  } else if (req.url === "/medium") {
    res.setHeader("Content-Length", String(medium.length))
    res.end(medium)
  } else if (req.url === "/small") {
    res.end("ok")
  } else {
    res.setHeader("Content-Length", String(body.length))
    res.end(body)
  }
}

/** A Node `http` server on 127.0.0.1 that answers with the bodies above. */
export const bodyServer = () => httpServer(bodyHandler)
