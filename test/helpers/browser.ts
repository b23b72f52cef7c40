// A real browser for tests: playwright-core driving Debian's chromium
// (installed by scripts/system-deps.sh; Playwright's own browser download does
// not work offline). Playwright gives each launch a fresh, temporary profile.
//
// `mapHosts` makes names resolve to 127.0.0.1 inside the browser only
// (--host-resolver-rules), so one machine can play a foreign site:
// http://evil.example:PORT/ is cross-origin to http://127.0.0.1:8025/.
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM_PATH = process.env.TUN_TEST_CHROMIUM ?? "/usr/bin/chromium";

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchBrowser(opts: { mapHosts?: string[] } = {}): Promise<TestBrowser> {
  const args = [
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ];
  // Chromium refuses its sandbox as root; the tests run as root in CI.
  if (process.getuid?.() === 0) args.push("--no-sandbox");
  if (opts.mapHosts?.length) {
    args.push(`--host-resolver-rules=${opts.mapHosts.map((h) => `MAP ${h} 127.0.0.1`).join(", ")}`);
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args, headless: true });
  return {
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
    },
  };
}
