// With several tunnels on one console each mail carries its tunnel's name:
// before every line of a console block, as a leading field of an NDJSON object.
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { taggedOutput } from "../../cli/tunnel/tagged-output.js";

async function through(json: boolean, text: string): Promise<string> {
  const sink = new PassThrough();
  let out = "";
  sink.on("data", (d: Buffer) => (out += d.toString()));
  const tagged = taggedOutput(sink, "api", json);
  await new Promise<void>((resolve) => tagged.write(text, () => resolve()));
  return out;
}

describe("tagged output", () => {
  it("prefixes every non-empty line of a console block", async () => {
    expect(await through(false, "From: a@b\nSubject: Hi\n\n")).toBe("[api] From: a@b\n[api] Subject: Hi\n\n");
  });

  it("adds a leading tunnel field to each NDJSON object, which stays valid JSON", async () => {
    const line = JSON.stringify({ id: "01J", subject: "Hi" }) + "\n";
    const out = await through(true, line);
    expect(JSON.parse(out)).toEqual({ tunnel: "api", id: "01J", subject: "Hi" });
    expect(Object.keys(JSON.parse(out) as object)[0]).toBe("tunnel");
  });
});
