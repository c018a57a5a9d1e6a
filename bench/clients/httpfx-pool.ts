// httpfx's own pool: the engine under every other httpfx client.
import { Effect } from "effect"
import { Pool } from "../../src/index.js"
import { limitsFor, runHttpfx } from "./httpfx-common.js"

runHttpfx("httpfx-pool", (config) => Effect.orDie(Pool.make(limitsFor(config))))
