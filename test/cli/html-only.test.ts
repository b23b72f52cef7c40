// HTML-only mail reaches the console as readable text: the sink derives `text`
// from the HTML (mailparser's html-to-text), and the renderer shows that.
import nodemailer from "nodemailer";
import { afterAll, beforeAll, expect, test } from "vitest";
import { SinkClient } from "../../client/index.js";
import { formatMessage } from "../../cli/watch/render.js";
import { startTestSink, type TestSink } from "../helpers/sink.js";

let sink: TestSink;
beforeAll(async () => {
  sink = await startTestSink();
});
afterAll(() => sink.stop());

test("an HTML-only message is previewed as text with its code and link", async () => {
  const transport = nodemailer.createTransport({ host: "127.0.0.1", port: sink.smtpPort, secure: false });
  await transport.sendMail({
    from: "shop@shop.test",
    to: "qa@html.test",
    subject: "HTML only",
    html: "<html><head><style>p{}</style></head><body><p>Your code: <b>7731</b></p><p><a href='https://x.test/a?b=1&amp;c=2'>Confirm</a></p></body></html>",
  });
  const client = new SinkClient(sink.url);
  const msg = await client.waitFor({ to: "qa@html.test", timeoutMs: 5000 });
  const out = formatMessage(msg, { color: false });
  expect(out).toContain("Your code: 7731");
  expect(out).toContain("https://x.test/a?b=1&c=2");
  expect(out).not.toContain("HTML only: tun mail open");
});
