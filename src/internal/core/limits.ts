/**
 * How much of a response httpfx will take in: the size of a head and the decoded size of a body.
 */

/** What users may pass as `limits`, on a pool, a client or one request; an omitted field keeps the base's. */
export interface LimitsInput {
  /** bytes in one response head, status line and fields [65536] */
  readonly maxHeadSize?: number | undefined
  /** decoded bytes a response body may deliver [no limit of ours; the platform's largest buffer still applies] */
  readonly maxBodySize?: number | undefined
}

/** Resolved limits; `maxBodySize` is `Infinity` when only the platform's own limit applies. */
export interface Limits {
  readonly maxHeadSize: number
  readonly maxBodySize: number
}

export const DEFAULT_MAX_HEAD_SIZE = 65536

export const defaultLimits: Limits = { maxHeadSize: DEFAULT_MAX_HEAD_SIZE, maxBodySize: Infinity }

/**
 * Why a limit cannot be used, for the typed error of whoever took it (a pool, a client, a request); undefined when
 * both are whole numbers of bytes above zero.
 */
export const limitsProblem = (input: LimitsInput | undefined): string | undefined => {
  if (input === undefined) return undefined
  for (const name of ["maxHeadSize", "maxBodySize"] as const) {
    const value = input[name]
    if (value === undefined || value === Infinity) continue
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
      return `limits.${name} must be a whole number of bytes above 0, got ${String(value)}`
    }
  }
  return undefined
}

/** `input` over `base`: the fields it gives replace the base's. */
export const resolveLimits = (input: LimitsInput | undefined, base: Limits = defaultLimits): Limits =>
  input === undefined || (input.maxHeadSize === undefined && input.maxBodySize === undefined)
    ? base
    : {
      maxHeadSize: input.maxHeadSize ?? base.maxHeadSize,
      maxBodySize: input.maxBodySize ?? base.maxBodySize
    }
