// With several tunnels on one console, each mail is tagged with its tunnel:
// console blocks get "[name] " before every line, NDJSON objects a leading
// "tunnel" field. The printer writes each message in one write(), so chunks
// are whole messages.
import { Writable } from "node:stream";

export function taggedOutput(out: NodeJS.WritableStream, tunnel: string, json: boolean): Writable {
  const prefix = `[${tunnel}] `;
  const tag = (text: string): string =>
    json ? text.replace(/^\{/gm, `{"tunnel":${JSON.stringify(tunnel)},`) : text.replace(/^(?=.)/gm, prefix);
  return new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _enc, done) {
      if (out.write(tag(chunk.toString()))) done();
      else out.once("drain", () => done());
    },
  });
}
