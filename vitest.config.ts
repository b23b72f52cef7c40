import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const source = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run the workspace packages from source, so code under test that imports
    // @tunmail/client or @tunmail/sink shares one module instance (error classes,
    // instanceof) with tests that import the same files by path. Tests that need the
    // built packages spawn cli/dist or install the packed tarballs (test/packaging/).
    alias: [
      { find: /^@tunmail\/client$/, replacement: source("./client/index.ts") },
      { find: /^@tunmail\/sink$/, replacement: source("./sink/index.ts") },
    ],
  },
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
