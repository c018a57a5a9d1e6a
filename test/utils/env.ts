/**
 * Environment variables for one test: set (or, given undefined, removed) around an Effect, restored after it.
 */
import { Effect } from "effect"

/** Run `body` with these environment variables set (undefined: unset), restoring the old values afterwards. */
export const withEnv = <A, E, R>(vars: Record<string, string | undefined>, body: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]))
      for (const [name, value] of Object.entries(vars)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      return saved
    }),
    () => body,
    (saved) =>
      Effect.sync(() => {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
  )
