// `tun up`'s mail UI in a real browser: the URL it prints, opened in
// Chromium, shows the VM sink's UI through the SSH tunnel (real sshd, Caddy
// and sink), filtered to the tunnel's mail, and live through the proxied stream.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, type TestBrowser } from "../helpers/browser.js";
import { ensureWebBuilt, mailer, rowIds } from "../web/harness.js";
import { DOMAIN, runTun, startHarness, waitUntil, type Harness, type RunningTun } from "./harness.js";

const NAME = "uibrowser";
const TUNNEL_DOMAIN = `${NAME}.${DOMAIN}`;
/** How long `tun up` may take to exit after SIGINT before the test fails. */
const EXIT_TIMEOUT_MS = 10_000;
/** A message sent while the page is open must be in the list within this long (through SSH and the proxy). */
const LIVE_WITHIN_MS = 5_000;

let h: Harness;
let tun: RunningTun;
let tb: TestBrowser;
let mail: ReturnType<typeof mailer>;
let uiUrl = "";

beforeAll(async () => {
  ensureWebBuilt();
  h = await startHarness();
  mail = mailer(h.sink.smtpPort);
  tun = runTun(["up", NAME, String(h.app.port), "--ui", "127.0.0.1:0"], h.env());
  await tun.waitFor(/mail UI: http:\/\/127\.0\.0\.1:\d+\/\S*/);
  uiUrl = /mail UI: (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(tun.stderr() + tun.stdout())![1]!;
  tb = await launchBrowser();
}, 60_000);

afterAll(async () => {
  mail?.close();
  await tb?.close();
  if (tun && tun.child.exitCode === null && tun.child.signalCode === null) {
    tun.child.kill("SIGINT");
    const exited = await Promise.race([
      tun.exited,
      new Promise<null>((r) => setTimeout(() => r(null), EXIT_TIMEOUT_MS).unref()),
    ]);
    // a tun that ignores SIGINT is a failure, but it must not outlive the test
    if (!exited) await tun.stop();
    expect(exited, "tun up exits on SIGINT").not.toBeNull();
  }
  await h?.stop();
});

describe("tun up's mail UI in a browser", () => {
  it("prints a UI URL filtered to the tunnel's mail", () => {
    const url = new URL(uiUrl);
    expect(url.pathname).toBe("/");
    expect(url.searchParams.get("search")).toBe(`to:@${TUNNEL_DOMAIN}`);
  });

  it("shows the tunnel's mail and not the other domain's, and new mail live", async () => {
    const ours = await mail.send({ to: `someone@${TUNNEL_DOMAIN}`, subject: "for the tunnel" });
    const other = await mail.send({ to: "someone@elsewhere.test", subject: "not for the tunnel" });

    const context = await tb.browser.newContext();
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await page.goto(uiUrl);

    const row = page.locator(`a.row[data-id="${ours}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain("for the tunnel");
    await page.getByTestId("result-count").getByText("1 matching").waitFor();
    expect(await rowIds(page)).toEqual([ours]);
    expect(await page.locator(`a.row[data-id="${other}"]`).count()).toBe(0);
    // the search box carries the URL's search
    expect(await page.getByRole("searchbox", { name: "Search messages" }).inputValue()).toBe(
      `to:@${TUNNEL_DOMAIN}`,
    );

    // the stream reaches the page through the tunnel: a new message shows without a reload,
    // and one to another domain, sent just before it, is filtered out of the stream too
    await page.locator(".live-live").waitFor();
    const otherLater = await mail.send({ to: "late@elsewhere.test", subject: "still not for the tunnel" });
    const later = await mail.send({ to: `again@${TUNNEL_DOMAIN}`, subject: "live through the tunnel" });
    await page.locator(`a.row[data-id="${later}"]`).waitFor({ timeout: LIVE_WITHIN_MS });
    await waitUntil("the list to show both tunnel messages", async () => {
      const ids = await rowIds(page);
      return ids.length === 2 && ids[0] === later && ids[1] === ours;
    });
    expect(await page.getByTestId("result-count").textContent()).toBe("2 matching");
    expect(await page.locator(`a.row[data-id="${otherLater}"]`).count()).toBe(0);
    expect(pageErrors).toEqual([]);
    await context.close();
  });
});
