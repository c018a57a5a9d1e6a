import { describe, expect, it } from "vitest"
import { CookieJar, parseCookieDate, parseSetCookie } from "../../src/internal/pipeline/cookieJar.js"

// Fixed clocks: 2023-11-14T22:13:20Z, and one hour later.
const NOW = 1_700_000_000_000
const LATER = NOW + 3_600_000

const jarWith = (url: string, ...lines: Array<string>): CookieJar => {
  const jar = new CookieJar()
  jar.store(url, lines, NOW)
  return jar
}

describe("CookieJar domains (RFC 6265 §5.3 steps 4-6)", () => {
  it("sends a cookie without Domain back to its host only, and a Domain cookie to subdomains too", () => {
    const jar = jarWith("http://example.com/", "host=1", "dom=2; Domain=example.com")
    expect(jar.header("http://example.com/", NOW)).toBe("host=1; dom=2")
    expect(jar.header("http://www.example.com/", NOW)).toBe("dom=2")
    expect(jar.header("http://a.b.example.com/", NOW)).toBe("dom=2")
    expect(jar.header("http://other.com/", NOW)).toBeUndefined()
  })

  it("records host-only for a cookie without Domain", () => {
    const jar = jarWith("http://www.example.com/", "a=1", "b=2; Domain=example.com")
    expect(jar.toArray(NOW).map((c) => [c.name, c.domain, c.hostOnly])).toEqual([
      ["a", "www.example.com", true],
      ["b", "example.com", false]
    ])
  })

  it("does not send a parent's host-only cookie to a subdomain, nor a subdomain's to the parent", () => {
    const jar = new CookieJar()
    jar.store("http://example.com/", ["parent=1"], NOW)
    jar.store("http://www.example.com/", ["child=1"], NOW)
    expect(jar.header("http://www.example.com/", NOW)).toBe("child=1")
    expect(jar.header("http://example.com/", NOW)).toBe("parent=1")
  })

  it("ignores a leading dot and letter case in Domain", () => {
    const jar = jarWith("http://www.example.com/", "a=1; Domain=.EXAMPLE.com")
    expect(jar.toArray(NOW)[0]?.domain).toBe("example.com")
    expect(jar.header("http://api.example.com/", NOW)).toBe("a=1")
  })

  it.each([
    ["an unrelated domain", "Domain=other.com"],
    ["a subdomain of the host", "Domain=sub.www.example.com"],
    ["a sibling", "Domain=api.example.com"],
    ["a string suffix that is not a parent domain", "Domain=ample.com"],
    ["a public suffix", "Domain=com"]
  ])("ignores a cookie whose Domain is %s", (_, attribute) => {
    const jar = jarWith("http://www.example.com/", `a=1; ${attribute}`)
    expect(jar.isEmpty).toBe(true)
  })

  it("keeps a single-label Domain equal to the host, as host-only", () => {
    const jar = jarWith("http://localhost:8080/", "a=1; Domain=localhost")
    expect(jar.toArray(NOW)[0]).toMatchObject({ domain: "localhost", hostOnly: true })
    expect(jar.header("http://localhost/", NOW)).toBe("a=1")
    expect(jar.header("http://sub.localhost/", NOW)).toBeUndefined()
  })

  it("treats an empty Domain as absent and a bare dot as host-only", () => {
    expect(jarWith("http://www.example.com/", "a=1; Domain=").toArray(NOW)[0]?.hostOnly).toBe(true)
    expect(jarWith("http://www.example.com/", "a=1; Domain=.").toArray(NOW)[0]?.hostOnly).toBe(true)
  })

  it("uses the last Domain attribute", () => {
    const jar = jarWith("http://www.example.com/", "a=1; Domain=other.com; Domain=example.com")
    expect(jar.toArray(NOW)[0]?.domain).toBe("example.com")
  })

  it("accepts an IP address as Domain only when it is the host, and never for other addresses", () => {
    const jar = jarWith("http://127.0.0.1:9000/", "same=1; Domain=127.0.0.1", "other=1; Domain=127.0.0.2")
    expect(jar.header("http://127.0.0.1/", NOW)).toBe("same=1")
    expect(jar.header("http://127.0.0.2/", NOW)).toBeUndefined()
    expect(jarWith("http://192.168.1.1/", "a=1; Domain=168.1.1").isEmpty).toBe(true)
    expect(jarWith("http://example.com/", "a=1; Domain=93.184.216.34").isEmpty).toBe(true)
  })

  it("keeps cookies of an IP host to that address", () => {
    const jar = jarWith("http://10.0.0.1/", "a=1")
    expect(jar.header("http://10.0.0.1/x", NOW)).toBe("a=1")
    expect(jar.header("http://10.0.0.2/x", NOW)).toBeUndefined()
  })

  it("ignores the port: cookies do not isolate by port (§8.5)", () => {
    const jar = jarWith("http://example.com:8080/", "a=1")
    expect(jar.header("http://example.com:9090/", NOW)).toBe("a=1")
  })

  it("compares an internationalised Domain in its A-label form", () => {
    const jar = jarWith("http://www.bücher.example/", "a=1; Domain=bücher.example")
    expect(jar.toArray(NOW)[0]?.domain).toBe("xn--bcher-kva.example")
    expect(jar.header("http://shop.xn--bcher-kva.example/", NOW)).toBe("a=1")
  })
})

