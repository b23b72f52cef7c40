// The list is live: mail shows within 1 s of its 250, opening it renders the
// HTML (a cid: image included) and marks it read on the server, and a sink
// restart neither loses nor duplicates a message in the open list.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitUntil } from "../helpers/poll.js";
import {
  ensureWebBuilt,
  mailer,
  openUi,
  rowIds,
  startUiSink,
  type UiBrowser,
  type UiSink,
} from "./harness.js";

/** A 1×1 red PNG, sent inline as cid:dot. */
const DOT_PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==",
  "base64",
);
/** The bound: a message is in the open list within this long after its 250. */
const APPEAR_WITHIN_MS = 1_000;

let sink: UiSink;
let ui: UiBrowser;
let mail: ReturnType<typeof mailer>;

beforeAll(async () => {
  ensureWebBuilt();
  sink = await startUiSink();
  mail = mailer(sink.smtpPort);
  ui = await openUi(sink.url);
  await ui.page.getByText(/0 messages/).waitFor();
});

afterAll(async () => {
  mail?.close();
  await ui?.close();
  await sink?.stop();
});

describe("web UI: live list", () => {
  it("shows a message within 1 s of its 250, newest first, unread", async () => {
    await mail.send({ subject: "first one" });
    const sentId = await mail.send({ subject: "Welcome aboard", to: "new.user@example.test" });
    const acceptedAt = Date.now();
    const id = sentId;
    await ui.page.locator(`a.row[data-id="${id}"]`).waitFor({ timeout: APPEAR_WITHIN_MS });
    expect(Date.now() - acceptedAt).toBeLessThan(APPEAR_WITHIN_MS);
    const row = ui.page.locator(`a.row[data-id="${id}"]`);
    await expect(row.textContent()).resolves.toContain("Welcome aboard");
    await expect(row.getAttribute("class")).resolves.toContain("unread");
    expect((await rowIds(ui.page))[0]).toBe(id);
    await ui.page.getByText("2 messages").waitFor();
    expect(ui.pageErrors).toEqual([]);
  });

  it("opens a message: HTML with its cid: image, and marks it read on the server", async () => {
    const sentId = await mail.send({
      subject: "With a picture",
      html: '<p id="greeting">Hello in HTML</p><img id="dot" src="cid:dot" width="20" height="20">',
      attachments: [{ filename: "dot.png", content: DOT_PNG, cid: "dot", contentType: "image/png" }],
    });
    const id = sentId;
    const row = ui.page.locator(`a.row[data-id="${id}"]`);
    await row.click();
    await ui.page.waitForURL(`**/messages/${id}`);
    const frame = ui.page.frameLocator('iframe[title="Message HTML"]');
    await expect(frame.locator("#greeting").textContent()).resolves.toBe("Hello in HTML");
    await waitUntil("the cid: image to load", () =>
      frame.locator("#dot").evaluate((el) => {
        const img = el as unknown as { complete: boolean; naturalWidth: number };
        return img.complete && img.naturalWidth === 1;
      }),
    );
    await waitUntil("the message to be read on the server", async () => {
      const res = await fetch(`${sink.url}/api/v1/messages/${id}`);
      return ((await res.json()) as { read: boolean }).read;
    });
    // back to the list: the row is no longer bold
    await ui.page.keyboard.press("Escape");
    await ui.page.waitForURL((u) => u.pathname === "/");
    await waitUntil(
      "the row to show as read",
      async () => !(await row.getAttribute("class"))!.includes("unread"),
    );
    // reload keeps the state (it is the server's)
    await ui.page.reload();
    await row.waitFor();
    expect(await row.getAttribute("class")).not.toContain("unread");
    expect(ui.pageErrors).toEqual([]);
  });

  it("loses and duplicates nothing across a sink restart", async () => {
    await ui.page.goto(sink.url);
    await ui.page.locator("a.row").first().waitFor();
    const before = new Set(await rowIds(ui.page));
    await sink.restart();
    // sent while the page is still reconnecting
    const sent: string[] = [];
    for (let i = 0; i < 3; i++) {
      const sentId = await mail.send({ subject: `after restart ${i}` });
      sent.push(sentId);
    }
    await ui.page.locator(".live-live").waitFor();
    for (const id of sent) await ui.page.locator(`a.row[data-id="${id}"]`).waitFor();
    const after = await rowIds(ui.page);
    expect(new Set(after).size).toBe(after.length);
    expect(after.length).toBe(before.size + sent.length);
    for (const id of [...before, ...sent]) expect(after).toContain(id);
    await ui.page.getByText(`${after.length} messages`).waitFor();
  });
});
