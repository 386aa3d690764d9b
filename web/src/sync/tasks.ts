// What task actions become as local edits (engine.apply), as pure functions (unit-tested in
// test/tasks.test.ts). Bulk actions are queued per-task sync ops, not the bulk endpoint
// (POST /v1/todos/bulk): they work offline and show at once, and one push carries up to 100 of
// them (docs/web.md, "Bulk actions"). Each edit mirrors what the bulk endpoint does to that task.
import type { Task } from "../api/types";
import { compareSiblings, keyBetween, nextDue } from "./core";
import type { Edit, WriteEdit } from "./engine";

type T = Pick<Task, "id" | "list" | "parent" | "position" | "done" | "due" | "recurrence" | "completion_count">;

/** Completing one open task. A recurring task with a due is not closed: it shows its next due
 * at once (the server's rule, nextDue) and the server's answer confirms it. */
export function completeEdit(task: T, now = new Date()): WriteEdit {
  if (task.recurrence && task.due) {
    return {
      type: "task", id: task.id, fields: { done: true },
      local: { done: false, due: nextDue(task.due, task.recurrence), completion_count: task.completion_count + 1 },
    };
  }
  return { type: "task", id: task.id, fields: { done: true }, local: { completed_at: now.toISOString() } };
}

/** Reopening one done task. */
export function reopenEdit(task: T): WriteEdit {
  return { type: "task", id: task.id, fields: { done: false }, local: { completed_at: null } };
}

const pick = <X extends T>(all: X[], ids: string[]): X[] => {
  const byId = new Map(all.map((t) => [t.id, t]));
  return ids.map((id) => byId.get(id)).filter((t): t is X => !!t);
};

/** Complete the selected open tasks (done ones are left alone; sub-tasks only if selected, as
 * the server's bulk `complete` does). */
export function bulkComplete(all: T[], ids: string[], now = new Date()): Edit[] {
  return pick(all, ids).filter((t) => !t.done).map((t) => completeEdit(t, now));
}

/**
 * Move the selected tasks to the end of list `target`, in the order given, as the server's bulk
 * `move` does: their sub-tasks go along; a selected sub-task whose parent stays becomes a
 * top-level task there; tasks already in `target` stay put.
 *
 * Each moved top-level task is one op `{list}` (the server appends it: the local key only shows
 * it there meanwhile). Its sub-tasks, which the server moves with it, also get an op
 * `{list, parent}` after it: it changes nothing on the server (merged quietly), but the rows
 * show in the new list at once offline, and should the parent's move be refused, theirs is
 * refused too and both go back to the server's state.
 */
export function bulkMove(all: T[], ids: string[], target: string): Edit[] {
  const chosen = pick(all, ids);
  const chosenIds = new Set(chosen.map((t) => t.id));
  const tops = all.filter((t) => t.list === target && !t.parent);
  let last = tops.length ? tops.reduce((a, b) => (compareSiblings(a, b) >= 0 ? a : b)).position : "";
  const edits: Edit[] = [];
  const follow: Edit[] = [];
  for (const task of chosen) {
    if (task.list === target) continue;
    if (task.parent && chosenIds.has(task.parent)) continue; // goes along with its (moving) parent
    last = keyBetween(last, "");
    const fields: Record<string, unknown> = { list: target };
    if (task.parent) fields.parent = null; // its parent stays: it becomes a top-level task there
    edits.push({ type: "task", id: task.id, fields, local: { position: last } });
    if (!task.parent) {
      for (const child of all.filter((t) => t.parent === task.id).sort(compareSiblings)) {
        follow.push({ type: "task", id: child.id, fields: { list: target, parent: task.id } });
      }
    }
  }
  return [...edits, ...follow];
}

/**
 * Delete the selected tasks. The server deletes a task's sub-tasks with it; they are deleted
 * here too (each its own op, after the parents': deleting what is already gone is `applied`),
 * so none lingers offline in the today/overdue views. `subtasks` counts those not selected, for
 * the confirmation.
 */
export function bulkDelete(all: T[], ids: string[]): { edits: Edit[]; tasks: number; subtasks: number } {
  const chosen = pick(all, ids);
  const chosenIds = new Set(chosen.map((t) => t.id));
  const children = all.filter((t) => t.parent && chosenIds.has(t.parent) && !chosenIds.has(t.id)).sort(compareSiblings);
  const edits: Edit[] = [...chosen, ...children].map((t) => ({ type: "task", id: t.id, remove: true }));
  return { edits, tasks: chosen.length, subtasks: children.length };
}
