// httpfx's own pool: the engine under every other httpfx client.
import { Pool } from "../../src/index.js"
import { limitsFor, runHttpfx } from "./httpfx-common.js"

runHttpfx("httpfx-pool", (config) => Pool.make(limitsFor(config)))
