/**
 * The exchange as the unit tests that drive it without a socket make it: from the request's parts in order, with
 * the pool's defaults for everything else.
 */
import { Exchange as ExchangeImpl, Phase, Version } from "../../src/internal/exchange/exchange.js"
import { defaultLimits } from "../../src/internal/core/limits.js"
import type { Timeouts } from "../../src/internal/core/timeouts.js"
import type { Target } from "../../src/internal/core/url.js"

export { Phase, Version }

export class Exchange extends ExchangeImpl {
  constructor(
    method: string,
    target: Target,
    headBytes: string,
    body: Uint8Array | undefined,
    streamBody: boolean,
    _headers: unknown,
    timeouts: Timeouts,
    streaming: boolean
  ) {
    super({
      method,
      target,
      headBytes,
      body,
      streamBody,
      streamLength: -1,
      timeouts,
      limits: defaultLimits,
      streaming,
      asSent: false
    })
  }
}
