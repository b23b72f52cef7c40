// Terminal questions for `tun init` and key passphrases. Only used when stdin
// is a TTY; callers decide what to do otherwise (usually one clear error line).
import { createInterface } from "node:readline";
import { EXIT_INTERRUPTED, UserError } from "../errors.js";

export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

/** Asks on stderr (stdout stays clean for data); `hidden` does not echo what is typed. */
export function ask(question: string, opts: { hidden?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (opts.hidden) {
      // readline echoes through _writeToOutput; swallow everything after the question.
      const internal = rl as unknown as { _writeToOutput: (s: string) => void };
      let asked = false;
      internal._writeToOutput = (s: string) => {
        if (!asked) {
          process.stderr.write(s);
          asked = true;
        }
      };
    }
    rl.on("SIGINT", () => {
      rl.close();
      process.stderr.write("\n");
      reject(new UserError("interrupted", EXIT_INTERRUPTED));
    });
    rl.question(question, (answer) => {
      rl.close();
      if (opts.hidden) process.stderr.write("\n");
      resolve(answer);
    });
  });
}