describe("CookieJar public suffixes (§5.3 step 5)", () => {
  it.each([
    ["an ICANN suffix", "http://www.example.co.uk/", "co.uk", "http://other.co.uk/"],
    ["a private suffix", "http://alice.github.io/", "github.io", "http://mallory.github.io/"],
    ["a suffix from a wildcard rule (*.ck)", "http://www.shop.ck/", "shop.ck", "http://bank.shop.ck/"],
    ["a suffix written with trailing dots", "http://www.example.co.uk./", "co.uk.", "http://other.co.uk./"],
    ["a suffix behind an empty label", "http://www..co.uk/", "..co.uk", "http://other..co.uk/"]
  ])("ignores a cookie whose Domain is %s, so no neighbour under it receives it", (_, from, domain, neighbour) => {
    const jar = jarWith(from, `a=1; Domain=${domain}`)
    expect(jar.isEmpty).toBe(true)
    expect(jar.header(neighbour, NOW)).toBeUndefined()
  })

  it("keeps a Domain one label below a suffix, for that site's hosts only", () => {
    const jar = jarWith("http://www.example.co.uk/", "site=1; Domain=example.co.uk", "wide=1; Domain=co.uk")
    expect(jar.header("http://api.example.co.uk/", NOW)).toBe("site=1")
    expect(jar.header("http://other.co.uk/", NOW)).toBeUndefined()
    // "!www.ck" is an exception to "*.ck": www.ck is a site, not a suffix.
    expect(jarWith("http://a.www.ck/", "a=1; Domain=www.ck").toArray(NOW)[0]).toMatchObject({ hostOnly: false })
  })

  it("keeps the Domain of a host that is itself a public suffix, as host-only", () => {
    const jar = jarWith("http://github.io/", "a=1; Domain=github.io")
    expect(jar.toArray(NOW)[0]).toMatchObject({ domain: "github.io", hostOnly: true })
    expect(jar.header("http://github.io/", NOW)).toBe("a=1")
    expect(jar.header("http://alice.github.io/", NOW)).toBeUndefined()
  })
})

describe("CookieJar paths (§5.1.4)", () => {
  it.each([
    ["/docs/web/page", "/docs/web"],
    ["/docs/", "/docs"],
    ["/docs", "/"],
    ["/", "/"]
  ])("derives the default path of a cookie from %s as %s", (requestPath, expected) => {
    const jar = jarWith(`http://example.com${requestPath}?q=1`, "a=1")
    expect(jar.toArray(NOW)[0]?.path).toBe(expected)
  })

  it("uses the default path when Path does not start with a slash or is empty", () => {
    expect(jarWith("http://example.com/a/b", "a=1; Path=relative").toArray(NOW)[0]?.path).toBe("/a")
    expect(jarWith("http://example.com/a/b", "a=1; Path=").toArray(NOW)[0]?.path).toBe("/a")
  })

  it("matches /docs against /docs, /docs/ and /docs/web but not /docsets", () => {
    const jar = jarWith("http://example.com/", "a=1; Path=/docs")
    expect(jar.header("http://example.com/docs", NOW)).toBe("a=1")
    expect(jar.header("http://example.com/docs/", NOW)).toBe("a=1")
    expect(jar.header("http://example.com/docs/web", NOW)).toBe("a=1")
    expect(jar.header("http://example.com/docs?x=1", NOW)).toBe("a=1")
    expect(jar.header("http://example.com/docsets", NOW)).toBeUndefined()
    expect(jar.header("http://example.com/", NOW)).toBeUndefined()
  })

  it("matches a path ending in a slash only below it", () => {
    const jar = jarWith("http://example.com/", "a=1; Path=/docs/")
    expect(jar.header("http://example.com/docs/web", NOW)).toBe("a=1")
    expect(jar.header("http://example.com/docs/", NOW)).toBe("a=1")
    expect(jar.header("http://example.com/docs", NOW)).toBeUndefined()
  })

  it("keeps cookies of the same name on different paths apart", () => {
    const jar = jarWith("http://example.com/", "a=root; Path=/", "a=docs; Path=/docs")
    expect(jar.size).toBe(2)
    expect(jar.header("http://example.com/docs/x", NOW)).toBe("a=docs; a=root")
  })
})

