/**
 * Auth, the outermost step but the timeout (as in httpx): an Auth's flow (auth.ts) sends through the rest of the
 * pipeline, so its second try runs the whole redirect chain again. A request's own `auth` replaces the client's;
 * `auth: null` turns the client's off.
 */
import * as Effect from "effect/Effect"
import * as Scope from "effect/Scope"
import type { Auth } from "./auth.js"
import type * as HttpError from "../../HttpError.js"
import type { Request } from "../message/request.js"
import { printable } from "../message/request.js"
import type { Response, StreamingResponse } from "../message/response.js"
import * as Transport from "../transport/transport.js"

type Sent = Response | StreamingResponse

const authOf = (request: Request, client: Auth | undefined): Auth | undefined =>
  request.auth === undefined ? client : (request.auth as Auth | null) ?? undefined

/** Run `auth`'s flow over `hop`; `streaming` when its responses hold a connection until closed. */
const flow = <A extends Sent>(
  auth: Auth,
  request: Request,
  hop: (request: Request) => Effect.Effect<A, HttpError.HttpError, Scope.Scope>,
  streaming: boolean
): Effect.Effect<A, HttpError.HttpError, Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => {
    let previous: StreamingResponse | undefined
    const send = (next: Request): Effect.Effect<A, HttpError.HttpError> => {
      // A flow that sends again is done with the earlier response: release its connection now.
      const release = previous === undefined ? Effect.void : previous.close
      previous = undefined
      return Effect.zipRight(
        release,
        Effect.tap(
          // What hooks see and the response keeps is printable without its secrets, whoever built it (a spread).
          Effect.provideService(hop(printable(next)), Scope.Scope, scope),
          (response) => {
            if (streaming) previous = response as StreamingResponse
          }
        )
      )
    }
    // A flow that fails after a send (a challenge it cannot answer) leaves that response unreturned: the caller
    // cannot close it, and its scope may live long, so release it here.
    return Effect.onError(
      auth.flow(request, send as any) as Effect.Effect<A, HttpError.HttpError>,
      () => Effect.suspend(() => previous === undefined ? Effect.void : previous.close)
    )
  })

export const authenticate = (client: Auth | undefined) => (next: Transport.Transport): Transport.Transport => {
  const send = Transport.sendOf(next)
  const handle = (request: Request) => next.handle(request)
  return Transport.make(
    (request) => {
      const auth = authOf(request, client)
      return auth === undefined ? next.handle(request) : flow(auth, request, handle, true)
    },
    {
      send: (request) => {
        const auth = authOf(request, client)
        // A buffered response holds no connection, so the flow's scope can end with the request.
        return auth === undefined ? send(request) : Effect.scoped(flow(auth, request, send, false))
      }
    }
  )
}
