// Re-renders a component whenever the list model changes.
import { useLayoutEffect, useState } from "preact/hooks";
import type { ListModel } from "./list-model.js";

export function useModel(model: ListModel): number {
  const [, setTick] = useState(0);
  const rendered = model.version;
  // a layout effect subscribes in the same task as the render, and a change
  // between the render and the subscription (the first page is already on its
  // way when the app first renders) is caught up here
  useLayoutEffect(() => {
    const unsubscribe = model.subscribe(() => setTick((n) => n + 1));
    if (model.version !== rendered) setTick((n) => n + 1);
    return unsubscribe;
  }, [model]);
  return model.version;
}
