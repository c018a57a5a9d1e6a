import * as Duration from "effect/Duration"

/**
 * What users may pass as `timeout`: one duration for every phase, a record of phases, or `null` to disable all.
 */
export type TimeoutInput =
  | Duration.DurationInput
  | null
  | {
    readonly connect?: Duration.DurationInput | null | undefined
    readonly read?: Duration.DurationInput | null | undefined
    readonly write?: Duration.DurationInput | null | undefined
    readonly pool?: Duration.DurationInput | null | undefined
    readonly total?: Duration.DurationInput | null | undefined
    /** the response head must be complete this long after the request is sent [60 seconds] */
    readonly head?: Duration.DurationInput | null | undefined
  }

/** Resolved timeouts in milliseconds; 0 means "no limit". */
export interface Timeouts {
  readonly connect: number
  readonly read: number
  readonly write: number
  readonly pool: number
  readonly total: number
  /** the whole response head, from the request sent to its last byte */
  readonly head: number
}

const DEFAULT_TIMEOUT_MS = 5_000
const DEFAULT_HEAD_TIMEOUT_MS = 60_000

export const defaultTimeouts: Timeouts = {
  connect: DEFAULT_TIMEOUT_MS,
  read: DEFAULT_TIMEOUT_MS,
  write: DEFAULT_TIMEOUT_MS,
  pool: DEFAULT_TIMEOUT_MS,
  total: 0,
  head: DEFAULT_HEAD_TIMEOUT_MS
}

const toMillis = (input: Duration.DurationInput | null | undefined, fallback: number): number => {
  if (input === undefined) return fallback
  if (input === null) return 0
  const millis = Duration.toMillis(Duration.decode(input))
  // Node timers take at most a 32-bit signed delay; anything longer is "practically never".
  return Number.isFinite(millis) ? Math.max(1, Math.min(Math.ceil(millis), 2_147_483_647)) : 0
}

const isRecord = (input: unknown): input is Exclude<TimeoutInput, Duration.DurationInput | null> =>
  typeof input === "object" && input !== null && !Duration.isDuration(input) && !Array.isArray(input)

/** Whether `input` sets a read timeout: one duration, `null` (none), or a record that names `read`. */
export const setsRead = (input: TimeoutInput | undefined): boolean =>
  input !== undefined && (!isRecord(input) || input.read !== undefined)

const PHASES = ["connect", "read", "write", "pool", "total", "head"] as const

/**
 * The input for limits that start from none (Platform.layer's, as node:http has no timeouts): a record keeps only
 * the phases it names, and nothing given is `null`. One duration keeps its meaning, every phase that waits.
 */
export const onlyGiven = (input: TimeoutInput | undefined): TimeoutInput => {
  if (input === undefined || input === null) return null
  if (!isRecord(input)) return input
  const out: Record<string, Duration.DurationInput | null> = {}
  for (const phase of PHASES) out[phase] = input[phase] ?? null
  return out
}

/** The same limits without a total, for a pool whose caller arms the total itself (the client's pipeline). */
export const withoutTotal = <T extends TimeoutInput | undefined>(input: T): T =>
  isRecord(input) && input.total !== undefined && input.total !== null
    ? { ...(input as object), total: null } as T
    : input

/** Resolve user input against a base (the pool's or client's own timeouts); omitted fields keep the base. */
export const resolve = (input: TimeoutInput | undefined, base: Timeouts = defaultTimeouts): Timeouts => {
  if (input === undefined) return base
  if (isRecord(input)) {
    const read = toMillis(input.read, base.read)
    return {
      connect: toMillis(input.connect, base.connect),
      read,
      write: toMillis(input.write, base.write),
      pool: toMillis(input.pool, base.pool),
      total: toMillis(input.total, base.total),
      head: input.head === undefined ? headFor(base.head, read) : toMillis(input.head, base.head)
    }
  }
  if (input === null) return { connect: 0, read: 0, write: 0, pool: 0, total: 0, head: 0 }
  // One duration is for the phases that wait on silence; the total keeps its own.
  const all = toMillis(input, DEFAULT_TIMEOUT_MS)
  return { connect: all, read: all, write: all, pool: all, total: base.total, head: headFor(base.head, all) }
}

/**
 * The head deadline nobody set: never shorter than the read timeout, so that raising `read` for a server that thinks
 * long before it answers (a long poll) is not undone by a default the caller never chose.
 */
const headFor = (head: number, read: number): number => head === 0 || read === 0 ? head : Math.max(head, read)

/** Why a duration option cannot be used, naming it; undefined when it can. */
export const durationProblem = (name: string, value: Duration.DurationInput | null | undefined): string | undefined => {
  if (value === undefined || value === null) return undefined
  try {
    Duration.decode(value)
    return undefined
  } catch {
    return `${name} is not a duration: ${JSON.stringify(String(value))}; give milliseconds or a string such as ` +
      `"5 seconds"`
  }
}

/** Why a `timeout` option (one duration, or one per phase) cannot be used; undefined when it can. */
export const timeoutProblem = (value: TimeoutInput | undefined): string | undefined => {
  if (value === undefined || value === null) return undefined
  if (typeof value === "object" && !Duration.isDuration(value) && !Array.isArray(value)) {
    for (const phase of PHASES) {
      const problem = durationProblem(`timeout.${phase}`, (value as Record<string, Duration.DurationInput>)[phase])
      if (problem !== undefined) return problem
    }
    return undefined
  }
  return durationProblem("timeout", value as Duration.DurationInput)
}