describe("CookieJar expiry (§5.2.1, §5.2.2)", () => {
  it("keeps a cookie without Expires or Max-Age as a session cookie", () => {
    const jar = jarWith("http://example.com/", "a=1")
    expect(jar.toArray(NOW)[0]?.expires).toBeUndefined()
    expect(jar.header("http://example.com/", NOW + 10 * 365 * 86_400_000)).toBe("a=1")
  })

  it("expires a cookie at its Max-Age and purges it when next seen", () => {
    const jar = jarWith("http://example.com/", "a=1; Max-Age=60")
    expect(jar.toArray(NOW)[0]?.expires).toBe(NOW + 60_000)
    expect(jar.header("http://example.com/", NOW + 59_999)).toBe("a=1")
    expect(jar.header("http://example.com/", NOW + 60_000)).toBeUndefined()
    expect(jar.isEmpty).toBe(true)
  })

  it("lets Max-Age win over Expires, in either order", () => {
    const past = "Expires=Wed, 21 Oct 2015 07:28:00 GMT"
    expect(jarWith("http://example.com/", `a=1; ${past}; Max-Age=60`).toArray(NOW)[0]?.expires).toBe(NOW + 60_000)
    expect(jarWith("http://example.com/", `a=1; Max-Age=60; ${past}`).toArray(NOW)[0]?.expires).toBe(NOW + 60_000)
    const jar = jarWith("http://example.com/", "a=1")
    jar.store("http://example.com/", ["a=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT; Max-Age=0"], NOW)
    expect(jar.isEmpty).toBe(true)
  })

  it("deletes an existing cookie with Max-Age=0 or a negative Max-Age", () => {
    const jar = jarWith("http://example.com/", "a=1", "b=2", "c=3")
    jar.store("http://example.com/", ["a=; Max-Age=0", "b=x; Max-Age=-5"], LATER)
    expect(jar.header("http://example.com/", LATER)).toBe("c=3")
  })

  it("deletes only the cookie with the same name, domain and path", () => {
    const jar = jarWith("http://www.example.com/", "a=host", "a=dom; Domain=example.com", "a=docs; Path=/docs")
    jar.store("http://www.example.com/", ["a=; Max-Age=0; Domain=example.com"], NOW)
    expect(jar.toArray(NOW).map((c) => c.value)).toEqual(["host", "docs"])
  })

  it("deletes an existing cookie with an Expires in the past", () => {
    const jar = jarWith("http://example.com/", "a=1")
    jar.store("http://example.com/", ["a=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT"], NOW)
    expect(jar.isEmpty).toBe(true)
    expect(jar.header("http://example.com/", NOW)).toBeUndefined()
  })

  it("does not store a new cookie that is already expired", () => {
    const jar = jarWith("http://example.com/", "a=1; Max-Age=0", "b=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT")
    expect(jar.isEmpty).toBe(true)
  })

  it("expires a cookie at its Expires date", () => {
    const expires = Date.UTC(2023, 10, 15, 0, 0, 0)
    const jar = jarWith("http://example.com/", "a=1; Expires=Wed, 15 Nov 2023 00:00:00 GMT")
    expect(jar.toArray(NOW)[0]?.expires).toBe(expires)
    expect(jar.header("http://example.com/", expires - 1)).toBe("a=1")
    expect(jar.header("http://example.com/", expires)).toBeUndefined()
  })

  it.each(["abc", "+60", "1.5", "60s", "", "-"])("ignores the Max-Age %j", (maxAge) => {
    const jar = jarWith("http://example.com/", `a=1; Max-Age=${maxAge}`)
    expect(jar.toArray(NOW)[0]?.expires).toBeUndefined()
  })

  it("ignores an invalid Expires and keeps a session cookie", () => {
    const jar = jarWith("http://example.com/", "a=1; Expires=tomorrow")
    expect(jar.toArray(NOW)[0]?.expires).toBeUndefined()
  })

  it("clamps an enormous Max-Age", () => {
    const jar = jarWith("http://example.com/", `a=1; Max-Age=${"9".repeat(400)}`)
    expect(jar.toArray(NOW)[0]?.expires).toBe(8.64e15)
  })

  it("counts only live cookies in size and toArray", () => {
    const jar = jarWith("http://example.com/", "a=1; Max-Age=60", "b=2")
    expect(jar.toArray(NOW + 61_000).map((c) => c.name)).toEqual(["b"])
    expect(jar.size).toBe(1)
  })
})

