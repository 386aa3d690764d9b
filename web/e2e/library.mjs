// The library screen end to end (called from run.mjs with two signed-in devices of one person):
// an EPUB uploaded with the keyboard through POST /v1/files, a PDF big enough for two parts sent
// straight to S3 — the page reloaded while its second part is held back, then resumed by
// picking the file again, sending only the missing part — both in the grid with title, author
// and cover; search and the tag filter; a rename and tags seen on the other device; a delete.
import assert from "node:assert/strict";
import fs from "node:fs";
import { epub, pdf } from "./samples.mjs";

const MiB = 1024 * 1024;

/** @param {{ step: (name: string) => void, audit: (page: any, name: string) => Promise<void>, synced: (page: any) => Promise<void>, pageA: any, pageB: any, email: string, password: string }} t */
export async function library({ step, audit, synced, pageA: page, pageB, email, password }) {
  const nav = (p) => p.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Library", exact: true });
  const card = (p, title) => p.locator("li.card", { has: p.locator(".card-title", { hasText: title }) });

  step("library: empty, with the upload button");
  await nav(page).click();
  await page.getByRole("heading", { name: "Library" }).waitFor();
  await page.getByText("No books or images yet.").waitFor();
  await audit(page, "10-library-empty");

  step("library: an EPUB uploaded with the keyboard (file chooser from the focused button), through POST /v1/files");
  const book = epub({ title: "A Library Book", authors: ["Cy Writer", "Di Poet"] });
  await page.getByLabel("Upload files").focus();
  const chooser = page.waitForEvent("filechooser");
  await page.keyboard.press("Space");
  await (await chooser).setFiles({ name: "library-book.epub", mimeType: "application/epub+zip", buffer: book });
  const bookCard = card(page, "A Library Book");
  await bookCard.locator(".card-author", { hasText: "Cy Writer, Di Poet" }).waitFor();
  await page.locator(".upload-job.done", { hasText: "library-book.epub" }).getByText("one request").waitFor();

  step("library: a 5.5 MiB PDF sent directly to S3 in two parts; the page reloads while part 2 is held back");
  // Direct from 1 MiB up (the client's debug setting), so a small test file takes that path.
  await page.evaluate(() => localStorage.setItem("exampleapp.directUploadThreshold", String(1024 * 1024)));
  const manual = pdf({ title: "The Big Manual", author: "Ann Author", size: 5.5 * MiB });
  const puts = [];
  page.on("request", (r) => {
    if (r.method() === "PUT" && /[?&]partNumber=\d+/.test(r.url())) puts.push(Number(/partNumber=(\d+)/.exec(r.url())[1]));
  });
  let held = 0;
  await page.route(/[?&]partNumber=2(&|$)/, () => {
    held += 1; // never answered: the upload is cut here by the reload
  });
  await page.getByLabel("Upload files").setInputFiles({ name: "big-manual.pdf", mimeType: "application/pdf", buffer: manual });
  const job = page.locator(".upload-job", { hasText: "big-manual.pdf" });
  await job.getByText("direct to storage, resumable").waitFor();
  // Part 1 (5 MiB of 5.5) confirmed: the record in IndexedDB says so, the bar shows it.
  await job.getByTestId("upload-state").filter({ hasText: /Uploading — 5\.\d MB of 5\.5 MB/ }).waitFor();
  await waitFor(async () => held >= 1 && puts.includes(1) && (await partsDone(page)).includes(1), "part 1 stored and part 2 held");
  await audit(page, "11-library-uploading");
  // A sync first refreshes the access token if it is due (40-second tokens here): a reload that
  // cuts a refresh's answer off would lose the rotated refresh token, and its next use would
  // look like reuse to the server (which ends the session).
  await synced(page);
  // Reload first: the held PUT dies with the page (an unroute would let it through).
  await page.reload();
  await page.unrouteAll({ behavior: "ignoreErrors" });

  step("library: after the reload the upload waits for its file; picked again, only part 2 is sent");
  const paused = page.locator(".upload-job.paused", { hasText: "big-manual.pdf" });
  await paused.getByText("Pick the file again to resume").waitFor();
  await audit(page, "12-library-paused");
  const before = puts.length;
  await page.getByLabel("Pick “big-manual.pdf” again to resume").setInputFiles({ name: "big-manual.pdf", mimeType: "application/pdf", buffer: manual });
  const manualCard = card(page, "The Big Manual");
  await manualCard.locator(".card-author", { hasText: "Ann Author" }).waitFor({ timeout: 30_000 });
  assert.deepEqual(puts.slice(before), [2], "after the reload only the missing part is sent");
  assert.deepEqual(await partsDone(page), [], "the finished upload's record is gone");

  step("library: both in the grid with title, author and cover");
  await nav(page).click();
  for (const c of [bookCard, manualCard]) await c.locator("img.cover[data-cover=image]").waitFor();
  await audit(page, "13-library");

  step("library: a position read on another device puts the PDF under “Continue reading”, with its progress");
  const api = page.context().request;
  const signIn = await api.post("/v1/auth/token", { data: { email, password, device_name: "e-reader" } });
  const { access, refresh } = await signIn.json();
  const manualId = await manualCard.getAttribute("data-file");
  const put = await api.put(`/v1/files/${manualId}/viewer-state`, {
    headers: { Authorization: `Bearer ${access}` },
    data: { device: { id: "e-reader-1", name: "E-reader" }, modified: new Date().toISOString(), intent: "advance", pdf: { page: 1 } },
  });
  assert.equal(put.status(), 200, await put.text());
  // Signed out again: the sessions list later in the run has A and B only.
  assert.equal((await api.post("/v1/auth/logout", { data: { refresh } })).status(), 204);
  await synced(page);
  const continueShelf = page.getByRole("region", { name: "Continue reading" });
  await continueShelf.locator(".card-title", { hasText: "The Big Manual" }).waitFor();
  await continueShelf.getByText("50% read").waitFor();
  await page.getByRole("region", { name: "Everything else" }).locator(".card-title", { hasText: "A Library Book" }).waitFor();
  await audit(page, "13-library-continue");

  step("library: a direct upload cancelled while its part is on the way: aborted on the server too");
  await page.route(/[?&]partNumber=1(&|$)/, () => {}); // held: the part never arrives
  await page.getByLabel("Upload files").setInputFiles({ name: "cancel-me.pdf", mimeType: "application/pdf", buffer: pdf({ title: "Cancelled", author: "Nobody", size: 1.5 * MiB }) });
  const cancelled = page.locator(".upload-job", { hasText: "cancel-me.pdf" });
  await cancelled.getByText(/Uploading — /).waitFor();
  await waitFor(async () => (await uploadIds(page)).length === 1, "the upload's record");
  const [cancelledId] = await uploadIds(page);
  const abort = page.waitForResponse((r) => r.request().method() === "DELETE" && r.url().endsWith(`/v1/files/uploads/${cancelledId}`));
  await cancelled.getByRole("button", { name: "Cancel the upload of cancel-me.pdf" }).click();
  assert.equal((await abort).status(), 204);
  await cancelled.getByText("Cancelled").first().waitFor();
  assert.deepEqual(await uploadIds(page), [], "its record is gone");
  await page.unrouteAll({ behavior: "ignoreErrors" });
  await cancelled.getByRole("button", { name: "Dismiss cancel-me.pdf" }).click();
  await cancelled.waitFor({ state: "detached" });

  step("library: a card opens its file by keyboard (#/read/<id>)");
  await manualCard.getByRole("link").first().focus();
  await page.keyboard.press("Enter");
  await page.waitForURL(`**/#/read/${manualId}`);
  await page.goBack();
  await page.getByRole("heading", { name: "Library" }).waitFor();

  step("library: search (title, author) and the tag filter, on the device");
  const search = page.getByLabel("Search library");
  await search.fill("ann author");
  await page.getByRole("status").filter({ hasText: "1 file found" }).waitFor();
  assert.equal(await page.locator("li.card").count(), 1);
  await search.fill("");

  step("library: rename and tag the EPUB (keyboard), seen on device B");
  await bookCard.getByRole("button", { name: "Edit “A Library Book” (rename, tags)" }).focus();
  await page.keyboard.press("Enter");
  await page.getByLabel("Name", { exact: true }).fill("Cy's book.epub");
  await page.getByLabel("Tags (comma separated)").fill("fiction, to read");
  await page.keyboard.press("Enter");
  await bookCard.locator(".card-name", { hasText: "Cy's book.epub" }).waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Edit", "focus is back on the Edit button");
  await page.getByLabel("Tag", { exact: true }).selectOption("fiction");
  await page.waitForFunction(() => document.querySelectorAll("li.card").length === 1);
  await page.getByLabel("Tag", { exact: true }).selectOption("");
  await synced(page);
  await nav(pageB).click();
  await synced(pageB);
  const bookOnB = card(pageB, "A Library Book");
  await bookOnB.locator(".card-name", { hasText: "Cy's book.epub" }).waitFor();
  await bookOnB.locator(".tag", { hasText: "#fiction" }).waitFor();
  await card(pageB, "The Big Manual").waitFor();

  step("library: device B downloads the EPUB (through the content route's redirect to S3): the same bytes");
  const download = pageB.waitForEvent("download");
  await bookOnB.getByRole("button", { name: "Download “A Library Book”" }).click();
  const saved = await download;
  assert.equal(saved.suggestedFilename(), "Cy's book.epub");
  assert.ok(Buffer.from(fs.readFileSync(await saved.path())).equals(book), "the downloaded bytes are the uploaded ones");

  step("library: delete the PDF (confirmed, keyboard); gone on device B too");
  page.once("dialog", (dialog) => void dialog.accept());
  await manualCard.getByRole("button", { name: "Delete “The Big Manual”" }).focus();
  await page.keyboard.press("Enter");
  await manualCard.waitFor({ state: "detached" });
  await synced(page);
  await synced(pageB);
  await card(pageB, "The Big Manual").waitFor({ state: "detached" });
  await audit(pageB, "14-library-device-b");
}

/** The parts the unfinished upload's IndexedDB record counts as stored. */
async function partsDone(page) {
  return (await uploadRecords(page)).flatMap((r) => r.done);
}

async function uploadIds(page) {
  return (await uploadRecords(page)).map((r) => r.id);
}

/** The unfinished direct uploads this page keeps in IndexedDB (web/src/db.ts, `upload`). */
async function uploadRecords(page) {
  return page.evaluate(async () => {
    const names = (await indexedDB.databases()).map((d) => d.name).filter((n) => n?.startsWith("exampleapp-") && n !== "exampleapp-auth");
    for (const name of names) {
      const db = await new Promise((resolve, reject) => {
        const open = indexedDB.open(name);
        open.onsuccess = () => resolve(open.result);
        open.onerror = () => reject(open.error);
      });
      if (!db.objectStoreNames.contains("upload")) continue;
      const all = await new Promise((resolve) => {
        const get = db.transaction("upload").objectStore("upload").getAll();
        get.onsuccess = () => resolve(get.result);
      });
      db.close();
      return all;
    }
    return [];
  });
}

async function waitFor(check, what, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
