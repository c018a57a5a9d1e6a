/**
 * Request heads written while other HTTP/1.1 exchanges are in flight go out together, at the end of the event loop's
 * I/O phase, rather than one by one between the responses that arrive in it.
 *
 * Why: a write to a peer that has gone idle wakes it, and on loopback (a sidecar, a local service) or in a VM that
 * wake-up is charged to the writer's system call, at several times the cost of the write itself. Under concurrency
 * the responses of one I/O phase each lead to the next request; written as each response is handled, those requests
 * reach the server spread over the whole phase, and it may fall asleep between them. Held until the phase ends, they
 * leave back to back and cost one wake-up.
 *
 * The first write of a phase goes out at once, so nothing waits when there is nothing to batch: a lone exchange never
 * opens a window at all, and the rest wait only for callbacks the loop runs anyway, never a timer. Holding a socket
 * is `cork()`, and flushing it `uncork()`: a socket destroyed in between sends nothing, and a caller that corks and
 * uncorks around its own writes nests inside the hold.
 */
import type * as net from "node:net"

/** HTTP/1.1 exchanges between their first write and their last byte (or failure), across every pool. */
let inFlight = 0
/** the first write of this I/O phase went out, and `flush` is scheduled to end the phase's window */
let windowOpen = false
let held: Array<net.Socket> = []

const flush = (): void => {
  const sockets = held
  held = []
  windowOpen = false
  for (let i = 0; i < sockets.length; i++) {
    const socket = sockets[i]
    try {
      socket.uncork()
    } catch (error) {
      // Not expected from a net.Socket; if it happens the connection's error handler fails its exchange.
      socket.destroy(error as Error)
    }
  }
}

export const exchangeStarted = (): void => {
  inFlight++
}

export const exchangeEnded = (): void => {
  inFlight--
}

/**
 * Called before an exchange writes its request: the socket is corked until the end of the I/O phase when another
 * write of the phase already went out and other exchanges are in flight. The caller then writes as usual.
 */
export const holdIfBatching = (socket: net.Socket): void => {
  if (inFlight <= 1) return
  if (windowOpen) {
    socket.cork()
    held.push(socket)
  } else {
    windowOpen = true
    setImmediate(flush)
  }
}

/** For tests: the count that decides whether writes are batched; 0 when no exchange is under way. */
export const exchangesInFlight = (): number => inFlight
