/**
 * A buffered request that has to queue is watched through its fiber rather than given a canceller. Effect builds an
 * interruption handler around every `Effect.async` that returns one: about 1.5 KB that a queued request holds for as
 * long as it waits, and most of what 10,000 queued requests cost. The fiber's exit plays the canceller's part, and a
 * waiter whose fiber was interrupted is passed over when its turn comes (`giveUp`), so its request is never sent.
 */
import * as Fiber from "effect/Fiber"
import * as RuntimeFlags from "effect/RuntimeFlags"

/** The fields of an exchange that watch the fiber of its queued request. */
export interface Watched {
  /** the fiber a queued request waits in without a canceller, while it does */
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  observer: (() => void) | undefined
  /** The watched fiber ended while still waiting: the wait was interrupted. */
  fiberExited(): void
}

/**
 * Watch the waiting fiber, when its wait can be interrupted (a wait that cannot be keeps its canceller: it is never
 * interrupted, and the fiber may already be, running a finalizer). Answers whether it is watched.
 */
export const watchFiber = (watched: Watched): boolean => {
  const current = Fiber.getCurrentFiber()
  if (current._tag === "None") return false
  const fiber = current.value
  // The flags the wait runs with; not on the RuntimeFiber interface, hence the check (without them: a canceller).
  const flags = (fiber as { readonly currentRuntimeFlags?: unknown }).currentRuntimeFlags
  if (typeof flags !== "number" || !RuntimeFlags.interruptible(flags as RuntimeFlags.RuntimeFlags)) return false
  const observer = () => watched.fiberExited()
  watched.fiber = fiber
  watched.observer = observer
  fiber.addObserver(observer)
  return true
}

export const unwatchFiber = (watched: Watched): void => {
  const fiber = watched.fiber
  const observer = watched.observer
  watched.fiber = undefined
  watched.observer = undefined
  if (fiber !== undefined && observer !== undefined) fiber.removeObserver(observer)
}