describe("parseCookieDate (§5.1.1)", () => {
  const expected = Date.UTC(2015, 9, 21, 7, 28, 0)

  it.each([
    ["RFC 1123", "Wed, 21 Oct 2015 07:28:00 GMT"],
    ["RFC 850", "Wednesday, 21-Oct-15 07:28:00 GMT"],
    ["asctime", "Wed Oct 21 07:28:00 2015"],
    ["no zone, read as UTC", "Wed, 21 Oct 2015 07:28:00"],
    ["dashes and odd case", "21-OCT-2015 07:28:00 utc"],
    ["a full month name", "21 October 2015 07:28:00"],
    ["single-digit time fields", "21 Oct 2015 7:28:0"]
  ])("reads the %s form", (_, input) => {
    expect(parseCookieDate(input)).toBe(expected)
  })

  it("maps two-digit years 70-99 to the 1900s and 00-69 to the 2000s", () => {
    expect(parseCookieDate("01 Jan 70 00:00:00")).toBe(Date.UTC(1970, 0, 1))
    expect(parseCookieDate("01 Jan 69 00:00:00")).toBe(Date.UTC(2069, 0, 1))
  })

  it.each([
    ["a missing time", "Wed, 21 Oct 2015"],
    ["a missing year", "Wed, 21 Oct 07:28:00"],
    ["a day that does not exist", "30 Feb 2015 00:00:00"],
    ["an hour out of range", "21 Oct 2015 24:00:00"],
    ["a year before 1601", "21 Oct 1600 00:00:00"],
    ["ISO 8601", "2015-10-21T07:28:00Z"],
    ["nothing", ""]
  ])("rejects %s", (_, input) => {
    expect(parseCookieDate(input)).toBeUndefined()
  })
})

