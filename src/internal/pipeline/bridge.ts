/**
 * The bridge, innermost of the client's own steps: the response reports the request the client sent (with the
 * hooks' and the jar's changes, before the user's middleware), and with `bodiesAsSent` (Platform.layer over a
 * transport of the caller's own) its body comes as the server sent it, not decoded.
 */
import * as Effect from "effect/Effect"
import type { Request } from "../message/request.js"
import type { HeadBase, Response, StreamingBase, StreamingResponse } from "../message/response.js"
import * as Transport from "../transport/transport.js"

const NO_HISTORY: ReadonlyArray<Response> = []

const reporting = <A extends Response | StreamingResponse>(request: Request, response: A): A => {
  ;(response as unknown as HeadBase).setContext(request, NO_HISTORY)
  return response
}

const asSent = (response: StreamingResponse): StreamingResponse => {
  ;(response as StreamingBase).asSent = true
  return response
}

export const bridge = (bodiesAsSent: boolean) => (next: Transport.Transport): Transport.Transport => {
  const handle = bodiesAsSent
    ? (request: Request) => Effect.map(next.handle(request), (response) => reporting(request, asSent(response)))
    : (request: Request) => Effect.map(next.handle(request), (response) => reporting(request, response))
  if (bodiesAsSent) return Transport.make(handle)
  const send = Transport.sendOf(next)
  return Transport.make(handle, {
    send: (request) => Effect.map(send(request), (response) => reporting(request, response))
  })
}
