// The web client's budgets, reported (not asserted): first-load JavaScript gzipped, time to
// interactive on the local stack, and the first sync of N notes into an empty client.
//
//   node scripts/budgets.mjs <base url> [notes]     (`make web-budgets` starts the stack)
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import { chromium } from "playwright-core";

const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [base, notesArg] = process.argv.slice(2);
const N = Number(notesArg ?? 10000);

// --- first-load bytes: the entry, what it imports statically, its CSS ------------------------
const manifest = JSON.parse(fs.readFileSync(path.join(web, "dist", "manifest.json"), "utf8"));
const entry = manifest["src/main.tsx"];
const js = [entry.file, ...(entry.imports ?? []).map((name) => manifest[name].file)];
const size = (files) => {
  let raw = 0, gz = 0, br = 0;
  for (const file of files) {
    const bytes = fs.readFileSync(path.join(web, "dist", file));
    raw += bytes.length;
    gz += zlib.gzipSync(bytes, { level: 9 }).length;
    br += zlib.brotliCompressSync(bytes).length;
  }
  return { raw, gz, br };
};
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
const jsSize = size(js);
const cssSize = size(entry.css ?? []);
console.log(`first-load JS: ${kb(jsSize.gz)} gzipped (${kb(jsSize.br)} brotli, ${kb(jsSize.raw)} raw; budget 150 KB gzipped)`);
console.log(`first-load CSS: ${kb(cssSize.gz)} gzipped`);
if (!base) process.exit(0);

// --- time to interactive and the first sync, in Chromium against the running server ---------
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
try {
  const email = `budget-${Date.now().toString(36)}@example.org`;
  const password = "correct horse battery staple";
  const api = await (await browser.newContext({ baseURL: base })).request;
  let answer = await api.post("/v1/auth/register", { data: { email, password } });
  if (answer.status() !== 201) throw new Error(`register: ${answer.status()}`);
  answer = await api.post("/v1/auth/token", { data: { email, password } });
  const { access } = await answer.json();
  const headers = { Authorization: `Bearer ${access}` };
  const body = "Some **Markdown** text of an ordinary note, a few lines long.\n\n- one\n- two\n".repeat(3);
  for (let i = 0; i < N; i += 100) {
    const ops = [];
    for (let j = i; j < Math.min(N, i + 100); j++) {
      ops.push({ op_id: `seed-${j}`, type: "note", action: "upsert", id: crypto.randomUUID(), base_version: 0, fields: { title: `Note ${j}`, body } });
    }
    const pushed = await api.post("/v1/sync/push", { headers, data: { ops } });
    if (pushed.status() !== 200) throw new Error(`push: ${pushed.status()}`);
  }

  // Cold load (empty cache) of the sign-in screen: navigation start -> the form can be used.
  const context = await browser.newContext({ baseURL: base });
  const page = await context.newPage();
  const started = Date.now();
  await page.goto("/");
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  const tti = await page.evaluate(() => performance.now());
  const nav = await page.evaluate(() => {
    const [entry] = performance.getEntriesByType("navigation");
    return { dcl: entry.domContentLoadedEventEnd, load: entry.loadEventEnd };
  });
  console.log(`time to interactive (cold, sign-in form usable): ${tti.toFixed(0)} ms (DOMContentLoaded ${nav.dcl.toFixed(0)} ms, load ${nav.load.toFixed(0)} ms, wall ${Date.now() - started} ms)`);

  // First sync: sign in, then until the local store holds every note.
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  const t0 = Date.now();
  await page.getByRole("button", { name: "Sign in" }).last().click();
  await page.getByTestId("sync-status").filter({ hasText: "All changes synced" }).waitFor({ timeout: 600_000 });
  const seconds = (Date.now() - t0) / 1000;
  const count = await page.evaluate(async () => {
    const dbs = await indexedDB.databases();
    const name = dbs.map((d) => d.name).find((n) => n && n.startsWith("exampleapp-") && n !== "exampleapp-auth");
    return new Promise((resolve) => {
      const open = indexedDB.open(name);
      open.onsuccess = () => {
        const req = open.result.transaction("note").objectStore("note").count();
        req.onsuccess = () => resolve(req.result);
      };
    });
  });
  if (count !== N) throw new Error(`synced ${count} notes, expected ${N}`);
  console.log(`first sync of ${N} notes into an empty client: ${seconds.toFixed(1)} s = ${(N / seconds).toFixed(0)} notes/s`);
} finally {
  await browser.close();
}