describe("CookieJar Secure (RFC 6265bis §5.7)", () => {
  it("does not send a Secure cookie over http", () => {
    const jar = jarWith("https://example.com/", "s=1; Secure", "p=2")
    expect(jar.header("https://example.com/", NOW)).toBe("s=1; p=2")
    expect(jar.header("http://example.com/", NOW)).toBe("p=2")
  })

  it("does not accept a Secure cookie from http", () => {
    expect(jarWith("http://example.com/", "s=1; Secure").isEmpty).toBe(true)
  })

  it.each(["http://localhost:3000/", "http://127.0.0.1:3000/", "http://[::1]:3000/", "http://app.localhost/"])(
    "treats the loopback origin %s as trustworthy for Secure cookies",
    (url) => {
      const jar = jarWith(url, "s=1; Secure")
      expect(jar.toArray(NOW)[0]?.secure).toBe(true)
      expect(jar.header(url, NOW)).toBe("s=1")
    }
  )

  it("does not let http overwrite a Secure cookie of the same name", () => {
    const jar = jarWith("https://example.com/", "s=secret; Secure; Domain=example.com")
    jar.store("http://www.example.com/", ["s=forged", "other=1"], NOW)
    expect(jar.header("https://www.example.com/", NOW)).toBe("s=secret; other=1")
  })

  it("lets https replace a Secure cookie with a non-Secure one", () => {
    const jar = jarWith("https://example.com/", "s=1; Secure")
    jar.store("https://example.com/", ["s=2"], NOW)
    expect(jar.header("http://example.com/", NOW)).toBe("s=2")
  })

  it("requires Secure for the __Secure- prefix", () => {
    expect(jarWith("https://example.com/", "__Secure-a=1").isEmpty).toBe(true)
    expect(jarWith("https://example.com/", "__Secure-a=1; Secure").isEmpty).toBe(false)
  })

  it("requires Secure, no Domain and Path=/ for the __Host- prefix", () => {
    expect(jarWith("https://example.com/", "__Host-a=1; Secure; Path=/").isEmpty).toBe(false)
    expect(jarWith("https://example.com/", "__Host-a=1; Path=/").isEmpty).toBe(true)
    expect(jarWith("https://example.com/", "__Host-a=1; Secure").isEmpty).toBe(true)
    expect(jarWith("https://example.com/", "__Host-a=1; Secure; Path=/; Domain=example.com").isEmpty).toBe(true)
    expect(jarWith("https://example.com/", "__Host-a=1; Secure; Path=/x").isEmpty).toBe(true)
  })

  it("keeps HttpOnly and SameSite as flags", () => {
    const lines = ["a=1; HttpOnly; SameSite=Strict", "b=2; SameSite=bogus", "c=3; samesite=LAX"]
    const jar = jarWith("https://example.com/", ...lines)
    expect(jar.toArray(NOW).map((c) => [c.httpOnly, c.sameSite])).toEqual([
      [true, "strict"],
      [false, undefined],
      [false, "lax"]
    ])
    expect(jar.header("https://example.com/", NOW)).toBe("a=1; b=2; c=3")
  })
})

describe("CookieJar replacement and order (§5.3 step 11, §5.4)", () => {
  it("replaces a cookie of the same name, domain and path, keeping its creation time and place", () => {
    const jar = jarWith("http://example.com/", "a=1", "b=2")
    jar.store("http://example.com/", ["a=3"], LATER)
    expect(jar.size).toBe(2)
    expect(jar.header("http://example.com/", LATER)).toBe("a=3; b=2")
    expect(jar.toArray(LATER)[0]).toMatchObject({ name: "a", value: "3", createdAt: NOW })
  })

  it("replaces a host-only cookie with a Domain cookie of the same domain (§5.3 step 11)", () => {
    const jar = jarWith("http://example.com/", "a=1")
    jar.store("http://example.com/", ["a=2; Domain=example.com"], LATER)
    expect(jar.toArray(LATER)).toEqual([expect.objectContaining({ value: "2", hostOnly: false, createdAt: NOW })])
  })

  it("sends longer paths first, then earlier cookies", () => {
    const jar = new CookieJar()
    jar.store("http://example.com/", ["root1=1; Path=/"], NOW)
    jar.store("http://example.com/", ["deep=1; Path=/a/b"], NOW + 1)
    jar.store("http://example.com/", ["root2=1; Path=/", "mid=1; Path=/a"], NOW + 2)
    expect(jar.header("http://example.com/a/b/c", NOW + 3)).toBe("deep=1; mid=1; root1=1; root2=1")
  })

  it("orders cookies stored from one response by their order in it", () => {
    const jar = jarWith("http://example.com/", "z=1", "y=2", "x=3")
    expect(jar.header("http://example.com/", NOW)).toBe("z=1; y=2; x=3")
  })

  it("walks the host and its parent domains only", () => {
    const jar = new CookieJar()
    jar.store("http://a.b.example.com/", ["h=1", "b=1; Domain=b.example.com", "e=1; Domain=example.com"], NOW)
    jar.store("http://c.example.com/", ["c=1; Domain=c.example.com"], NOW)
    expect(jar.header("http://a.b.example.com/", NOW)).toBe("h=1; b=1; e=1")
    expect(jar.header("http://x.b.example.com/", NOW)).toBe("b=1; e=1")
    expect(jar.header("http://c.example.com/", NOW)).toBe("e=1; c=1")
  })

  it("does not match a host with a trailing dot to the same name without one", () => {
    const jar = jarWith("http://example.com./", "a=1")
    expect(jar.header("http://example.com./", NOW)).toBe("a=1")
    expect(jar.header("http://example.com/", NOW)).toBeUndefined()
  })
})

