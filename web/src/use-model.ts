// Re-renders a component whenever the list model changes.
import { useEffect, useState } from "preact/hooks";
import type { ListModel } from "./list-model.js";

export function useModel(model: ListModel): number {
  const [, setTick] = useState(0);
  useEffect(() => model.subscribe(() => setTick((n) => n + 1)), [model]);
  return model.version;
}
