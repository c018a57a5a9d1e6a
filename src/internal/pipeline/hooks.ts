/**
 * Event hooks (httpx's event_hooks), two steps around the cookies: request hooks see each request on the wire with
 * the Cookie the jar added; response hooks see each response once its cookies are stored. Response hooks are given
 * the streaming response, so a buffered call below them streams and reads the body after they ran.
 */
import * as Effect from "effect/Effect"
import type * as HttpError from "../../HttpError.js"
import type { Request } from "../message/request.js"
import type { StreamingResponse } from "../message/response.js"
import * as Transport from "../transport/transport.js"

/**
 * Runs before each hop is sent, with the request as it will go out; its failure is the request's.
 *
 * @since 0.2.0
 * @category models
 */
export type RequestHook = (request: Request) => Effect.Effect<void, HttpError.HttpError>

/**
 * Runs once each hop's head is in, before its body is read; its failure is the request's.
 *
 * @since 0.2.0
 * @category models
 */
export type ResponseHook = (response: StreamingResponse) => Effect.Effect<void, HttpError.HttpError>

const runAll = (hooks: ReadonlyArray<RequestHook>, request: Request) =>
  Effect.forEach(hooks, (hook) => hook(request), { discard: true })

export const requestHooks = (hooks: ReadonlyArray<RequestHook>) =>
(next: Transport.Transport): Transport.Transport => {
  const send = Transport.sendOf(next)
  return Transport.make((request) => Effect.zipRight(runAll(hooks, request), next.handle(request)), {
    send: (request) => Effect.zipRight(runAll(hooks, request), send(request))
  })
}

export const responseHooks = (hooks: ReadonlyArray<ResponseHook>) =>
(next: Transport.Transport): Transport.Transport => {
  // A failing hook means the caller never gets this response: release it rather than leave it to the scope.
  const run = (response: StreamingResponse) =>
    Effect.onError(Effect.forEach(hooks, (hook) => hook(response), { discard: true }), () => response.close)
  const handle: Transport.Transport["handle"] = (request) => Effect.tap(next.handle(request), run)
  return Transport.make(handle, {
    send: (request) => Effect.scoped(Effect.flatMap(handle(request), (response) => response.read))
  })
}
