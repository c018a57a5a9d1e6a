/**
 * The request methods that may be sent again after a failure without changing what the server does (RFC 9110
 * §9.2.2): the one list the client's retries and the connections' resend of a stale keep-alive both use.
 */
const IDEMPOTENT: ReadonlySet<string> = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"])

export const isIdempotent = (method: string): boolean => IDEMPOTENT.has(method)
