// End to end, the readers (#/read/<file id>): a 48-page PDF, a five-chapter EPUB and an image
// (made for the run by tests/web/reader_files.py, in E2E_FILES), uploaded through the API;
// positions kept across reloads, the "further ahead on another device" offer between two
// devices, a backwards read kept as the device's place only, offline reading of an opened book.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";

const FILES = process.env.E2E_FILES;

export async function readers({ browser, a, device, audit, step, synced, email, password }) {
  assert.ok(FILES, "E2E_FILES names the folder of the readers' files (tests/web/test_e2e.py)");
  const { page } = a;

  step("readers: a PDF, an EPUB and an image uploaded through the API");
  const token = await page.request.post("/v1/auth/token", { data: { email, password, device_name: "e2e uploads" } });
  assert.equal(token.status(), 200, await token.text());
  const auth = { Authorization: `Bearer ${(await token.json()).access}` };
  const upload = async (name, mimeType) => {
    const response = await page.request.post("/v1/files", {
      headers: auth,
      multipart: { file: { name, mimeType, buffer: fs.readFileSync(path.join(FILES, name)) } },
    });
    assert.equal(response.status(), 201, await response.text());
    return (await response.json()).id;
  };
  const pdf = await upload("numbered.pdf", "application/pdf");
  const epub = await upload("book.epub", "application/epub+zip");
  const image = await upload("photo.png", "image/png");
  await synced(page);

  const open = async (p, id) => {
    await p.evaluate((hash) => { location.hash = hash; }, `#/read/${id}`);
  };
  const pdfPage = (p, n) => p.locator(`.pdf-stage[data-page="${n}"]`).waitFor();
  const settle = async (p) => {
    await p.waitForTimeout(1800); // positions are written 1.5 s after the last move
    await synced(p);
  };

  step("PDF: next twice, then go to page 40; a reload opens at page 40");
  await open(page, pdf);
  await pdfPage(page, 1);
  await page.getByRole("button", { name: "Next page" }).click();
  await pdfPage(page, 2);
  await page.locator(".pdf-stage").focus();
  await page.keyboard.press("ArrowRight");
  await pdfPage(page, 3);
  await page.getByLabel("Page number").fill("40");
  await page.getByLabel("Page number").press("Enter");
  await pdfPage(page, 40);
  await settle(page);
  await page.reload();
  await pdfPage(page, 40);
  await page.getByRole("button", { name: "Zoom in" }).click();
  await page.getByRole("button", { name: "Fit page" }).click();
  await audit(page, "10-reader-pdf", { fullPage: false });

  step("a second device opens the PDF: offered page 40 from device A, jumps there");
  const b = await device(browser, "device R");
  await b.page.goto("/");
  await b.page.getByLabel("E-mail").fill(email);
  await b.page.getByLabel("Password").fill(password);
  await b.page.getByRole("button", { name: "Sign in" }).last().click();
  await b.page.getByRole("heading", { name: "Lists" }).waitFor();
  await synced(b.page);
  await open(b.page, pdf);
  await pdfPage(b.page, 1); // where this device stopped: nowhere yet
  const offer = b.page.getByRole("alertdialog");
  await offer.getByText(/Continue at page 40 from Chrome on Linux/).waitFor();
  await audit(b.page, "11-reader-offer", { fullPage: false });
  await offer.getByRole("button", { name: "Jump" }).click();
  await pdfPage(b.page, 40);
  await settle(b.page);

  step("reading backwards on it is kept as its own place only, and says so");
  await b.page.getByRole("button", { name: "Previous page" }).click();
  await pdfPage(b.page, 39);
  await settle(b.page);
  await b.page.getByText(/kept as this device's place only: the position\s+stays at page 40/).waitFor();
  await b.page.reload();
  await pdfPage(b.page, 39); // this device opens where it stopped
  assert.equal(await b.page.getByRole("alertdialog").count(), 0, "no offer for its own further position");
  await b.context.close();

  step("EPUB: the table of contents to chapter 3; a reload opens at chapter 3");
  await open(page, epub);
  const section = async (n) => {
    await page.locator(".epub-stage[data-ready]").waitFor(); // a choice while it opens would race it
    await page.locator(`[data-section="${n}"]`).waitFor();
  };
  await section(1);
  // Chapter 1 carries a script and an inline style ("pwned"): its frame inherits the page's CSP.
  let chapter = null;
  for (const frame of page.frames()) {
    if (frame !== page.mainFrame() && (await frame.locator("#c1").count().catch(() => 0))) chapter = frame;
  }
  assert.ok(chapter, "chapter 1's frame");
  const heading = await chapter.locator("#c1").evaluate((h1) => getComputedStyle(h1).color);
  assert.notEqual(heading, "rgb(255, 0, 255)", "the book's inline style is refused");
  assert.notEqual(await page.title(), "pwned", "the book's script never ran");
  await page.getByLabel("Table of contents").selectOption({ label: "Chapter 3" });
  await section(3);
  await settle(page);
  await page.reload();
  await section(3);
  await page.getByRole("button", { name: "Next page" }).click();
  await section(4);
  await page.getByLabel("Theme").selectOption("sepia");
  await page.getByRole("button", { name: "Larger text" }).click();
  await page.waitForTimeout(300);
  await audit(page, "12-reader-epub", { fullPage: false });

  step("image: zoom with + and the wheel, move with the arrows, rotate");
  await open(page, image);
  const stage = page.locator(".image-stage");
  await stage.waitFor();
  await stage.focus();
  await page.keyboard.press("+");
  await page.keyboard.press("+");
  await stage.hover();
  await page.mouse.wheel(0, -100);
  await page.keyboard.press("ArrowLeft");
  const zoom = Number(await stage.getAttribute("data-zoom"));
  assert.ok(zoom > 1.9, `zoomed in (${zoom})`);
  await page.getByRole("button", { name: "Rotate clockwise" }).click();
  await audit(page, "13-reader-image", { fullPage: false });

  step("offline: the PDF opened before opens again from this device's copy, at page 40");
  await a.context.setOffline(true);
  await open(page, pdf);
  await page.reload();
  await pdfPage(page, 40);
  await page.getByText("on this device").waitFor();
  await a.context.setOffline(false);
  await page.evaluate(() => { location.hash = "#/todos"; });
}
