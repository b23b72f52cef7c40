// Search in the UI: each operator of the syntax narrows the list to exactly
// the messages it should, the URL keeps the search, a bad query shows the
// server's 400 message, and "Delete matching" deletes exactly the matches.
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

let sink: UiSink;
let ui: UiBrowser;
const id: Record<"a" | "b" | "c", string> = { a: "", b: "", c: "" };
/** An ISO time after b's arrival and before c's. */
let between = "";

beforeAll(async () => {
  ensureWebBuilt();
  sink = await startUiSink();
  const mail = mailer(sink.smtpPort);
  id.a = await mail.send({
    from: "alice@one.example",
    to: "bob@two.example",
    cc: "carol@three.example",
    subject: "Invoice March",
    text: "the quick brown fox",
    attachments: [{ filename: "invoice.txt", content: "total 42" }],
  });
  id.b = await mail.send({
    from: "dave@four.example",
    to: "erin@two.example",
    subject: "Welcome aboard",
    text: "a lazy dog sleeps",
  });
  const b = (await (await fetch(`${sink.url}/api/v1/messages/${id.b}`)).json()) as { receivedAt: string };
  const bMs = Date.parse(b.receivedAt);
  // c must arrive strictly later than `between`
  await waitUntil("the clock to pass b's arrival", () => Date.now() > bMs + 2);
  between = new Date(bMs + 1).toISOString();
  id.c = await mail.send({
    from: "alice@one.example",
    to: "frank@five.example",
    subject: "Reset password",
    text: "your reset link is below " + "padding ".repeat(1500),
  });
  mail.close();
  const patch = await fetch(`${sink.url}/api/v1/messages/${id.b}`, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ read: true }),
  });
  expect(patch.status).toBe(200);
  ui = await openUi(sink.url);
  await ui.page.getByText("3 messages").waitFor();
});

afterAll(async () => {
  await ui?.close();
  await sink?.stop();
});

async function search(text: string): Promise<void> {
  const box = ui.page.getByRole("searchbox", { name: "Search messages" });
  await box.fill(text);
  await box.press("Enter");
}

/** Waits until the list shows exactly `expected` (and says so in its count). */
async function expectList(expected: string[]): Promise<void> {
  const want = [...expected].sort().join(",");
  await waitUntil(`the list to show ${want}`, async () => {
    const count = await ui.page.getByTestId("result-count").textContent();
    const ids = (await rowIds(ui.page)).sort().join(",");
    return count === `${expected.length} matching` && ids === want;
  });
}

describe("web UI: search", () => {
  const cases: [string, () => string, () => string[]][] = [
    ["a bare word", () => "fox", () => [id.a]],
    ['a "quoted phrase"', () => '"lazy dog"', () => [id.b]],
    ["to: @domain", () => "to:@two.example", () => [id.a, id.b]],
    ["from: address", () => "from:alice@one.example", () => [id.a, id.c]],
    ["cc:", () => "cc:carol@three.example", () => [id.a]],
    ["subject:", () => "subject:welcome", () => [id.b]],
    ["has:attachment", () => "has:attachment", () => [id.a]],
    ["is:read", () => "is:read", () => [id.b]],
    ["is:unread", () => "is:unread", () => [id.a, id.c]],
    ["after: an ISO time", () => `after:${between}`, () => [id.c]],
    ["before: an ISO time", () => `before:${between}`, () => [id.a, id.b]],
    ["larger:", () => "larger:8KB", () => [id.c]],
    ["smaller:", () => "smaller:8KB", () => [id.a, id.b]],
    ["- negates", () => "-from:alice@one.example", () => [id.b]],
    ["terms are ANDed", () => "from:alice@one.example -has:attachment", () => [id.c]],
  ];
  for (const [name, query, expected] of cases) {
    it(`${name} narrows the list`, async () => {
      await search(query());
      await expectList(expected());
      expect(new URL(ui.page.url()).searchParams.get("search")).toBe(query());
    });
  }

  it("a reload keeps the search from the URL", async () => {
    await search("to:@two.example");
    await expectList([id.a, id.b]);
    await ui.page.reload();
    await expectList([id.a, id.b]);
    await expect(ui.page.getByRole("searchbox", { name: "Search messages" }).inputValue()).resolves.toBe(
      "to:@two.example",
    );
  });

  it("a bad query shows the server's error, naming the term", async () => {
    const res = await fetch(`${sink.url}/api/v1/messages?search=${encodeURIComponent("colour:red")}`);
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { message: string } };
    await search("colour:red");
    const shown = ui.page.getByTestId("search-error");
    await shown.waitFor();
    expect(await shown.textContent()).toBe(error.message);
    expect(error.message).toContain("colour:red");
    expect(await rowIds(ui.page)).toEqual([]);
  });

  it("Delete matching deletes exactly the matches, after a confirmation stating the count", async () => {
    await search("to:@two.example");
    await expectList([id.a, id.b]);
    await ui.page.getByRole("button", { name: "Delete matching…" }).click();
    const body = ui.page.getByTestId("confirm-body");
    await body.waitFor();
    expect(await body.textContent()).toContain("Delete the 2 messages matching “to:@two.example”");
    await ui.page.getByRole("button", { name: "Delete 2" }).click();
    await waitUntil("the list to empty", async () => (await rowIds(ui.page)).length === 0);
    const left = (await (await fetch(`${sink.url}/api/v1/messages`)).json()) as {
      messages: { id: string }[];
    };
    expect(left.messages.map((m) => m.id)).toEqual([id.c]);
    // and the unfiltered list agrees
    await search("");
    await ui.page.getByText("1 message", { exact: true }).waitFor();
    expect(await rowIds(ui.page)).toEqual([id.c]);
    expect(ui.pageErrors).toEqual([]);
  });
});
