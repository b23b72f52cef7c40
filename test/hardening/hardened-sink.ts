// What the hardening tests share beyond the SMTP wire: content hashes and an
// in-process sink configured the way `tun sink` parses hardening flags.
import { createHash } from "node:crypto";
import { resolveSinkConfig, type SinkConfig, type SinkFlagValues } from "../../sink/config.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";

export function sha256(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** An in-process sink with hardening flags as `tun sink` would parse them. */
export async function startHardenedSink(
  flags: SinkFlagValues,
  overrides: Partial<SinkConfig> = {},
): Promise<TestSink> {
  const { hardening } = resolveSinkConfig({ smtp: "127.0.0.1:0", ...flags }, {});
  return startTestSink({ hardening, ...overrides });
}
