#!/usr/bin/env node
// The `tun` executable. A committed stub rather than dist/cli/main.js itself:
// npm links a package's bin when it installs it, before `prepare` builds dist/,
// and skips a bin whose file does not exist yet; without this stub a fresh clone's
// `npx tun` would fall through to the unrelated `tun` package on the registry.
import "../dist/cli/main.js";
