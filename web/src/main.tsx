import { render } from "preact";
import { App } from "./ui/App";
import "./style.css";

render(<App />, document.getElementById("app")!);

// The page and its files kept for offline reloads (served by the app: apps/common/web.py).
if ("serviceWorker" in navigator) {
  void navigator.serviceWorker.register("/sw.js").catch((error) => console.warn("no offline reloads:", error));
}
