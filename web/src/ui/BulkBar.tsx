// Acting on several tasks at once: the bar shown while tasks are being selected (select all in
// the view, complete, move to another list, delete after a confirmation that says how many).
// Each action is one local transaction of per-task ops (src/sync/tasks.ts): it works offline and
// shows at once; the next push carries them (docs/web.md, "Bulk actions").
import { useEffect, useRef, useState } from "preact/hooks";
import type { TaskListRow, TaskRow } from "../db";
import type { SyncEngine } from "../sync/engine";
import { bulkComplete, bulkDelete, bulkMove } from "../sync/tasks";

const tasksWord = (n: number) => `${n} task${n === 1 ? "" : "s"}`;

export function BulkBar({
  engine, shown, selected, setSelected, lists, current, onClose,
}: {
  engine: SyncEngine;
  /** the tasks in the current view, in display order */
  shown: TaskRow[];
  selected: Set<string>;
  setSelected: (ids: Set<string>) => void;
  /** the lists tasks can be moved to, in order */
  lists: TaskListRow[];
  /** the list on screen, if any (not offered as a target) */
  current: string | undefined;
  onClose: () => void;
}) {
  const targets = lists.filter((l) => l.id !== current);
  const [target, setTarget] = useState("");
  const moveTo = targets.some((l) => l.id === target) ? target : targets[0]?.id ?? "";
  const [confirming, setConfirming] = useState<{ tasks: number; subtasks: number } | null>(null);
  const [said, setSaid] = useState("");
  const dialog = useRef<HTMLDialogElement>(null);
  const selectAll = useRef<HTMLInputElement>(null);
  useEffect(() => {
    if (confirming && dialog.current && !dialog.current.open) dialog.current.showModal();
  }, [confirming]);

  const ids = shown.filter((t) => selected.has(t.id)).map((t) => t.id); // in display order
  const n = ids.length;
  const all = n > 0 && n === shown.length;

  const run = async (what: string, edits: (tasks: TaskRow[]) => Parameters<SyncEngine["apply"]>[0]) => {
    const edited = edits(await engine.db.task.toArray());
    await engine.apply(edited);
    setSelected(new Set());
    setSaid(`${what} ${tasksWord(n)}.`);
    // The button just used is now disabled (nothing selected): keep the focus in the bar.
    selectAll.current?.focus();
  };
  const complete = () => run("Completed", (tasks) => bulkComplete(tasks, ids));
  const move = () => {
    const name = lists.find((l) => l.id === moveTo)?.name ?? "";
    return run(`Moved to “${name}”:`, (tasks) => bulkMove(tasks, ids, moveTo));
  };
  const askDelete = async () => {
    const { tasks, subtasks } = bulkDelete(await engine.db.task.toArray(), ids);
    setConfirming({ tasks, subtasks });
  };
  const closeDialog = () => {
    dialog.current?.close();
    setConfirming(null);
  };
  const remove = async () => {
    closeDialog();
    await run("Deleted", (tasks) => bulkDelete(tasks, ids).edits);
  };

  return (
    <div class="bulkbar" role="group" aria-label="Selected tasks">
      <label class="check">
        <input
          ref={selectAll}
          type="checkbox"
          checked={all}
          indeterminate={n > 0 && !all}
          disabled={shown.length === 0}
          onChange={() => setSelected(new Set(all ? [] : shown.map((t) => t.id)))}
        />{" "}
        Select all
      </label>
      <span class="count" role="status">{n ? `${n} selected` : said || "None selected"}</span>
      <button type="button" disabled={!n} onClick={() => void complete()}>Complete</button>
      <label>
        Move to{" "}
        <select value={moveTo} disabled={!targets.length} onChange={(e) => setTarget(e.currentTarget.value)}>
          {targets.map((l) => (
            <option value={l.id}>{l.name}</option>
          ))}
        </select>
      </label>
      <button type="button" disabled={!n || !moveTo} onClick={() => void move()}>Move</button>
      <button type="button" class="danger" disabled={!n} onClick={() => void askDelete()}>Delete…</button>
      <button type="button" onClick={onClose}>Done</button>
      {confirming && (
        <dialog ref={dialog} aria-labelledby="confirm-delete-title" onCancel={() => setConfirming(null)} onClose={() => setConfirming(null)}>
          <h2 id="confirm-delete-title">Delete {tasksWord(confirming.tasks)}?</h2>
          <p>
            {confirming.subtasks > 0 && `Their ${confirming.subtasks} sub-task${confirming.subtasks === 1 ? " goes" : "s go"} too. `}
            This cannot be undone.
          </p>
          <div class="actions">
            <button type="button" class="danger" onClick={() => void remove()}>Delete {tasksWord(confirming.tasks)}</button>
            <button type="button" autofocus onClick={closeDialog}>Cancel</button>
          </div>
        </dialog>
      )}
    </div>
  );
}
