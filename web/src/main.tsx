// Entry point: theme first (no flash of the wrong colours), then the list's
// first page is asked for, before the first render, so the request is on the
// wire while the app renders its frame, then the app.
import { render } from "preact";
import { App } from "./components/App.js";
import { ListModel } from "./list-model.js";
import { currentRoute } from "./router.js";
import { applyTheme, loadTheme } from "./theme.js";
import "./styles.css";

applyTheme(loadTheme());
const model = new ListModel();
void model.setSearch(currentRoute().search);
render(<App model={model} />, document.getElementById("app")!);
