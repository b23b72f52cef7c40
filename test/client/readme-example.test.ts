// Runs the Vitest example from the README against a fresh sink. The example
// lives in readme-example.ts and the doc must contain it verbatim, so the two
// cannot drift apart.
import { readFileSync } from "node:fs";
import { afterAll, expect, test } from "vitest";
import { startTestSink } from "../helpers/sink.js";

const EXAMPLE = new URL("./readme-example.ts", import.meta.url);
const DOC = new URL("../../README.md", import.meta.url);

const sink = await startTestSink();
// Registered before the example's own afterAll, so it runs after it (hooks unwind like a stack).
afterAll(() => sink.stop());
process.env.TUN_SINK_URL = sink.url;
process.env.TUN_SINK_SMTP_PORT = String(sink.smtpPort);

test("the README contains the example verbatim", () => {
  const example = readFileSync(EXAMPLE, "utf8");
  const doc = readFileSync(DOC, "utf8");
  const block = /<!-- example: test\/client\/readme-example\.ts -->\n+```ts\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(block).toBe(example);
});

// The example's tests register into this file.
await import("./readme-example.js");
