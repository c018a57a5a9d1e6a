#!/bin/sh
# A long run of the hostile-server fuzz test with a fresh seed (or FUZZ_SEED to replay one).
# FUZZ_RUNS sets the number of cases [2000]; FUZZ_LOG=1 prints one line per case. Extra arguments go to vitest.
set -eu
seed="${FUZZ_SEED:-$(node -e 'console.log(Math.floor(Math.random() * 2 ** 31))')}"
runs="${FUZZ_RUNS:-2000}"
echo "fuzz: FUZZ_SEED=$seed FUZZ_RUNS=$runs"
FUZZ_SEED="$seed" FUZZ_RUNS="$runs" exec npx vitest run test/fuzz/hostile-server.test.ts "$@"
