/** Test helpers for incremental decoders: the same bytes cut into pieces at chosen points. */

/** `data` cut at each of `cuts` (taken modulo its length + 1, deduplicated, in order): the pieces, empty ones too. */
export const splitAt = <T extends Uint8Array>(data: T, cuts: ReadonlyArray<number>): Array<T> => {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)
  const out: Array<T> = []
  let last = 0
  for (const p of points) {
    out.push(data.subarray(last, p) as T)
    last = p
  }
  out.push(data.subarray(last) as T)
  return out
}
