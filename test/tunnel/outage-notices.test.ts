// One notice and one recovery line per outage, whichever part noticed it
// first: the SSH link's loss covers its mail streams, a stream's own loss is
// said once for all streams and only when SSH turns out to be fine.
import { describe, expect, it } from "vitest";
import { OutageNotices } from "../../cli/tunnel/outage-notices.js";
import { NOTICE_RECONNECTED, NOTICE_RECONNECTING } from "../../cli/watch/printer.js";
import { waitUntil } from "../helpers/poll.js";

/** How long the notices wait for SSH to notice a stalled network, here, ms. */
const SSH_DETECT_MS = 50;
const LOST = `[mail] ${NOTICE_RECONNECTING}`;
const BACK = `[mail] ${NOTICE_RECONNECTED}`;

function notices(): { n: OutageNotices; lines: string[] } {
  const lines: string[] = [];
  return { n: new OutageNotices((l) => lines.push(l), SSH_DETECT_MS), lines };
}

describe("outage notices", () => {
  it("a stream that drops just before SSH does is covered by the link's one line", async () => {
    const { n, lines } = notices();
    n.streamLine("api", LOST);
    n.streamLine("web", LOST);
    n.linkLost("[tunnel] connection lost; reconnecting…");
    n.linkBack("[tunnel] reconnected");
    n.streamLine("api", BACK);
    n.streamLine("web", BACK);
    // An absence can only be observed over time: give the deferred stream notices three times their delay.
    await new Promise((r) => setTimeout(r, SSH_DETECT_MS * 3)).then(() => n.stop());
    expect(lines).toEqual(["[tunnel] connection lost; reconnecting…", "[tunnel] reconnected"]);
  });

  it("a sink outage while SSH stays up is said once for all streams, and its end once", async () => {
    const { n, lines } = notices();
    n.streamLine("api", LOST);
    n.streamLine("web", LOST);
    await waitUntil("the sink notice", () => lines.length > 0);
    n.streamLine("api", BACK);
    expect(lines).toEqual([LOST]);
    n.streamLine("web", BACK);
    expect(lines).toEqual([LOST, `${BACK} to the VM's sink`]);
    n.stop();
  });

  it("passes other stream lines through and says an admin outage once", () => {
    const { n, lines } = notices();
    n.streamLine("api", "[mail] streaming mail for @api.tun.test from the VM's sink");
    n.adminFailed("cannot reach Caddy's admin API", 15_000);
    n.adminFailed("cannot reach Caddy's admin API", 15_000);
    n.adminOk();
    n.adminOk();
    expect(lines).toEqual([
      "[mail] streaming mail for @api.tun.test from the VM's sink",
      "[tunnel] cannot reach Caddy's admin API; the public URLs may not answer while Caddy is down; re-checking every 15 s",
      "[tunnel] Caddy's admin API on the VM answers again",
    ]);
  });
});
