import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/global.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Tests start real daemons (sink, sshd, Caddy, fake ARM); two cores here, so
    // keep file-level parallelism modest to avoid timing noise.
    maxWorkers: 2,
    teardownTimeout: 20_000,
  },
});