describe("CookieJar parsing (§5.2)", () => {
  it.each([
    ["no '=' in the pair", "novalue"],
    ["an empty line", ""],
    ["an empty name and value", "="],
    ["only attributes", "; Path=/"],
    ["blank name and value", "  =  ; Path=/"],
    ["a control character in the value", "a=1\u0001"],
    ["a line feed in the name", "a\nb=1"],
    ["an empty name with '=' in the value", "=a=b"],
    ["an empty name (§5.2 step 5)", "=token"],
    ["a name of spaces and tabs only", " \t=eight"],
    ["an oversized cookie", `a=${"x".repeat(4096)}`]
  ])("ignores a line with %s", (_, line) => {
    const jar = jarWith("http://example.com/", line, "ok=1")
    expect(jar.header("http://example.com/", NOW)).toBe("ok=1")
  })

  it("stores a name and value above U+00FF as their UTF-8 octets, so the Cookie header carries them back", () => {
    // What the HTTP/1.1 parser gives for a UTF-8 field: one Latin-1 character per octet.
    const octets = (text: string) => Buffer.from(text, "utf8").toString("latin1")
    const jar = jarWith("http://example.com/", "名前=春节", "latin=café")
    expect(jar.header("http://example.com/", NOW)).toBe(`${octets("名前")}=${octets("春节")}; latin=café`)
  })

  it("keeps values as sent: quotes, percent-escapes and '=' are not decoded", () => {
    const jar = jarWith("http://example.com/", `q="quoted value"`, "p=a%20b", "e=x=y==")
    expect(jar.header("http://example.com/", NOW)).toBe(`q="quoted value"; p=a%20b; e=x=y==`)
  })

  it("trims spaces and tabs around names, values and attributes", () => {
    const jar = jarWith("http://example.com/x/y", " a \t=\t 1 ;  path = /x ; SECURE ; max-age = 10 ")
    expect(jar.toArray(NOW)).toEqual([])
    jar.store("https://example.com/x/y", [" a \t=\t 1 ;  path = /x ; SECURE ; max-age = 10 "], NOW)
    expect(jar.toArray(NOW)[0]).toMatchObject({
      name: "a",
      value: "1",
      path: "/x",
      secure: true,
      expires: NOW + 10_000
    })
  })

  it("does not split a line on the comma of its Expires date", () => {
    const parsed = parseSetCookie("a=1; Expires=Wed, 21 Oct 2015 07:28:00 GMT; Path=/p", NOW)
    expect(parsed).toMatchObject({ name: "a", value: "1", path: "/p", expires: Date.UTC(2015, 9, 21, 7, 28) })
  })

  it("ignores unknown attributes and oversized attribute values", () => {
    const parsed = parseSetCookie(`a=1; Priority=High; Partitioned; Path=/${"x".repeat(1100)}`, NOW)
    expect(parsed).toMatchObject({ name: "a", value: "1", path: undefined, pathAttribute: false })
  })

  it("ignores Set-Cookie for a URL it cannot parse", () => {
    const jar = new CookieJar()
    jar.store("not a url", ["a=1"], NOW)
    jar.store("ftp://example.com/", ["a=1"], NOW)
    expect(jar.isEmpty).toBe(true)
  })

  it("accepts a URL object", () => {
    const jar = new CookieJar()
    jar.store(new URL("http://example.com/a/b"), ["a=1"], NOW)
    expect(jar.header(new URL("http://example.com/a/c"), NOW)).toBe("a=1")
  })
})

