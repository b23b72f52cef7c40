// Entry point: theme first (no flash of the wrong colours), then the app.
import { render } from "preact";
import { App } from "./components/App.js";
import { applyTheme, loadTheme } from "./theme.js";
import "./styles.css";

applyTheme(loadTheme());
render(<App />, document.getElementById("app")!);
