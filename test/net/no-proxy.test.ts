/**
 * NO_PROXY entries as curl reads them: CIDR ranges match IP literals, besides hosts, domains and "*".
 */
import { describe, expect, it } from "@effect/vitest"
import { proxyFor, routesFrom, routesFromEnv } from "../../src/internal/connection/proxy.js"
import type { ProxyRoutes } from "../../src/internal/connection/proxy.js"
import { parseTarget } from "../../src/internal/core/url.js"
import type { Target } from "../../src/internal/core/url.js"

const routes = (noProxy: string): ProxyRoutes => {
  const parsed = routesFrom({ http: "http://proxy.test:3128", https: "http://proxy.test:3128", noProxy })
  if (typeof parsed === "string") throw new Error(parsed)
  return parsed
}

const target = (url: string): Target => {
  const parsed = parseTarget(url)
  if ("_tag" in parsed) throw new Error(parsed.message)
  return parsed
}

const direct = (noProxy: string, url: string) => proxyFor(routes(noProxy), target(url)) === undefined

describe("NO_PROXY CIDR ranges", () => {
  it("an IPv4 range exempts the addresses in it and no others", () => {
    expect(direct("10.0.0.0/8", "http://10.1.2.3/")).toBe(true)
    expect(direct("10.0.0.0/8", "https://10.255.255.255/")).toBe(true)
    expect(direct("10.0.0.0/8", "http://11.0.0.1/")).toBe(false)
  })

  it("127.0.0.0/8 exempts every loopback address", () => {
    expect(direct("127.0.0.0/8", "http://127.0.0.1:8080/")).toBe(true)
    expect(direct("127.0.0.0/8", "http://127.1.2.3/")).toBe(true)
  })

  it("an IPv6 range exempts IPv6 literals in it", () => {
    expect(direct("::1/128", "http://[::1]:8080/")).toBe(true)
    expect(direct("[fd00::]/8", "http://[fd12:3456::1]/")).toBe(true)
    expect(direct("::1/128", "http://[::2]/")).toBe(false)
  })

  it("a range sits in a list with other entries", () => {
    expect(direct("example.com, 192.168.0.0/16 ,.internal", "http://192.168.4.5/")).toBe(true)
  })

  it("a range from the NO_PROXY variable is honoured", () => {
    const env = routesFromEnv({ http_proxy: "http://proxy.test:3128", no_proxy: "172.16.0.0/12" })
    if (env === undefined || typeof env === "string") throw new Error(String(env))
    expect(proxyFor(env, target("http://172.20.0.1/"))).toBeUndefined()
    expect(proxyFor(env, target("http://172.32.0.1/"))?.host).toBe("proxy.test")
  })
})

describe("NO_PROXY host entries", () => {
  it("a bracketed IPv6 address with a port exempts that port only", () => {
    expect(direct("[::1]:8080", "http://[::1]:8080/")).toBe(true)
    expect(direct("[::1]:8080", "http://[::1]:9090/")).toBe(false)
  })
})
