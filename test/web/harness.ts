// The web UI under test: a real sink (in-process, restartable on the same
// ports and database), the built UI it serves, a real Chromium page on it,
// and nodemailer to send mail.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import nodemailer from "nodemailer";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { resolveSinkConfig, type SinkConfig } from "../../sink/config.js";
import { startSink, type RunningSink } from "../../sink/sink.js";
import { launchBrowser, type TestBrowser } from "../helpers/browser.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const WEB_DIR = join(ROOT, "sink", "dist", "web");
export const ARTIFACTS_DIR = join(ROOT, "test", "web", "artifacts");

/** Builds the UI once if this checkout has not (`npm test` builds it first). */
export function ensureWebBuilt(): void {
  if (existsSync(join(WEB_DIR, "index.html"))) return;
  execFileSync(process.execPath, [join(ROOT, "scripts", "build-web.mjs")], { cwd: ROOT, stdio: "inherit" });
}

export interface UiSink {
  url: string;
  smtpPort: number;
  dbPath: string;
  /** Stops and starts the sink again on the same ports and database. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startUiSink(): Promise<UiSink> {
  const dir = mkdtempSync(join(tmpdir(), "tun-web-test-"));
  const dbPath = join(dir, "sink.db");
  const base = resolveSinkConfig({ smtp: "127.0.0.1:0", http: "127.0.0.1:0", db: dbPath }, {});
  let config: SinkConfig = Object.freeze({ ...base, shutdownGraceMs: 1_000, quiet: true });
  let sink: RunningSink | null = await startSink(config);
  // later starts reuse the ports the first one got, so the open page reconnects to the same URL
  config = Object.freeze({ ...config, smtp: sink.smtp, http: sink.http });
  const url = sink.url;
  return {
    url,
    smtpPort: sink.smtp.port,
    dbPath,
    restart: async () => {
      await sink?.close();
      sink = null;
      sink = await startSink(config);
    },
    stop: async () => {
      await sink?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface MailOptions {
  from?: string;
  to?: string | string[];
  cc?: string;
  subject?: string;
  text?: string;
  html?: string;
  attachments?: nodemailer.SendMailOptions["attachments"];
}

export function mailer(smtpPort: number) {
  const transport = nodemailer.createTransport({
    host: "127.0.0.1",
    port: smtpPort,
    secure: false,
    pool: true,
  });
  return {
    /** Sends one message; resolves to the id the sink named in its 250 ("queued as <id>"). */
    send: async (m: MailOptions): Promise<string> => {
      const info = await transport.sendMail({
        from: m.from ?? "sender@example.test",
        to: m.to ?? "someone@example.test",
        subject: m.subject ?? "hello",
        text: m.text ?? "hello there",
        ...(m.cc ? { cc: m.cc } : {}),
        ...(m.html ? { html: m.html } : {}),
        ...(m.attachments ? { attachments: m.attachments } : {}),
      });
      const id = /queued as (\w+)/.exec(info.response)?.[1];
      if (!id) throw new Error(`the sink's reply named no message id: ${info.response}`);
      return id;
    },
    close: () => transport.close(),
  };
}

export interface UiBrowser {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Errors the page logged or threw: a test fails on any. */
  pageErrors: string[];
  close(): Promise<void>;
}

export async function openUi(
  url: string,
  opts: { colorScheme?: "light" | "dark"; width?: number; height?: number; clipboard?: boolean } = {},
): Promise<UiBrowser> {
  const tb: TestBrowser = await launchBrowser();
  const context = await tb.browser.newContext({
    viewport: { width: opts.width ?? 1200, height: opts.height ?? 800 },
    colorScheme: opts.colorScheme ?? "light",
    ...(opts.clipboard ? { permissions: ["clipboard-read", "clipboard-write"] } : {}),
  });
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (err) => pageErrors.push(err.message));
  await page.goto(url);
  return { browser: tb.browser, context, page, pageErrors, close: tb.close };
}

/** Ids of the rows the list shows, top to bottom (the rendered window). */
export async function rowIds(page: Page): Promise<string[]> {
  return page.$$eval("a.row", (els) =>
    els
      .map((e) => ({ id: e.getAttribute("data-id")!, y: e.getBoundingClientRect().top }))
      .sort((a, b) => a.y - b.y)
      .map((r) => r.id),
  );
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path });
  return path;
}
