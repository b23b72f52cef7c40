// Themes and small screens: dark mode renders dark (system preference and
// the toggle), the page is usable at 375 px, and screenshots of the list and
// of a message in both themes are saved as artifacts (test/web/artifacts/).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureWebBuilt, mailer, openUi, screenshot, startUiSink, type UiSink } from "./harness.js";

/** Pixels the page is wider than the window (it must not scroll sideways). */
const SIDEWAYS_OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth";

let sink: UiSink;
let signupId = "";

beforeAll(async () => {
  ensureWebBuilt();
  sink = await startUiSink();
  const mail = mailer(sink.smtpPort);
  await mail.send({
    from: "Billing <billing@shop.example>",
    to: "ana@example.test",
    subject: "Your invoice #1042",
    text: "Thanks for your order. Total: 42.00 EUR.",
  });
  await mail.send({
    from: "Acme Alerts <alerts@acme.example>",
    to: "dev@example.test",
    subject: "Weekly report",
    text: "All systems normal.",
    attachments: [{ filename: "report.csv", content: "a,b\n1,2\n" }],
  });
  const sentId = await mail.send({
    from: "Acme <no-reply@acme.example>",
    to: "new.user@example.test",
    subject: "Your Acme verification code",
    text: "Welcome to Acme!\n\nYour verification code is 482913. It expires in 10 minutes.\n\nConfirm: https://acme.example/confirm?t=abc",
    html:
      '<div style="font-family:sans-serif;max-width:480px;margin:auto"><h2 style="color:#2563eb">Welcome to Acme!</h2>' +
      '<p>Your verification code is</p><p style="font-size:32px;font-weight:bold;letter-spacing:4px">482913</p>' +
      '<p>It expires in 10 minutes.</p><p><a href="https://acme.example/confirm?t=abc">Confirm your email</a></p></div>',
  });
  signupId = sentId;
  mail.close();
});

afterAll(async () => {
  await sink?.stop();
});

const bodyBackground = (ui: Awaited<ReturnType<typeof openUi>>) =>
  ui.page.evaluate<string>("getComputedStyle(document.body).backgroundColor");
/** Sum of the RGB channels: dark backgrounds are low. */
const brightness = (rgb: string) => (rgb.match(/\d+/g) ?? []).slice(0, 3).reduce((s, n) => s + Number(n), 0);

describe("web UI: look", () => {
  for (const scheme of ["light", "dark"] as const) {
    it(`renders the list and a message in ${scheme} mode`, async () => {
      const ui = await openUi(sink.url, { colorScheme: scheme });
      try {
        await ui.page.locator(`a.row[data-id="${signupId}"]`).waitFor();
        const bg = brightness(await bodyBackground(ui));
        if (scheme === "dark") expect(bg).toBeLessThan(150);
        else expect(bg).toBeGreaterThan(600);
        await screenshot(ui.page, `ui-list-${scheme}`);
        await ui.page.locator(`a.row[data-id="${signupId}"]`).click();
        await ui.page.frameLocator('iframe[title="Message HTML"]').getByText("482913").waitFor();
        await screenshot(ui.page, `ui-message-${scheme}`);
        expect(ui.pageErrors).toEqual([]);
      } finally {
        await ui.close();
      }
    });
  }

  it("the toggle switches to dark over a light system and remembers it", async () => {
    const ui = await openUi(sink.url, { colorScheme: "light" });
    try {
      await ui.page.locator("a.row").first().waitFor();
      const toggle = ui.page.getByRole("button", { name: /^Theme:/ });
      await toggle.click(); // system -> light
      await toggle.click(); // light -> dark
      expect(brightness(await bodyBackground(ui))).toBeLessThan(150);
      await ui.page.reload();
      await ui.page.locator("a.row").first().waitFor();
      expect(brightness(await bodyBackground(ui))).toBeLessThan(150);
    } finally {
      await ui.close();
    }
  });

  it("is usable at 375 px: no sideways scroll, the search box and rows fit", async () => {
    const ui = await openUi(sink.url, { width: 375, height: 740 });
    try {
      await ui.page.locator("a.row").first().waitFor();
      const overflow = await ui.page.evaluate<number>(SIDEWAYS_OVERFLOW);
      expect(overflow).toBeLessThanOrEqual(0);
      const box = await ui.page.getByRole("searchbox", { name: "Search messages" }).boundingBox();
      expect(box!.width).toBeGreaterThan(250);
      await screenshot(ui.page, "ui-list-phone");
      await ui.page.locator(`a.row[data-id="${signupId}"]`).click();
      await ui.page.getByRole("tab", { name: "HTML" }).waitFor();
      expect(await ui.page.evaluate<number>(SIDEWAYS_OVERFLOW)).toBeLessThanOrEqual(0);
      await screenshot(ui.page, "ui-message-phone");
    } finally {
      await ui.close();
    }
  });
});
