// httpfx's high-level Client: what most users call (`client.get` / `client.post`, `client.stream` for large bodies),
// over the same pool.
import { Effect } from "effect"
import { Client } from "../../src/index.js"
import { limitsFor, runHttpfx } from "./httpfx-common.js"

runHttpfx("httpfx-client", (config) => Effect.orDie(Client.make(limitsFor(config))))
