// End-to-end: the web client in Debian's Chromium (playwright-core), against a real server on
// the real local services (tests/web/test_e2e.py starts them and passes the base URL).
//
//   node e2e/run.mjs http://127.0.0.1:PORT
//
// Each main screen is checked with axe-core (no serious or critical violation) and saved as a
// screenshot under e2e/screenshots/. Exits non-zero at the first failure, saying where.
import AxeBuilder from "@axe-core/playwright";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { library } from "./library.mjs";
import { readers } from "./readers.mjs";
import { todosExtra } from "./todos-extra.mjs";

const base = process.argv[2];
assert.ok(base, "usage: node e2e/run.mjs <base url>");
const here = path.dirname(fileURLToPath(import.meta.url));
const shots = process.env.SCREENSHOTS || path.join(here, "screenshots");
fs.mkdirSync(shots, { recursive: true });
const executablePath = process.env.CHROMIUM || ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => fs.existsSync(p));
const TIMEOUT = 15_000;

const email = `web-${Date.now().toString(36)}@example.org`;
const password = "correct horse battery staple";
const violations = [];
const cspErrors = [];
const blockedHostile = [];

function step(name) {
  console.log(`- ${name}`);
}

// fullPage: false for a screen that fills the window itself (a reader: a full-page capture
// re-lays out the EPUB reader's frames and shows them blank).
async function audit(page, name, { fullPage = true } = {}) {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of bad) violations.push(`${name}: ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join("; ")}`);
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage });
}

async function device(browser, name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, baseURL: base });
  context.setDefaultTimeout(TIMEOUT);
  // Every Content-Security-Policy violation, with what was blocked: the page must cause none,
  // except for the hostile Markdown's own handlers (their code says "pwned"), which Chromium
  // reports as blocked already while DOMPurify parses them in an inert document.
  await context.addInitScript(() => {
    addEventListener("securitypolicyviolation", (e) =>
      console.log(`CSP-VIOLATION ${JSON.stringify({ directive: e.violatedDirective, blocked: e.blockedURI, sample: e.sample, source: e.sourceFile })}`),
    );
  });
  const page = await context.newPage();
  page.on("console", (msg) => {
    const text = msg.text();
    if (text.startsWith("CSP-VIOLATION ")) {
      const report = JSON.parse(text.slice("CSP-VIOLATION ".length));
      return void (/pwned/.test(report.sample) ? blockedHostile : cspErrors).push(`${name}: ${JSON.stringify(report)}`);
    }
    if (/Content.Security.Policy/i.test(text)) return; // the same, as Chromium words it
    if (msg.type() === "error" && !/Failed to load resource|ERR_INTERNET_DISCONNECTED|Failed to fetch/.test(text)) console.log(`  [${name} console] ${text}`);
  });
  page.on("pageerror", (error) => {
    throw new Error(`${name}: uncaught ${error.message}`);
  });
  return { context, page };
}

async function synced(page) {
  await page.getByRole("button", { name: "Sync now" }).click();
  await page.getByTestId("sync-status").filter({ hasText: "All changes synced" }).waitFor();
}

async function taskTitles(page) {
  return page.locator(".tasklist > li > button.title").allTextContents();
}

