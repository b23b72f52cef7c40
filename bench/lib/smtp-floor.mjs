// A reference "system": tun's own SMTP layer (smtp-server through the sink's
// PromptSMTPServer subclass, greeting delay removed, reverse DNS off) that
// reads each message and answers 250 without parsing, storing or streaming
// it. Its figures are the most our sink could reach on this machine while it
// is built on smtp-server: the distance from here to the sink is the cost of
// the pipeline, the distance from here to Postfix's smtp-sink is the cost of
// the library and Node.
// usage: node bench/lib/smtp-floor.mjs PORT
import { PromptSMTPServer } from "../../sink/dist/sink/smtp/prompt-server.js";

const port = Number(process.argv[2]);
const server = new PromptSMTPServer({
  name: "smtp-floor",
  logger: false,
  disableReverseLookup: true,
  authOptional: true,
  disabledCommands: ["STARTTLS", "AUTH"],
  hideSTARTTLS: true,
  size: 64 * 1024 * 1024,
  onData(stream, _session, callback) {
    const chunks = [];
    stream.on("data", (chunk) => chunks.push(chunk));
    // the sink needs the message in one buffer too; keep that copy in the floor
    stream.on("end", () => callback(null, `Ok: ${Buffer.concat(chunks).length} bytes`));
  },
});
server.listen(port, "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
