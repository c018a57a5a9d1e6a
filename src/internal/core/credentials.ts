/**
 * Credentials: the Basic encoding of a user and password (RFC 7617), and what a printed request, response or error
 * message shows of a secret field instead of its value.
 */

/** Fields whose values are secrets: credentials (RFC 9110 §11.6.2, §11.7.2) and cookies (RFC 6265 §4). */
const SECRET_FIELDS: ReadonlySet<string> = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie"])

const isSecretField = (name: string): boolean => SECRET_FIELDS.has(name.toLowerCase())

// The IANA HTTP Authentication Scheme Registry, with NTLM and AWS's SigV4 for their wide use. Only a registered name is
// shown: the first word of a value of unknown shape may be the secret itself.
const SCHEMES: ReadonlySet<string> = new Set([
  "basic",
  "bearer",
  "concealed",
  "digest",
  "dpop",
  "gnap",
  "hoba",
  "mutual",
  "negotiate",
  "oauth",
  "privatetoken",
  "scram-sha-1",
  "scram-sha-256",
  "vapid",
  "ntlm",
  "aws4-hmac-sha256"
])

/** What is shown of a secret field's value: the scheme of a credential (`Bearer <redacted>`), never the rest. */
const redactedValue = (name: string, value: string): string => {
  const lower = name.toLowerCase()
  if (lower === "authorization" || lower === "proxy-authorization") {
    const match = /^[ \t]*([^ \t,]+)[ \t]/.exec(value)
    if (match !== null && SCHEMES.has(match[1]!.toLowerCase())) return `${match[1]} <redacted>`
  }
  return "<redacted>"
}

/** A field's value as it may be printed. */
export const printableValue = (name: string, value: string): string =>
  isSecretField(name) ? redactedValue(name, value) : value

/** A copy of a header record for printing, secret values redacted. */
export const printableHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name in headers) out[name] = printableValue(name, headers[name]!)
  return out
}

/** The value of an `Authorization: Basic` field for a user and password, given as UTF-8 text or as bytes. */
export const basicAuthorization = (username: string | Uint8Array, password: string | Uint8Array): string =>
  "Basic " + Buffer.concat([Buffer.from(username), Buffer.from(":"), Buffer.from(password)]).toString("base64")

/**
 * A URL's user or password as bytes: WHATWG URL keeps them percent-encoded (non-ASCII as UTF-8), and curl and httpx
 * decode them before use; a `%` that starts no escape stays as it is.
 */
export const percentDecode = (text: string): Uint8Array => {
  if (!text.includes("%")) return Buffer.from(text)
  const bytes: Array<number> = []
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === 37 && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16))
      i += 2
    } else {
      for (const byte of Buffer.from(text[i]!)) bytes.push(byte)
    }
  }
  return Uint8Array.from(bytes)
}
