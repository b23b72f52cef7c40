// The shape of one `tun doctor` check and the runner that walks the list in
// order. A check that needs an earlier one which did not pass is skipped, so a
// broken hop shows as one ✗ (with its fix) instead of a cascade of them.

export type CheckStatus = "pass" | "fail" | "skip";

export interface CheckResult {
  id: string;
  status: CheckStatus;
  /** What was checked, e.g. "SSH login as alice@vm.example.com:22". */
  what: string;
  /** What was found (pass), or what is wrong (fail), or why it did not run (skip). */
  detail: string;
  /** For a failure: what to do about it (absent when the detail already says it). */
  fix?: string;
  /** For a failure whose detail is a complete message of its own: the exit code it carries. */
  exitCode?: number;
}

/** What a check's run() returns: a pass with what it found, or a failure with the fix. */
export type Outcome = { ok: true; detail: string } | { ok: false; detail: string; fix: string };

/**
 * Thrown by a check whose failure is already one complete line with its fix
 * (e.g. a wrong passphrase): reported as is, and `tun up` exits with its code.
 */
export class CompleteFailure extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface Check<C> {
  id: string;
  what: (ctx: C) => string;
  /** Ids of checks that must have passed first. */
  needs?: readonly string[];
  /** Returns null when the check does not apply (e.g. Azure not configured): reported as skipped. */
  run: (ctx: C) => Promise<Outcome | { skip: string }>;
}

export const pass = (detail: string): Outcome => ({ ok: true, detail });
export const fail = (detail: string, fix: string): Outcome => ({ ok: false, detail, fix });

/** Runs the checks in order; an exception inside a check is reported as its failure (one line). */
export async function runChecks<C>(
  checks: readonly Check<C>[],
  ctx: C,
  onResult: (r: CheckResult) => void = () => {},
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const byId = new Map<string, CheckResult>();
  for (const check of checks) {
    const what = check.what(ctx);
    const missing = (check.needs ?? []).map((id) => byId.get(id)).find((r) => r && r.status !== "pass");
    let result: CheckResult;
    if (missing) {
      result = { id: check.id, status: "skip", what, detail: `skipped: needs "${missing.what}"` };
    } else {
      try {
        const out = await check.run(ctx);
        if ("skip" in out) result = { id: check.id, status: "skip", what, detail: out.skip };
        else if (out.ok) result = { id: check.id, status: "pass", what, detail: out.detail };
        else result = { id: check.id, status: "fail", what, detail: out.detail, fix: out.fix };
      } catch (err) {
        if (err instanceof CompleteFailure) {
          result = { id: check.id, status: "fail", what, detail: err.message, exitCode: err.exitCode };
        } else
          result = {
            id: check.id,
            status: "fail",
            what,
            detail: firstLine((err as Error).message),
            fix: "see the message",
          };
      }
    }
    results.push(result);
    byId.set(check.id, result);
    onResult(result);
  }
  return results;
}

export function firstLine(text: string): string {
  return (text.split("\n")[0] ?? "").trim();
}

const MARK: Record<CheckStatus, string> = { pass: "✓", fail: "✗", skip: "-" };

/** One line: "✓ what: detail" / "✗ what: detail; fix: …" / "- what: skipped …". */
export function formatResult(r: CheckResult): string {
  const line = `${MARK[r.status]} ${r.what}: ${r.detail}`;
  return r.status === "fail" && r.fix ? `${line}; fix: ${r.fix}` : line;
}