// A list renders from IndexedDB after a change or a filter (a live query): wait up to 5 s for it
// to show what is expected, then compare (a failure shows what it settled on).
async function titlesAre(page, expected, message) {
  const deadline = Date.now() + 5000;
  let titles = await taskTitles(page);
  while (Date.now() < deadline && JSON.stringify(titles) !== JSON.stringify(expected)) {
    await page.waitForTimeout(50);
    titles = await taskTitles(page);
  }
  assert.deepEqual(titles, expected, message);
}

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
try {
  const a = await device(browser, "device A");
  const { page } = a;

  step("the page: strict CSP, shell not cached, hashed assets cached for good");
  const response = await page.goto("/");
  const headers = response.headers();
  assert.match(headers["content-security-policy"], /script-src 'self'/);
  assert.doesNotMatch(headers["content-security-policy"], /unsafe-inline/);
  assert.match(headers["cache-control"], /no-cache/);
  const script = await page.locator("script[type=module]").getAttribute("src");
  const asset = await page.request.get(script);
  assert.match(asset.headers()["cache-control"], /immutable/);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await audit(page, "01-sign-in");

  step("sign up (keyboard only)");
  await page.getByRole("button", { name: "Create account" }).focus();
  await page.keyboard.press("Enter");
  await page.getByLabel("Name").focus();
  await page.keyboard.type("Ada");
  await page.keyboard.press("Tab");
  await page.keyboard.type(email);
  await page.keyboard.press("Tab");
  await page.keyboard.type(password);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Lists" }).waitFor();

  step("a list, renamed and coloured, and three tasks");
  await page.getByLabel("New list").fill("Groceris");
  await page.getByRole("button", { name: "Add list" }).click();
  await page.getByRole("heading", { name: "Groceris" }).waitFor();
  await page.getByRole("button", { name: "Rename" }).click();
  await page.getByLabel("List name").fill("Groceries");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("heading", { name: "Groceries" }).waitFor();
  await page.getByLabel("Colour").fill("#2e7d32");
  for (const title of ["Milk", "Eggs", "Bread"]) {
    await page.getByLabel("New task").fill(title);
    await page.getByLabel("New task").press("Enter");
    await page.locator(".tasklist button.title", { hasText: title }).waitFor();
  }
  await titlesAre(page, ["Milk", "Eggs", "Bread"]);
  await synced(page);

  step("reorder by dragging: Bread to the top");
  await page.locator("li.task", { hasText: "Bread" }).dragTo(page.locator("li.task", { hasText: "Milk" }));
  await page.waitForFunction(() => document.querySelector(".tasklist > li > button.title")?.textContent === "Bread");
  await titlesAre(page, ["Bread", "Milk", "Eggs"]);

  step("reorder with the keyboard: Milk down one (Alt+ArrowDown)");
  await page.locator("li.task", { hasText: "Milk" }).focus();
  await page.keyboard.press("Alt+ArrowDown");
  await page.waitForFunction(() => [...document.querySelectorAll(".tasklist > li > button.title")].map((b) => b.textContent).join() === "Bread,Eggs,Milk");
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("data-task") !== null), true, "focus stays on the moved task");
  await synced(page);

  step("a recurring task: due today, daily; completing it moves it to tomorrow");
  const today = await page.evaluate(() => { const d = new Date(); return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`; });
  const tomorrow = await page.evaluate(() => { const d = new Date(); d.setDate(d.getDate() + 1); return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`; });
  await page.getByLabel("New task").fill("Water the plants");
  await page.getByLabel("New task").press("Enter");
  await page.getByRole("button", { name: "Water the plants", exact: true }).click();
  await page.getByLabel("Due date").fill(today);
  await page.getByLabel("Repeats").selectOption("daily");
  await page.getByLabel("Priority").selectOption("2");
  await page.getByLabel("Tags (comma separated)").fill("home, garden");
  await audit(page, "03-task-editor");
  await page.getByLabel("New sub-task").fill("Fill the can");
  await page.getByRole("button", { name: "Add", exact: true }).last().click();
  await page.getByText("Fill the can").first().waitFor();
  await page.getByRole("button", { name: "Save" }).click();
  const plants = page.locator(".tasklist > li.task", { hasText: "Water the plants" });
  await plants.locator(".due", { hasText: today }).waitFor();
  await synced(page);
  await page.getByLabel("Show", { exact: true }).selectOption("today");
  await page.getByRole("heading", { name: "Today" }).waitFor();
  await titlesAre(page, ["Water the plants"]);
  await audit(page, "02-todos-today");
  step("overdue: a task due yesterday");
  const yesterday = await page.evaluate(() => { const d = new Date(); d.setDate(d.getDate() - 1); return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`; });
  await page.getByLabel("Show", { exact: true }).selectOption("list");
  await page.getByRole("button", { name: "Bread", exact: true }).click();
  await page.getByLabel("Due date").fill(yesterday);
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByLabel("Show", { exact: true }).selectOption("overdue");
  await page.getByRole("heading", { name: "Overdue" }).waitFor();
  await titlesAre(page, ["Bread"]);
  await page.getByLabel("Show", { exact: true }).selectOption("list");
  await page.getByLabel("Tag", { exact: true }).selectOption("garden");
  await titlesAre(page, ["Water the plants"]);
  await page.getByLabel("Tag", { exact: true }).selectOption("");
  // click, not check(): a repeating task is not closed, so the box does not stay ticked.
  await plants.getByRole("checkbox", { name: "Complete “Water the plants”" }).click();
  await synced(page);
  await plants.locator(".due", { hasText: tomorrow }).waitFor();
  assert.equal(await plants.getByRole("checkbox").first().isChecked(), false, "a recurring task stays open");
  step("complete and reopen a plain task with the keyboard (Space)");
  await page.getByRole("checkbox", { name: "Complete “Eggs”" }).focus();
  await page.keyboard.press("Space");
  await page.getByRole("checkbox", { name: "Reopen “Eggs”" }).waitFor();
  await synced(page);
  await audit(page, "03-todos");

  step("a Markdown note, rendered safely");
  await page.getByRole("link", { name: "Notes" }).click();
  await page.getByRole("button", { name: "New note" }).click();
  await page.getByLabel("Title", { exact: true }).fill("Trip plan");
  await page.getByLabel("Text (Markdown)").fill(
    "# Packing\n\n- **boots**\n- running shoes\n\n| day | where |\n| --- | --- |\n| 1 | Oslo |\n\n<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">\n\n[a link](javascript:window.pwned=3)",
  );
  await page.getByRole("button", { name: "Preview" }).click();
  const preview = page.getByTestId("preview");
  await preview.getByRole("heading", { name: "Packing" }).waitFor();
  assert.equal(await preview.locator("strong").textContent(), "boots");
  assert.equal(await preview.locator("script").count(), 0);
  assert.equal(await preview.locator("[onerror]").count(), 0);
  assert.equal(await preview.locator("a[href^='javascript']").count(), 0);
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  await page.getByLabel("Tags (comma separated)").fill("travel");
  await page.getByRole("button", { name: "Save tags" }).click();
  await page.getByLabel("Pinned").check();
  await synced(page);
  await audit(page, "04-note-preview");

  step("found by the server's full-text search, highlighted");
  await page.getByRole("link", { name: "All notes" }).click();
  await page.getByRole("link", { name: /Trip plan/ }).waitFor();
  await audit(page, "05-notes");
  await page.getByLabel("Search notes").fill("run");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.getByRole("status").filter({ hasText: "1 result for “run”" }).waitFor();
  const marked = await page.locator(".notelist mark").allTextContents();
  assert.ok(marked.includes("running"), `highlighted: ${marked}`);
  await audit(page, "05-notes-search-run");
  await page.getByRole("button", { name: "Clear search" }).click();

  step("sessions");
  await page.getByRole("link", { name: "Sessions" }).click();
  await page.getByText("(this device)").waitFor();
  await audit(page, "06-sessions");

  step("device B signs in and gets everything");
  const b = await device(browser, "device B");
  await b.page.goto("/");
  await b.page.getByLabel("E-mail").fill(email);
  await b.page.getByLabel("Password").fill(password);
  await b.page.getByRole("button", { name: "Sign in" }).last().click();
  await b.page.getByRole("link", { name: "Groceries" }).click();
  await b.page.locator(".tasklist button.title", { hasText: "Milk" }).waitFor();
  await titlesAre(b.page, ["Bread", "Eggs", "Milk", "Water the plants"], "the order made on A");
  await b.page.locator("li.task", { hasText: "Water the plants" }).locator(".due", { hasText: tomorrow }).waitFor();
  await todosExtra({ step, audit, synced, titlesAre }, a, b);

  step("live: A's change reaches B by the event stream, with no poll and no Sync now");
  for (const p of [page, b.page]) await p.getByTestId("live-status").and(p.locator('[data-mode="live"]')).waitFor();
  await page.goto("/#/todos");
  await page.getByRole("link", { name: "Groceries" }).click();
  const sent = Date.now();
  await page.getByLabel("New task").fill("Heard live");
  await page.getByLabel("New task").press("Enter");
  // While live the client does not poll at all (live.ts): only the stream can bring it, and
  // well inside the 10 s a poll would have taken.
  await b.page.locator(".tasklist button.title", { hasText: "Heard live" }).waitFor({ timeout: 5000 });
  console.log(`  (A's new task shown on B after ${Date.now() - sent} ms)`);
  assert.equal(await b.page.getByTestId("live-status").getAttribute("data-mode"), "live");

  step("B goes offline; both edit the same note and task");
  await b.page.evaluate(() => navigator.serviceWorker.ready.then(() => true)); // the page is kept
  await b.context.setOffline(true);
  await b.page.getByRole("link", { name: "Notes" }).click();
  await b.page.getByRole("link", { name: /Trip plan/ }).click();
  await b.page.getByLabel("Text (Markdown)").fill("# Packing\n\n- boots\n- a rain jacket (B)");
  await b.page.getByLabel("Title", { exact: true }).click(); // leaves the text: saved locally
  await b.page.getByRole("link", { name: "Todos" }).click();
  await b.page.getByRole("link", { name: "Groceries" }).click();
  await b.page.getByRole("button", { name: "Milk", exact: true }).click();
  await b.page.getByLabel("Title", { exact: true }).fill("Oat milk (B)");
  await b.page.getByRole("button", { name: "Save" }).click();
  await b.page.getByLabel("New task").fill("Made offline on B");
  await b.page.getByLabel("New task").press("Enter");
  await b.page.getByRole("button", { name: "Sync now" }).click();
  await b.page.getByTestId("sync-status").filter({ hasText: /Offline — \d+ changes waiting/ }).waitFor();
  step("B reloads while offline: the page from the service worker, the data from IndexedDB");
  await b.page.reload();
  await b.page.locator(".tasklist button.title", { hasText: "Made offline on B" }).waitFor();
  await b.page.locator(".tasklist button.title", { hasText: "Oat milk (B)" }).waitFor();
  await b.page.getByTestId("sync-status").filter({ hasText: /Offline — 3 changes waiting/ }).waitFor();
  await audit(b.page, "07-offline");

  await page.getByRole("link", { name: "Notes" }).click();
  await page.getByRole("link", { name: /Trip plan/ }).click();
  await page.getByLabel("Text (Markdown)").fill("# Packing\n\n- boots\n- sunscreen (A)");
  await page.getByLabel("Title", { exact: true }).click();
  await page.getByRole("link", { name: "Todos" }).click();
  await page.getByRole("link", { name: "Groceries" }).click(); // not whichever list opens first
  await page.getByRole("button", { name: "Milk", exact: true }).click();
  await page.getByLabel("Title", { exact: true }).fill("Whole milk (A)");
  await page.getByRole("button", { name: "Save" }).click();
  await synced(page);

  step("B comes back: conflicts shown, with the losing text in the note's history");
  await b.context.setOffline(false);
  await synced(b.page);
  const events = b.page.getByRole("region", { name: "Sync results" });
  await events.getByText("edited on two devices at once").first().waitFor();
  await events.getByText(/kept “Whole milk \(A\)” from another device; yours was “Oat milk \(B\)”/).waitFor();
  await audit(b.page, "08-conflict");
  await events.getByRole("link", { name: "Your version is kept in the note's history" }).click();
  await b.page.getByRole("heading", { name: /^Version \d+: Trip plan/ }).waitFor();
  await b.page.locator(".revision").getByText("a rain jacket (B)").waitFor();
  await audit(b.page, "09-history");

  step("both converge, nothing lost");
  await synced(page);
  await page.locator(".tasklist button.title", { hasText: "Made offline on B" }).waitFor();
  for (const p of [page, b.page]) {
    await p.goto("/#/todos");
    await p.locator(".tasklist button.title", { hasText: "Whole milk (A)" }).waitFor();
    await p.goto("/#/notes");
    await p.getByRole("link", { name: /Trip plan/ }).click();
    assert.match(await p.getByLabel("Text (Markdown)").inputValue(), /sunscreen \(A\)/);
  }

  step("B restores its own text from the history, A gets it");
  await b.page.goto("/#/notes");
  await b.page.getByRole("link", { name: /Trip plan/ }).click();
  await b.page.getByRole("link", { name: "History", exact: true }).click();
  await b.page.getByRole("link", { name: /your text from a conflict/ }).click();
  await b.page.getByRole("button", { name: "Restore this version" }).click();
  await b.page.getByLabel("Text (Markdown)").waitFor();
  assert.match(await b.page.getByLabel("Text (Markdown)").inputValue(), /rain jacket \(B\)/);
  await synced(page);
  assert.match(await page.getByLabel("Text (Markdown)").inputValue(), /rain jacket \(B\)/);

  await library({ step, audit, synced, pageA: page, pageB: b.page, email, password });

  step("A ends B's session; B is signed out");
  await page.getByRole("link", { name: "Sessions" }).click();
  await page.getByRole("button", { name: "End session" }).first().click();
  await page.getByText(/Ended the session/).waitFor();
  await b.page.getByRole("button", { name: "Sync now" }).click(); // refused: the session is over
  await b.page.getByRole("heading", { name: "Sign in" }).waitFor();

  await readers({ browser, a, device, audit, step, synced, email, password });

  step("a note links a library file; the link opens it in its reader, where A stopped");
  await page.getByRole("link", { name: "Notes" }).click();
  await page.getByRole("link", { name: /Trip plan/ }).click();
  await page.getByText("No linked files.").waitFor();
  await page.getByLabel("Link a file").selectOption({ label: "Numbered pages" });
  await page.getByRole("button", { name: "Link", exact: true }).click();
  await page.getByRole("region", { name: "Linked files" }).getByRole("link", { name: "Numbered pages" }).waitFor();
  await synced(page);
  await audit(page, "14-note-linked-file");
  await page.getByRole("region", { name: "Linked files" }).getByRole("link", { name: "Numbered pages" }).click();
  await page.locator('.pdf-stage[data-page="40"]').waitFor();
  await page.goBack();
  await page.getByRole("button", { name: "Unlink Numbered pages" }).click();
  await page.getByText("No linked files.").waitFor();

  step("sign out");
  await page.getByRole("banner").getByRole("button", { name: "Sign out", exact: true }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();

  assert.deepEqual(cspErrors, [], "the page breaks its own Content-Security-Policy");
  assert.deepEqual(violations, [], "axe: serious or critical violations");
  console.log(`CSP reports while sanitising hostile Markdown (expected): ${blockedHostile.length}`);
  console.log(`screenshots in ${shots}`);
  console.log("e2e passed");
} finally {
  await browser.close();
}
