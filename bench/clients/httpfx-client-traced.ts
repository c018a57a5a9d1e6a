// httpfx's Client.get under a tracer that records every span: what tracing costs when something records it. The
// tracer keeps Effect's own spans (name, parent, attributes, times), the last 1,024 of them, as an exporter's buffer
// would; `httpfx-client` is the same run with no tracer installed.
import { Effect, Tracer } from "effect"
import { Client } from "../../src/index.js"
import { limitsFor, runHttpfx } from "./httpfx-common.js"

const recording = (): Tracer.Tracer => {
  const native = Effect.runSync(Effect.tracer)
  const kept: Array<Tracer.Span> = new Array(1024)
  let next = 0
  return Tracer.make({
    span: (...args) => {
      const span = native.span(...args)
      kept[next++ & 1023] = span
      return span
    },
    context: (f) => f()
  })
}

runHttpfx(
  "httpfx-client-traced",
  (config) => Effect.orDie(Client.make(limitsFor(config))),
  (program) => Effect.withTracer(program, recording())
)
