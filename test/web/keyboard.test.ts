// The keyboard: j/k and arrows move the selection (and the focus), Enter
// opens, Esc goes back, / focuses the search, u toggles read on the server,
// # and Delete delete, ? lists the keys.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitUntil } from "../helpers/poll.js";
import { ensureWebBuilt, mailer, openUi, startUiSink, type UiBrowser, type UiSink } from "./harness.js";

let sink: UiSink;
let ui: UiBrowser;
/** Newest first, as the list shows them. */
const ids: string[] = [];

beforeAll(async () => {
  ensureWebBuilt();
  sink = await startUiSink();
  const mail = mailer(sink.smtpPort);
  for (let i = 0; i < 4; i++) {
    const sentId = await mail.send({ subject: `message ${i}` });
    ids.unshift(sentId);
  }
  mail.close();
  ui = await openUi(sink.url);
  await ui.page.getByText("4 messages").waitFor();
});

afterAll(async () => {
  await ui?.close();
  await sink?.stop();
});

const selected = () => ui.page.locator('a.row[aria-current="true"]').getAttribute("data-id");
const focused = () =>
  ui.page.evaluate<string | null>("document.activeElement?.getAttribute('data-id') ?? null");
const serverRead = async (id: string): Promise<boolean> =>
  ((await (await fetch(`${sink.url}/api/v1/messages/${id}`)).json()) as { read: boolean }).read;

describe("web UI: keyboard", () => {
  it("j/k and the arrows move the selection and the focus", async () => {
    expect(await selected()).toBe(ids[0]);
    await ui.page.keyboard.press("j");
    expect(await selected()).toBe(ids[1]);
    expect(await focused()).toBe(ids[1]);
    await ui.page.keyboard.press("ArrowDown");
    expect(await selected()).toBe(ids[2]);
    await ui.page.keyboard.press("k");
    expect(await selected()).toBe(ids[1]);
    await ui.page.keyboard.press("ArrowUp");
    await ui.page.keyboard.press("ArrowUp");
    expect(await selected()).toBe(ids[0]);
  });

  it("Enter opens the selected message, j moves to the next one there, Esc goes back", async () => {
    await ui.page.keyboard.press("j");
    await ui.page.keyboard.press("Enter");
    await ui.page.waitForURL(`**/messages/${ids[1]}`);
    await ui.page.getByRole("heading", { name: "message 2" }).waitFor();
    await ui.page.keyboard.press("j");
    await ui.page.waitForURL(`**/messages/${ids[2]}`);
    await ui.page.getByRole("heading", { name: "message 1" }).waitFor();
    await ui.page.keyboard.press("Escape");
    await ui.page.waitForURL((u) => u.pathname === "/");
    expect(await selected()).toBe(ids[2]);
    // the browser's back button returns to the message
    await ui.page.goBack();
    await ui.page.waitForURL(`**/messages/${ids[2]}`);
    await ui.page.keyboard.press("Escape");
    await ui.page.waitForURL((u) => u.pathname === "/");
  });

  it("u toggles the read state on the server", async () => {
    await ui.page.keyboard.press("k"); // ids[1], read since it was opened
    expect(await selected()).toBe(ids[1]);
    await waitUntil("ids[1] read", () => serverRead(ids[1]!));
    await ui.page.keyboard.press("u");
    await waitUntil("ids[1] unread on the server", async () => !(await serverRead(ids[1]!)));
    await ui.page.locator(`a.row.unread[data-id="${ids[1]}"]`).waitFor();
    await ui.page.keyboard.press("u");
    await waitUntil("ids[1] read again", () => serverRead(ids[1]!));
  });

  it("/ focuses the search box and Esc leaves it", async () => {
    await ui.page.keyboard.press("/");
    const box = ui.page.getByRole("searchbox", { name: "Search messages" });
    await waitUntil("the search box to have focus", () =>
      box.evaluate((el) => el === el.ownerDocument.activeElement),
    );
    await ui.page.keyboard.press("Escape");
    await waitUntil("the search box to lose focus", async () =>
      box.evaluate((el) => el !== el.ownerDocument.activeElement),
    );
  });

  it("# and Delete delete the selected message", async () => {
    await ui.page.locator(`a.row[data-id="${ids[3]}"]`).focus();
    expect(await selected()).toBe(ids[3]);
    await ui.page.keyboard.press("#");
    await waitUntil("ids[3] gone on the server", async () => {
      return (await fetch(`${sink.url}/api/v1/messages/${ids[3]}`)).status === 404;
    });
    await ui.page.getByText("3 messages").waitFor();
    const next = await selected();
    expect(next).toBe(ids[2]);
    await ui.page.keyboard.press("Delete");
    await waitUntil(
      "ids[2] gone",
      async () => (await fetch(`${sink.url}/api/v1/messages/${ids[2]}`)).status === 404,
    );
    await ui.page.getByText("2 messages").waitFor();
  });

  it("? lists the keys", async () => {
    await ui.page.keyboard.press("?");
    const dialog = ui.page.getByRole("dialog", { name: "Keyboard" });
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain("delete the message");
    await ui.page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
    expect(ui.pageErrors).toEqual([]);
  });
});
