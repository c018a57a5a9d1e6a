/**
 * The Request an exchange represents, as a response's `request` shows it: made only when someone asks, from what was
 * sent.
 */
import * as Headers from "@effect/platform/Headers"
import { emptyBody, make } from "../message/request.js"
import type { Request } from "../message/request.js"

export const sentRequest = (method: string, url: string, headBytes: string, body: Uint8Array | undefined): Request =>
  make({
    method,
    url,
    headers: sentHeaders(headBytes),
    body: body !== undefined ? { _tag: "Bytes", bytes: body } : emptyBody
  })

/** The headers that went out, read back from the serialised head. */
const sentHeaders = (head: string): Headers.Headers => {
  const flat: Array<string> = []
  const lines = head.split("\r\n")
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!
    const colon = line.indexOf(":")
    if (colon > 0) flat.push(line.slice(0, colon), line.slice(colon + 1).trim())
  }
  const record: Record<string, string> = {}
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase()
    record[name] = record[name] === undefined ? flat[i + 1]! : record[name] + ", " + flat[i + 1]!
  }
  return Headers.unsafeFromRecord(record)
}
