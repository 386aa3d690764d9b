// Task actions as edits (src/sync/tasks.ts): bulk complete/move/delete mirror the server's bulk
// endpoint task by task, and engine.apply queues them all or none.
import { describe, expect, it } from "vitest";
import type { Task, TaskList } from "../src/api/types";
import { makeClient } from "../src/api/client";
import { LocalDb } from "../src/db";
import { SyncEngine } from "../src/sync/engine";
import { bulkComplete, bulkDelete, bulkMove, completeEdit } from "../src/sync/tasks";

const task = (id: string, over: Partial<Task> = {}): Task => ({
  id, list: "A", parent: null, title: id, notes: "", done: false, completed_at: null, due: null, priority: 0, tags: [],
  position: "i", recurrence: null, completion_count: 0, last_completed_at: null, field_versions: {}, version: 1,
  created_at: "2025-01-01T00:00:00Z", updated_at: "2025-01-01T00:00:00Z", ...over,
});
const now = new Date("2025-03-01T10:00:00Z");

describe("completing", () => {
  it("a plain task is done at once", () => {
    expect(completeEdit(task("t"), now)).toEqual({ type: "task", id: "t", fields: { done: true }, local: { completed_at: now.toISOString() } });
  });

  it("a recurring task moves to its next due instead (as one completion does)", () => {
    const t = task("r", { due: "2025-01-31", recurrence: { freq: "monthly", interval: 1 }, completion_count: 2 });
    expect(completeEdit(t, now).local).toEqual({ done: false, due: "2025-02-28", completion_count: 3 });
  });

  it("bulk: only the selected open tasks, recurring ones advancing", () => {
    const all = [task("a"), task("b", { done: true }), task("c", { due: "2025-03-01", recurrence: { freq: "daily", interval: 1 } }), task("d")];
    const edits = bulkComplete(all, ["a", "b", "c", "gone"], now);
    expect(edits.map((e) => e.id)).toEqual(["a", "c"]);
    expect(edits[1]).toMatchObject({ fields: { done: true }, local: { due: "2025-03-02", done: false } });
  });
});

describe("bulk move", () => {
  const all = [
    task("p", { position: "i" }),
    task("p1", { parent: "p", position: "i" }),
    task("p2", { parent: "p", position: "r" }),
    task("q", { position: "r" }),
    task("q1", { parent: "q", position: "i" }),
    task("x", { list: "B", position: "k" }),
    task("y", { list: "B", position: "m" }),
  ];

  it("appends to the target list in the order given, sub-tasks following their parent", () => {
    const edits = bulkMove(all, ["q", "p"], "B");
    expect(edits).toEqual([
      { type: "task", id: "q", fields: { list: "B" }, local: { position: "t" } },
      { type: "task", id: "p", fields: { list: "B" }, local: { position: "w" } },
      { type: "task", id: "q1", fields: { list: "B", parent: "q" } },
      { type: "task", id: "p1", fields: { list: "B", parent: "p" } },
      { type: "task", id: "p2", fields: { list: "B", parent: "p" } },
    ]);
    // each new key sorts after the target's last top-level task and the one before it
    expect("m" < "t" && "t" < "w").toBe(true);
  });

  it("a selected sub-task whose parent stays becomes a top-level task there; one whose parent moves goes along", () => {
    expect(bulkMove(all, ["p2"], "B")).toEqual([{ type: "task", id: "p2", fields: { list: "B", parent: null }, local: { position: "t" } }]);
    const edits = bulkMove(all, ["p", "p1"], "B");
    expect(edits.map((e) => [e.id, "fields" in e ? e.fields : null])).toEqual([
      ["p", { list: "B" }],
      ["p1", { list: "B", parent: "p" }],
      ["p2", { list: "B", parent: "p" }],
    ]);
  });

  it("tasks already in the target list stay where they are", () => {
    expect(bulkMove(all, ["x", "y"], "B")).toEqual([]);
  });

  it("into an empty list the first key is the middle one", () => {
    expect(bulkMove(all, ["q"], "C")[0]).toMatchObject({ local: { position: "i" } });
  });
});

describe("bulk delete", () => {
  it("deletes the selected tasks, then their sub-tasks, and counts both for the confirmation", () => {
    const all = [task("p"), task("p1", { parent: "p" }), task("p2", { parent: "p", position: "k" }), task("q")];
    const { edits, tasks, subtasks } = bulkDelete(all, ["p2", "p", "q"]);
    expect(edits.map((e) => e.id)).toEqual(["p2", "p", "q", "p1"]);
    expect(edits.every((e) => "remove" in e)).toBe(true);
    expect([tasks, subtasks]).toEqual([3, 1]);
  });
});

describe("engine.apply: a bulk action on the local store", () => {
  const list = (id: string): TaskList => ({
    id, name: id, color: "", archived: false, position: "i", field_versions: {}, version: 1,
    created_at: "2025-01-01T00:00:00Z", updated_at: "2025-01-01T00:00:00Z",
  });

  async function seeded() {
    const sync = new SyncEngine(new LocalDb(`test-${Math.random()}`), makeClient("http://127.0.0.1:9"), "dev1", false);
    const server = [task("a"), task("b", { position: "r" }), task("a1", { parent: "a" })];
    await sync.applyChanges(
      [
        ...["A", "B"].map((id, i) => ({ seq: i + 1, type: "tasklist" as const, op: "upsert" as const, id, version: 1, data: list(id) })),
        ...server.map((t, i) => ({ seq: i + 3, type: "task" as const, op: "upsert" as const, id: t.id, version: 1, data: t })),
      ],
      "5",
    );
    return sync;
  }

  it("queues one op per task in order and shows the result at once", async () => {
    const sync = await seeded();
    const all = await sync.db.task.toArray();
    await sync.apply(bulkMove(all, ["a"], "B"));
    const ops = (await sync.db.ops.toArray()).sort((x, y) => x.seq! - y.seq!);
    expect(ops.map((op) => [op.id, op.fields, op.base_version])).toEqual([
      ["a", { list: "B" }, 1],
      ["a1", { list: "B", parent: "a" }, 1],
    ]);
    expect((await sync.db.task.where("list").equals("B").toArray()).map((t) => t.id).sort()).toEqual(["a", "a1"]);
  });

  it("all or nothing: an edit of a missing row undoes the whole action", async () => {
    const sync = await seeded();
    await expect(sync.apply([completeEdit(task("a")), { type: "task", id: "missing", fields: { done: true } }])).rejects.toThrow();
    expect(await sync.db.ops.count()).toBe(0);
    expect((await sync.db.task.get("a"))?.done).toBe(false);
  });

  it("deletes become delete ops; the rows go at once", async () => {
    const sync = await seeded();
    const all = await sync.db.task.toArray();
    await sync.apply(bulkDelete(all, ["a"]).edits);
    expect((await sync.db.ops.toArray()).map((op) => [op.id, op.action])).toEqual([["a", "delete"], ["a1", "delete"]]);
    expect((await sync.db.task.toArray()).map((t) => t.id)).toEqual(["b"]);
  });
});
