/**
 * A loopback server for streamed multipart uploads: it watches the request body as it arrives, tells the test the
 * moment a marker shows up in it (the first part is in while the client's stream is still open), and keeps what it
 * received for a standard parser to read back.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import * as fs from "node:fs"
import type * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { httpServer } from "./servers.js"
import type { TestServer } from "./servers.js"

export interface Upload {
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
  /** how many pieces the server's request stream delivered (one per chunk of a chunked body, at least) */
  readonly pieces: number
}

export interface UploadServer {
  readonly server: TestServer
  /** the uploads received in full, in order */
  readonly uploads: ReadonlyArray<Upload>
  /** resolves when the bytes received so far (of any request) contain `marker` */
  readonly markerSeen: Promise<void>
}

/**
 * A server that answers each upload with `status` once its body has ended, and resolves `markerSeen` as soon as the
 * marker is in. The bytes are searched as they come, so the marker is seen before the request ends.
 */
export const uploadServer = (marker: string, status = 200): Effect.Effect<UploadServer, never, Scope.Scope> =>
  Effect.suspend(() => {
    const uploads: Array<Upload> = []
    let seen!: () => void
    const markerSeen = new Promise<void>((resolve) => (seen = resolve))
    const needle = Buffer.from(marker)
    return Effect.map(
      httpServer((req, res) => {
        const chunks: Array<Buffer> = []
        let received = Buffer.alloc(0)
        let found = false
        req.on("data", (chunk: Buffer) => {
          chunks.push(chunk)
          if (found) return
          // Only the tail that could still hold the marker is kept for the search.
          received = Buffer.concat([received, chunk]).subarray(-(chunk.length + needle.length))
          if (received.includes(needle)) {
            found = true
            seen()
          }
        })
        req.on("end", () => {
          uploads.push({ headers: req.headers, body: Buffer.concat(chunks), pieces: chunks.length })
          res.writeHead(status).end()
        })
      }),
      (server) => ({ server, uploads, markerSeen })
    )
  })

/** Parse an upload with the web platform's multipart parser (undici's), as a server framework would. */
export const parseUpload = (upload: Upload): Effect.Effect<FormData> =>
  Effect.promise(() =>
    new globalThis.Response(new Uint8Array(upload.body), {
      headers: { "content-type": upload.headers["content-type"]! }
    }).formData()
  )

/** Entries in order, Files as name, type and bytes (this project's DOM lib has no FormData iterator). */
export const entriesOf = (form: FormData): Effect.Effect<Array<[string, string | [string, string, Buffer]]>> =>
  Effect.promise(async () => {
    const entries: Array<[string, FormDataEntryValue]> = []
    form.forEach((value, name) => entries.push([name, value]))
    const out: Array<[string, string | [string, string, Buffer]]> = []
    for (const [name, value] of entries) {
      const file = typeof value === "string" ? undefined : Buffer.from(await value.arrayBuffer())
      out.push([name, typeof value === "string" ? value : [value.name, value.type, file!]])
    }
    return out
  })

/** Wait for the server's signal, bounded: a body buffered before sending would never let the marker through. */
export const awaitMarker = (upload: UploadServer, timeoutMs = 3_000): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the server did not see the first part within ${timeoutMs} ms: was the body buffered?`)),
      timeoutMs
    )
    upload.markerSeen.then(() => {
      clearTimeout(timer)
      resolve()
    })
  })

/**
 * A Blob backed by a temporary file of `data` (fs.openAsBlob), as a large upload usually is: reading it whole would put
 * the file in memory, its stream() gives it 64 KiB at a time. The file goes when the scope closes.
 */
export const fileBlob = (data: Uint8Array, type = ""): Effect.Effect<Blob, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "httpfx-upload-"))
      fs.writeFileSync(path.join(dir, "data.bin"), data)
      return { dir, blob: await fs.openAsBlob(path.join(dir, "data.bin"), { type }) }
    }),
    ({ dir }) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  ).pipe(Effect.map(({ blob }) => blob))
