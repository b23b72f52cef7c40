// Errors a user can act on. The top-level catch in main.ts prints their message
// as one line and exits with their code; anything else is a bug and gets a stack.

export const EXIT_OK = 0;
/** A waited-for thing did not happen (e.g. `tun mail wait` timed out). */
export const EXIT_FAILURE = 1;
/** Bad flag, value or config. */
export const EXIT_USAGE = 2;
/** The sink (or another service) could not be reached. */
export const EXIT_UNREACHABLE = 3;
/** Interrupted by Ctrl-C (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT_FAILURE) {
    super(message);
    this.name = "UserError";
    this.exitCode = exitCode;
  }
}

export class UsageError extends UserError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = "UsageError";
  }
}

export function isUserError(err: unknown): err is UserError {
  return err instanceof UserError;
}
