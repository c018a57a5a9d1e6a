/**
 * The response body as it waits for its reader: the queue of chunks a streaming reader takes, the bytes of a
 * buffered body as they accumulate, and the limits on both.
 *
 * Plain functions over the exchange's own fields (`BodyQueue`), so that a buffered response pays for no queue object
 * of its own.
 */
import { maxBufferSize } from "../wire/bodyDecoding.js"

/** Body bytes queued for a streaming consumer before the socket is paused. */
export const HIGH_WATER_MARK = 64 * 1024

/**
 * A buffered body with a declared length up to this size is copied into one buffer of that size as it arrives (no
 * joining at the end). Larger declarations are not trusted that far: their pieces are copied one by one.
 */
const PREALLOCATE_LIMIT = 1024 * 1024

// Shared by every exchange until it has body bytes of its own (a queued request holds none), and never written to:
// `addChunk` replaces it.
export const NO_CHUNKS: Array<Buffer> = []

/** The fields of an exchange that hold its body bytes. */
export interface BodyQueue {
  /** the bytes not taken yet (decoded already when the body is decoded as it arrives) */
  chunks: Array<Buffer>
  /** how many bytes `chunks` holds */
  size: number
  /** how much of `chunks[0]` a reader with a buffer of its own has already taken */
  chunkOffset: number
  /** the preallocated buffer `keepInWhole` fills for a buffered body of declared length (also `chunks[0]`) */
  whole: Buffer | undefined
}

/**
 * The most body bytes an exchange takes, raw and decoded: `maxBodySize`, and for a body `readWhole` the largest
 * buffer the platform allocates. (Worked out when needed rather than kept: a field holding a number that is not a
 * small integer would cost every exchange an allocation.)
 */
export const bodyLimit = (maxBodySize: number, readWhole: boolean): number =>
  readWhole ? Math.min(maxBodySize, maxBufferSize()) : maxBodySize

export const addChunk = (queue: BodyQueue, chunk: Buffer): void => {
  if (queue.chunks === NO_CHUNKS) queue.chunks = [chunk]
  else queue.chunks.push(chunk)
  queue.size += chunk.length
}

/** Whether body bytes with this Content-Length are copied into one buffer of that size as they come. */
export const preallocates = (declared: number): boolean => declared > 0 && declared <= PREALLOCATE_LIMIT

/**
 * Copy `bytes` into the buffer of the body's `declared` length (made on the first call). The parser never passes
 * more than the declared length, which was checked against the limit with the head.
 */
export const keepInWhole = (queue: BodyQueue, bytes: Buffer, declared: number): void => {
  let whole = queue.whole
  if (whole === undefined) {
    whole = queue.whole = Buffer.allocUnsafe(declared)
    if (queue.chunks === NO_CHUNKS) queue.chunks = [whole]
    else queue.chunks.push(whole)
  }
  queue.size += bytes.copy(whole, queue.size, 0, bytes.length)
}

/** A copy of `bytes` from `start` on (they sit in a read buffer the next read overwrites). */
export const copyOf = (bytes: Buffer, start: number): Buffer => {
  const copy = Buffer.allocUnsafe(bytes.length - start)
  bytes.copy(copy, 0, start, bytes.length)
  return copy
}

/** Everything queued, as chunks: the queue is empty after. */
export const takeQueued = (queue: BodyQueue): Array<Buffer> => {
  const chunks = queue.chunks
  if (queue.chunkOffset > 0) {
    chunks[0] = chunks[0]!.subarray(queue.chunkOffset)
    queue.chunkOffset = 0
  }
  queue.chunks = NO_CHUNKS
  queue.size = 0
  return chunks
}

/** The body bytes, joined: the queue is empty after. */
export const takeContent = (queue: BodyQueue): Uint8Array => {
  const chunks = queue.chunks
  const content: Uint8Array = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, queue.size)
  queue.chunks = NO_CHUNKS
  queue.whole = undefined
  queue.size = 0
  return content
}

/** Queued bytes copied into `buffer`, as many as fit; answers how many. */
export const takeInto = (queue: BodyQueue, buffer: Buffer): number => {
  const chunks = queue.chunks
  let n = 0
  while (n < buffer.length && chunks.length > 0) {
    const chunk = chunks[0]!
    const taken = chunk.copy(buffer, n, queue.chunkOffset)
    n += taken
    queue.size -= taken
    queue.chunkOffset += taken
    if (queue.chunkOffset === chunk.length) {
      chunks.shift()
      queue.chunkOffset = 0
    }
  }
  return n
}
