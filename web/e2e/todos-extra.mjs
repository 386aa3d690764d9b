// End-to-end flows of the Todos screen beyond run.mjs's own: task lists reordered (keyboard,
// drag, and a button while offline) and tasks acted on in bulk (complete, move, delete), each
// checked after a reload or on the other device. Called by run.mjs once both devices are signed in and in step; it leaves
// them so (nothing waiting) and keeps "Groceries" the first list.
import assert from "node:assert/strict";

async function settles(read, expected, message) {
  // Lists render from IndexedDB (a live query): wait up to 5 s for what is expected.
  const deadline = Date.now() + 5000;
  let got = await read();
  while (Date.now() < deadline && JSON.stringify(got) !== JSON.stringify(expected)) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    got = await read();
  }
  assert.deepEqual(got, expected, message);
}

const listNames = (page) => page.locator(".sidebar .lists a").allTextContents();
const taskTitles = (page) => page.locator(".tasklist > li > button.title").allTextContents();
const task = (page, title) => page.locator(".tasklist > li.task", { has: page.getByRole("button", { name: title, exact: true }) });

export async function todosExtra({ step, audit, synced }, a, b) {
  const { page } = a;
  const ORDER = ["Groceries", "Work", "Home", "Errands"];

  step("three more lists; Work up with Alt+↑, Errands dragged below Home");
  await page.goto("/#/todos");
  for (const name of ["Errands", "Home", "Work"]) {
    await page.getByLabel("New list").fill(name);
    await page.getByRole("button", { name: "Add list" }).click();
    await page.getByRole("heading", { name }).waitFor();
  }
  await settles(() => listNames(page), ["Groceries", "Errands", "Home", "Work"], "lists in the order made");
  await page.getByRole("link", { name: "Work" }).focus();
  await page.keyboard.press("Alt+ArrowUp");
  await settles(() => listNames(page), ["Groceries", "Errands", "Work", "Home"], "Alt+↑ moves a list up");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Work", "focus stays on the moved list");
  await page.locator(".sidebar .lists li", { hasText: "Errands" }).dragTo(page.locator(".sidebar .lists li", { hasText: "Home" }));
  await settles(() => listNames(page), ORDER, "a list dragged onto another takes its place");
  await synced(page);
  await page.reload();
  await settles(() => listNames(page), ORDER, "the order survives a reload");

  step("tasks in Errands: one with a sub-task, one repeating daily from today");
  await page.getByRole("link", { name: "Errands" }).click();
  await page.getByRole("heading", { name: "Errands" }).waitFor();
  for (const title of ["Stamps", "Post letter", "Pharmacy", "Bank"]) {
    await page.getByLabel("New task").fill(title);
    await page.getByLabel("New task").press("Enter");
    await task(page, title).waitFor();
  }
  const today = await page.evaluate(() => { const d = new Date(); return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`; });
  const tomorrow = await page.evaluate(() => { const d = new Date(); d.setDate(d.getDate() + 1); return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`; });
  await page.getByRole("button", { name: "Post letter", exact: true }).click();
  await page.getByLabel("New sub-task").fill("Buy an envelope");
  await page.getByRole("button", { name: "Add", exact: true }).last().click();
  await page.locator(".subtask-editor").getByText("Buy an envelope").waitFor();
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("button", { name: "Pharmacy", exact: true }).click();
  await page.getByLabel("Due date").fill(today);
  await page.getByLabel("Repeats").selectOption("daily");
  await page.getByRole("button", { name: "Save" }).click();
  await task(page, "Pharmacy").locator(".due", { hasText: today }).waitFor();
  await synced(page);

  step("select three tasks (keyboard) and complete them: the repeating one moves to tomorrow");
  await page.getByRole("button", { name: "Select tasks" }).click();
  const bar = page.getByRole("group", { name: "Selected tasks" });
  for (const title of ["Stamps", "Pharmacy", "Bank"]) {
    await page.getByRole("checkbox", { name: `Select “${title}”` }).focus();
    await page.keyboard.press("Space");
  }
  await bar.getByRole("status").filter({ hasText: "3 selected" }).waitFor();
  await audit(page, "10-todos-bulk-selection");
  await bar.getByRole("button", { name: "Complete" }).click();
  await bar.getByRole("status").filter({ hasText: "Completed 3 tasks." }).waitFor();
  await page.getByRole("checkbox", { name: "Reopen “Stamps”" }).waitFor();
  await page.getByRole("checkbox", { name: "Reopen “Bank”" }).waitFor();
  await task(page, "Pharmacy").locator(".due", { hasText: tomorrow }).waitFor();
  assert.equal(await page.getByRole("checkbox", { name: "Complete “Pharmacy”" }).isChecked(), false, "a repeating task stays open");
  assert.equal(await page.getByRole("checkbox", { name: "Complete “Post letter”" }).isChecked(), false, "an unselected task is left alone");

  step("bulk move: Post letter (with its sub-task) to Home");
  await page.getByRole("checkbox", { name: "Select “Post letter”" }).check();
  await bar.getByLabel("Move to").selectOption({ label: "Home" });
  await bar.getByRole("button", { name: "Move", exact: true }).click();
  await settles(() => taskTitles(page), ["Stamps", "Pharmacy", "Bank"], "the moved task left Errands at once");

  step("bulk delete asks first, saying how many");
  await page.getByRole("checkbox", { name: "Select “Stamps”" }).check();
  await bar.getByRole("button", { name: "Delete…" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete 1 task?" });
  await dialog.waitFor();
  await audit(page, "11-todos-bulk-delete-confirm");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await settles(() => taskTitles(page), ["Stamps", "Pharmacy", "Bank"], "cancel deletes nothing");
  await bar.getByRole("status").filter({ hasText: "1 selected" }).waitFor();
  await bar.getByRole("button", { name: "Delete…" }).click();
  await dialog.getByRole("button", { name: "Delete 1 task" }).click();
  await settles(() => taskTitles(page), ["Pharmacy", "Bank"], "the deleted task is gone at once");
  await bar.getByRole("checkbox", { name: "Select all" }).check();
  await bar.getByRole("status").filter({ hasText: "2 selected" }).waitFor();
  await bar.getByRole("button", { name: "Done" }).click();
  await page.getByRole("link", { name: "Home" }).click();
  await settles(() => taskTitles(page), ["Post letter"]);
  await task(page, "Post letter").locator(".subtasks").getByText("Buy an envelope").waitFor();
  await synced(page);

  step("device B gets the list order and every bulk change");
  await synced(b.page);
  await settles(() => listNames(b.page), ORDER, "B has A's list order");
  await b.page.getByRole("link", { name: "Errands" }).click();
  await settles(() => taskTitles(b.page), ["Pharmacy", "Bank"], "B: Stamps deleted, Post letter moved");
  await b.page.getByRole("checkbox", { name: "Reopen “Bank”" }).waitFor();
  await task(b.page, "Pharmacy").locator(".due", { hasText: tomorrow }).waitFor();
  await b.page.getByRole("link", { name: "Home" }).click();
  await settles(() => taskTitles(b.page), ["Post letter"], "B: the moved task is in Home");
  await task(b.page, "Post letter").locator(".subtasks").getByText("Buy an envelope").waitFor();
  await audit(b.page, "12-todos-after-bulk");

  step("B moves a list up with its button while offline: shown at once, A gets it when B is back");
  await b.page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
  await b.context.setOffline(true);
  await b.page.getByRole("button", { name: "Move list “Errands” up" }).click();
  const moved = ["Groceries", "Work", "Errands", "Home"];
  await settles(() => listNames(b.page), moved, "moved at once, offline");
  assert.equal(await b.page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Move list “Errands” up", "focus stays on the button");
  await b.page.getByRole("button", { name: "Sync now" }).click();
  await b.page.getByTestId("sync-status").filter({ hasText: "Offline — 1 change waiting" }).waitFor();
  await b.context.setOffline(false);
  await synced(b.page);
  await synced(page);
  await settles(() => listNames(page), moved, "A has B's list order");
  await b.page.getByRole("link", { name: "Groceries" }).click();
  await page.getByRole("link", { name: "Groceries" }).click();
}
