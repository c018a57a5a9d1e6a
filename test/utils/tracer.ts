import { Effect, Tracer } from "effect"

/** A tracer whose spans (Effect's own kind) are kept, in the order they started. */
export const recorder = Effect.map(Effect.tracer, (native) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (...args) => {
      const span = native.span(...args)
      spans.push(span)
      return span
    },
    context: (f) => f()
  })
  return { spans, tracer }
})
