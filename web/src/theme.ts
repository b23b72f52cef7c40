// Light and dark: the system's choice unless the user picked one, kept in
// localStorage. The CSS reads html[data-theme] (see styles.css).
export type ThemeChoice = "system" | "light" | "dark";

const STORAGE_KEY = "tun-theme";
const ORDER: ThemeChoice[] = ["system", "light", "dark"];

export function loadTheme(): ThemeChoice {
  const v = localStorage.getItem(STORAGE_KEY);
  return v === "light" || v === "dark" ? v : "system";
}

export function applyTheme(choice: ThemeChoice): void {
  if (choice === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = choice;
  if (choice === "system") localStorage.removeItem(STORAGE_KEY);
  else localStorage.setItem(STORAGE_KEY, choice);
}

export function nextTheme(choice: ThemeChoice): ThemeChoice {
  return ORDER[(ORDER.indexOf(choice) + 1) % ORDER.length]!;
}
