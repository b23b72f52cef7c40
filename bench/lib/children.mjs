// Every process the harness starts is registered here, so an interrupted or
// crashing run (Ctrl-C, an exception) does not leave sinks and load
// generators running on the machine.
const live = new Set();

export function track(child) {
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

function killAll() {
  for (const child of live) child.kill("SIGKILL");
}

process.once("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    console.error(`[bench] ${signal}: stopping the processes it started`);
    killAll();
    process.exit(130);
  });
}
