/**
 * How `timeout` options resolve: the head deadline's default of 60 seconds never cuts short a read timeout the caller
 * raised above it, and one given explicitly is kept as it is.
 */
import { describe, expect, it } from "@effect/vitest"
import { resolve } from "../../src/internal/core/timeouts.js"

describe("the head deadline", () => {
  it("is 60 seconds by default, and with the default read timeout", () => {
    expect(resolve(undefined).head).toBe(60_000)
    expect(resolve({ connect: "1 second" }).head).toBe(60_000)
    expect(resolve("10 seconds").head).toBe(60_000)
  })

  it("is never shorter than a read timeout raised above it, in either form", () => {
    expect(resolve("120 seconds").head).toBe(120_000)
    expect(resolve({ read: "10 minutes" }).head).toBe(600_000)
  })

  it("keeps its 60 seconds when the read timeout is off, and is off with every timeout", () => {
    expect(resolve({ read: null }).head).toBe(60_000)
    expect(resolve(null).head).toBe(0)
  })

  it("given explicitly, is kept as given, whatever the read timeout", () => {
    expect(resolve({ read: "10 minutes", head: "30 seconds" }).head).toBe(30_000)
    expect(resolve({ read: "10 minutes", head: null }).head).toBe(0)
  })
})
