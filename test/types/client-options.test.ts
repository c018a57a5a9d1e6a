/**
 * `Client.Options` is declared twice: in src/Client.ts, with the documentation users see, and in
 * src/internal/client/options.ts, where the client reads it (the client is below the public module and may not import
 * it). `npm run typecheck` compiles this file, so an option added to one and not the other fails the build.
 */
import { describe, it } from "@effect/vitest"
import type { Client } from "httpfx"
import { expectTypeOf } from "vitest"
import type { ClientOptions } from "../../src/internal/client/options.js"

describe("Client.Options", () => {
  it("is the type the client reads, field for field", () => {
    expectTypeOf<Client.Options>().toEqualTypeOf<ClientOptions>()
    expectTypeOf<keyof Client.Options>().toEqualTypeOf<keyof ClientOptions>()
  })
})