describe("CookieJar by hand", () => {
  it("returns undefined from header on an empty jar without parsing the URL", () => {
    const jar = new CookieJar()
    expect(jar.isEmpty).toBe(true)
    expect(jar.header("not a url")).toBeUndefined()
  })

  it("returns undefined from header when no cookie applies", () => {
    const jar = jarWith("http://example.com/", "a=1; Path=/a")
    expect(jar.header("http://example.com/b", NOW)).toBeUndefined()
    expect(jar.header("http://example.org/a", NOW)).toBeUndefined()
    expect(jar.header("not a url", NOW)).toBeUndefined()
  })

  it("sends a cookie set without a domain to every host", () => {
    const jar = new CookieJar()
    jar.set("token", "abc")
    expect(jar.header("http://example.com/")).toBe("token=abc")
    expect(jar.header("http://10.0.0.1/any/path")).toBe("token=abc")
    expect(jar.toArray()[0]).toMatchObject({ domain: "", path: "/", hostOnly: false, secure: false })
  })

  it("sends a cookie set for a domain to it and its subdomains, on its path", () => {
    const jar = new CookieJar()
    jar.set("a", "1", { domain: ".Example.com", path: "/api" })
    expect(jar.header("http://example.com/api/x")).toBe("a=1")
    expect(jar.header("http://www.example.com/api")).toBe("a=1")
    expect(jar.header("http://www.example.com/")).toBeUndefined()
    expect(jar.header("http://example.org/api")).toBeUndefined()
  })

  it("honours secure and expires given by hand", () => {
    const jar = new CookieJar()
    jar.set("s", "1", { secure: true })
    jar.set("old", "1", { expires: Date.now() - 1000 })
    jar.set("new", "1", { expires: Date.now() + 60_000 })
    expect(jar.header("http://example.com/")).toBe("new=1")
    expect(jar.header("https://example.com/")).toBe("s=1; new=1")
  })

  it("replaces a cookie set by hand with the same name, domain and path", () => {
    const jar = new CookieJar()
    jar.set("a", "1")
    jar.set("a", "2")
    expect(jar.size).toBe(1)
    expect(jar.header("http://example.com/")).toBe("a=2")
  })

  it.each([
    ["a name with '='", "a=b", "1"],
    ["a value with ';'", "a", "1;b=2"],
    ["a value with CR LF", "a", "1\r\nX: y"],
    ["an empty name and value", "", ""],
    ["an empty name (RFC 6265 §5.2 step 5)", "", "token"],
    ["a value above U+00FF", "a", "€"],
    ["a name above U+00FF", "名前", "1"]
  ])("throws for %s, and stores nothing", (_, name, value) => {
    const jar = new CookieJar()
    expect(() => jar.set(name, value)).toThrow(TypeError)
    expect(jar.isEmpty).toBe(true)
  })

  it("names the refused character and its place in the TypeError, never the value", () => {
    expect(() => new CookieJar().set("session", "s3cret€")).toThrow(
      /"session" cannot go in a Cookie header: the value has U\+20AC at index 6/
    )
    expect(() => new CookieJar().set("session", "s3cret€")).not.toThrow(/s3cret/)
  })

  it("leaves out of the Cookie header a stored cookie altered to hold what the header cannot carry", () => {
    const jar = jarWith("http://example.com/", "a=1", "b=2")
    ;(jar.toArray(NOW)[0] as { value: string }).value = "€"
    expect(jar.header("http://example.com/", NOW)).toBe("b=2")
    ;(jar.toArray(NOW)[1] as { value: string }).value = "\r\n"
    expect(jar.header("http://example.com/", NOW)).toBeUndefined()
  })

  it("deletes by name, narrowed by domain and path", () => {
    const jar = new CookieJar()
    const lines = ["a=host", "a=dom; Domain=example.com", "a=docs; Path=/docs", "b=1"]
    jar.store("http://www.example.com/", lines, NOW)
    jar.delete("a", "example.com")
    expect(jar.toArray(NOW).map((c) => c.value)).toEqual(["host", "docs", "1"])
    jar.delete("a", "www.example.com", "/docs")
    expect(jar.toArray(NOW).map((c) => c.value)).toEqual(["host", "1"])
    jar.delete("a")
    expect(jar.toArray(NOW).map((c) => c.value)).toEqual(["1"])
    jar.delete("missing")
    expect(jar.size).toBe(1)
  })

  it("clears everything", () => {
    const jar = jarWith("http://example.com/", "a=1", "b=2")
    jar.set("c", "3")
    expect(jar.size).toBe(3)
    expect(jar.isEmpty).toBe(false)
    jar.clear()
    expect(jar.size).toBe(0)
    expect(jar.isEmpty).toBe(true)
    expect(jar.header("http://example.com/")).toBeUndefined()
  })

  it("keeps at most 180 cookies per domain, dropping the oldest", () => {
    const lines = Array.from({ length: 200 }, (_, i) => `c${i}=${i}`)
    const jar = jarWith("http://example.com/", ...lines)
    const names = jar.toArray(NOW).map((c) => c.name)
    expect(names).toHaveLength(180)
    expect(names[0]).toBe("c20")
    expect(names.at(-1)).toBe("c199")
  })
})
