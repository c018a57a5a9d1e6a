/**
 * One Node timer timing one phase at a time (connect, write, read, idle …) for a connection or a stream. It is
 * refreshed rather than recreated while the duration repeats: a keep-alive connection arms it for every request, so
 * this keeps timer allocation off the hot path.
 */
export class PhaseTimer {
  /** the phase being timed; 0 when none */
  kind = 0
  /** the duration last armed, in ms, for messages */
  ms = 0
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private readonly fire: () => void

  constructor(onFire: (kind: number) => void) {
    this.fire = () => {
      const kind = this.kind
      this.timer = undefined
      this.kind = 0
      // 0: suspended (see `suspend`), and not armed again in time
      if (kind !== 0) onFire(kind)
    }
  }

  /** Time `kind` for `ms`; 0 or less means no limit for that phase. */
  arm(kind: number, ms: number): void {
    this.kind = kind
    if (ms <= 0) return this.disarm()
    if (this.timer !== undefined && this.ms === ms) {
      this.timer.refresh()
      return
    }
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(this.fire, ms)
    this.timer.unref()
    this.ms = ms
  }

  /** Restart the countdown of the current phase: bytes moved. */
  refresh(): void {
    this.timer?.refresh()
  }

  /**
   * Stop timing for now, when the same phase is likely to be armed again soon (a reader that paused the socket
   * between its reads): the timer stays scheduled and firing does nothing, so that arming it again refreshes it
   * instead of allocating a new one. `disarm` for good, when whatever `onFire` reaches may be let go.
   */
  suspend(): void {
    this.kind = 0
  }

  disarm(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    this.kind = 0
  }

  /** Run `action` once after `ms`, in place of any phase (a backoff between connect attempts). */
  delay(ms: number, action: () => void): void {
    this.disarm()
    // -1: never mistaken by arm() for a timer it may refresh
    this.ms = -1
    this.timer = setTimeout(() => {
      this.timer = undefined
      action()
    }, ms)
  }
}
