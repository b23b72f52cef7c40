// Whether console output gets colour: only on a terminal, and never when the
// user opted out with NO_COLOR (https://no-color.org: any non-empty value).

export function useColor(stream: NodeJS.WritableStream & { isTTY?: boolean }): boolean {
  if (process.env.NO_COLOR) return false;
  return stream.isTTY === true;
}
