// The message view against what mail carries: a hostile message runs no
// script (the UI's marker stays untouched and a local catch server hears
// nothing), an attachment name cannot disguise its type, and the codes panel
// copies a signup mail's code in one click.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitUntil } from "../helpers/poll.js";
import { ensureWebBuilt, mailer, openUi, startUiSink, type UiSink } from "./harness.js";

let sink: UiSink;
let catcher: Server;
let catchUrl = "";
const caught: string[] = [];

beforeAll(async () => {
  ensureWebBuilt();
  sink = await startUiSink();
  catcher = createServer((req, res) => {
    caught.push(`${req.method} ${req.url}`);
    res.end("caught");
  });
  await new Promise<void>((resolve) => catcher.listen(0, "127.0.0.1", resolve));
  catchUrl = `http://127.0.0.1:${(catcher.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => catcher?.close(resolve));
  await sink?.stop();
});

describe("web UI: message view", () => {
  it("a hostile message runs no script", async () => {
    // each attempt signals the catch server and sets a marker in the UI page
    const act = (tag: string) =>
      `fetch('${catchUrl}/${tag}');new Image().src='${catchUrl}/img-${tag}';` +
      `try{top.document.title='pwned-${tag}'}catch(e){};try{parent.localStorage.setItem('pwned','${tag}')}catch(e){}`;
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" onload="${act("svg-attachment")}"><script>${act("svg-script")}</script><rect width="10" height="10"/></svg>`;
    const mail = mailer(sink.smtpPort);
    const sentId = await mail.send({
      subject: "Totally harmless",
      text: "nothing to see",
      html:
        `<body onload="${act("onload")}"><script>${act("script")}</script>` +
        `<img src="nope.png" onerror="${act("onerror")}">` +
        `<svg onload="${act("inline-svg")}"></svg>` +
        `<iframe srcdoc="<script>${act("srcdoc")}</script>"></iframe>` +
        `<a id="js" href="javascript:${act("js-link")}">click</a><p id="hostile">hostile body</p></body>`,
      attachments: [{ filename: "evil.svg", content: svg, contentType: "image/svg+xml" }],
    });
    mail.close();
    const id = sentId;
    const countBefore = ((await (await fetch(`${sink.url}/api/v1/health`)).json()) as { messages: number })
      .messages;

    const ui = await openUi(`${sink.url}/messages/${id}`);
    try {
      const iframe = ui.page.locator('iframe[title="Message HTML"]');
      const sandbox = await iframe.getAttribute("sandbox");
      expect(sandbox).not.toBeNull();
      // never allow-scripts; allow-same-origin alone (so cid: images load) lets nothing run
      expect(sandbox).not.toContain("allow-scripts");
      const frame = ui.page.frameLocator('iframe[title="Message HTML"]');
      await frame.locator("#hostile").waitFor();
      // a click on a javascript: link in the mail does nothing either
      await frame.locator("#js").click();
      // the attachment's SVG preview, and the attachment itself opened in the frame's place
      await ui.page.getByRole("tab", { name: /Attachments/ }).click();
      const preview = ui.page.getByRole("img", { name: "Preview of evil.svg" });
      await waitUntil("the SVG preview to load", () =>
        preview.evaluate((el) => (el as unknown as { complete: boolean }).complete),
      );
      // one round trip through the sink after all of that: anything scheduled has had its chance
      await ui.page.getByRole("tab", { name: "HTML" }).click();
      await frame.locator("#hostile").waitFor();
      await ui.page.evaluate("fetch('/api/v1/health').then((r) => r.json())");

      expect(caught).toEqual([]);
      expect(await ui.page.title()).toBe("tun mail");
      expect(await ui.page.evaluate<string | null>("localStorage.getItem('pwned')")).toBeNull();
      const countAfter = ((await (await fetch(`${sink.url}/api/v1/health`)).json()) as { messages: number })
        .messages;
      expect(countAfter).toBe(countBefore);
      expect(ui.pageErrors).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it("an attachment named with a bidi override shows the override and downloads under a safe name", async () => {
    // U+202E reverses what follows it: shown as is, "invoice\u202egpj.exe" reads "invoiceexe.jpg"
    const disguised = "invoice\u202egpj.exe";
    const mail = mailer(sink.smtpPort);
    const id = await mail.send({
      subject: "Your invoice",
      text: "attached",
      attachments: [
        { filename: disguised, content: "MZ not really", contentType: "application/octet-stream" },
      ],
    });
    mail.close();
    const ui = await openUi(`${sink.url}/messages/${id}`);
    try {
      await ui.page.getByRole("tab", { name: /Attachments/ }).click();
      const name = ui.page.locator(".att-name");
      await expect.poll(() => name.textContent()).toBe("invoice\\u202egpj.exe");
      // its accessible name carries the escaped name too
      const link = ui.page.getByRole("link", { name: "Download invoice\\u202egpj.exe", exact: true });
      expect(await link.getAttribute("download")).toBe("invoice_gpj.exe");
      const [download] = await Promise.all([ui.page.waitForEvent("download"), link.click()]);
      expect(download.suggestedFilename()).toBe("invoice_gpj.exe");
      expect(ui.pageErrors).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it("a bidi override in the subject or a name shows as an escape, in the list and the message", async () => {
    // U+202E reverses what follows: shown as is, the subject would read "Invoice exe.pdf"
    const mail = mailer(sink.smtpPort);
    const id = await mail.send({
      from: '"Billing \u202etset.knab" <billing@shop.test>',
      subject: "Invoice \u202efdp.exe",
      text: "see attached",
    });
    mail.close();
    const ui = await openUi(`${sink.url}/?search=${encodeURIComponent("subject:Invoice")}`);
    try {
      const row = ui.page.locator(`a.row[data-id="${id}"]`);
      await expect.poll(() => row.locator(".subject").textContent()).toBe("Invoice \\u202efdp.exe");
      expect(await row.locator(".from").textContent()).toContain("Billing \\u202etset.knab");
      await row.click();
      await expect.poll(() => ui.page.locator("h1.subject").textContent()).toBe("Invoice \\u202efdp.exe");
      const text = await ui.page.locator("main").innerText();
      expect(text).not.toContain("\u202e");
      expect(ui.pageErrors).toEqual([]);
    } finally {
      await ui.close();
    }
  });

  it("the codes panel copies the code of a signup mail in one click, and flags a misleading link", async () => {
    const mail = mailer(sink.smtpPort);
    const sentId = await mail.send({
      from: "Acme <no-reply@acme.example>",
      to: "new.user@example.test",
      subject: "Confirm your Acme account",
      text: "Welcome!\n\nYour verification code is 739204.\n\nOr confirm here: https://acme.example/confirm?t=abc",
      html:
        "<p>Welcome!</p><p>Your verification code is <b>739204</b>.</p>" +
        '<p><a href="https://acme.example/confirm?t=abc">Confirm your email</a></p>' +
        '<p><a href="https://evil.example/steal">https://acme.example/account</a></p>',
    });
    mail.close();
    const id = sentId;
    const ui = await openUi(`${sink.url}/messages/${id}`, { clipboard: true });
    try {
      const panel = ui.page.getByTestId("codes-panel");
      await panel.waitFor();
      expect(await panel.getByTestId("code").allTextContents()).toEqual(["739204"]);
      await panel.getByRole("button", { name: "Copy code 739204" }).click();
      await panel.getByRole("button", { name: "Copy code 739204" }).getByText("Copied").waitFor();
      expect(await ui.page.evaluate<string>("navigator.clipboard.readText()")).toBe("739204");
      const flagged = panel.locator("li.mismatch");
      expect(await flagged.count()).toBe(1);
      expect(await flagged.textContent()).toContain("https://evil.example/steal");
      expect(await panel.locator("li:not(.mismatch) .link-href").allTextContents()).toContain(
        "https://acme.example/confirm?t=abc",
      );
      expect(ui.pageErrors).toEqual([]);
    } finally {
      await ui.close();
    }
  });
});
