/** What a span may say about a request: OpenTelemetry's names, and never a credential. */
import { describe, expect, it } from "@effect/vitest"
import {
  captureList,
  fullUrl,
  headerAttributes,
  methodAttributes,
  spanName
} from "../../src/internal/observability/attributes.js"

describe("url.full", () => {
  it("drops the userinfo", () => {
    expect(fullUrl("https://ann:secret@example.test/a?b=1")).toBe("https://example.test/a?b=1")
  })

  it("redacts the values of OpenTelemetry's signature parameters and keeps the rest as sent", () => {
    expect(fullUrl("https://s3.test/k?AWSAccessKeyId=AKIA&Signature=abc%2B&Expires=1&x=a%20b#f"))
      .toBe("https://s3.test/k?AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=1&x=a%20b#f")
    expect(fullUrl("https://blob.test/c?sv=1&sig=xyz")).toBe("https://blob.test/c?sv=1&sig=REDACTED")
    expect(fullUrl("https://gcs.test/o?X-Goog-Signature=00ff&X-Goog-Date=1"))
      .toBe("https://gcs.test/o?X-Goog-Signature=REDACTED&X-Goog-Date=1")
  })

  it("leaves a URL without signature parameters untouched", () => {
    const url = "http://127.0.0.1:8080/search?q=sig&signature_like=1"
    expect(fullUrl(url)).toBe(url)
  })
})

describe("methods and names", () => {
  it("reports known methods as they are and others as _OTHER with the original", () => {
    expect(methodAttributes("GET")).toEqual({ "http.request.method": "GET" })
    expect(methodAttributes("PURGE")).toEqual({
      "http.request.method": "_OTHER",
      "http.request.method_original": "PURGE"
    })
    expect(spanName("POST")).toBe("http.client POST")
    expect(spanName("PURGE")).toBe("http.client HTTP")
  })
})

describe("header capture", () => {
  it("never captures Authorization, Cookie, Proxy-Authorization or Set-Cookie, whatever the allowlist", () => {
    expect(captureList(["Authorization", "cookie", "PROXY-AUTHORIZATION", "Set-Cookie", "X-Request-Id"]))
      .toEqual(["x-request-id"])
  })

  it("captures each allowed field as the list of its values", () => {
    const allowed = captureList(["x-request-id", "accept"])
    const flat = ["X-Request-Id", "1", "Authorization", "Bearer t", "x-request-id", "2", "Content-Type", "text/plain"]
    expect(headerAttributes("response", allowed, flat)).toEqual({ "http.response.header.x-request-id": ["1", "2"] })
  })
})
