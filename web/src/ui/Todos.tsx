// Todos: lists (create, rename, colour, archive, reorder: TodoLists.tsx) and their tasks
// (create, edit, complete/reopen, sub-tasks), reordered by dragging or with Alt+Arrow keys (one
// placement write: after/before), filtered by today, overdue, tag or text, selected to complete,
// move or delete several at once (BulkBar.tsx). Everything reads and writes the local store.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Task } from "../api/types";
import type { TaskListRow, TaskRow } from "../db";
import { compareSiblings, keyBetween, placeAt } from "../sync/core";
import type { SyncEngine } from "../sync/engine";
import { bulkDelete, completeEdit, reopenEdit } from "../sync/tasks";
import { BulkBar } from "./BulkBar";
import { TodoLists } from "./TodoLists";
import { useLive } from "./hooks";

const PRIORITIES = ["None", "Low", "Medium", "High"];
const FREQS = ["", "daily", "weekly", "monthly", "yearly"] as const;
type Filter = "list" | "today" | "overdue";

function today(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}
export function isOverdue(task: Pick<Task, "due" | "done">, now = new Date()): boolean {
  if (!task.due || task.done) return false;
  if (task.due.length === 10) return task.due < today();
  return new Date(task.due) < now;
}
const isToday = (task: Task) => !task.done && !!task.due && task.due.slice(0, 10) === today();

function newTask(list: string, title: string, position: string, parent: string | null = null): Task {
  const now = new Date().toISOString();
  return {
    id: crypto.randomUUID(), list, parent, title, notes: "", done: false, completed_at: null, due: null,
    priority: 0, tags: [], position, recurrence: null, completion_count: 0, last_completed_at: null,
    field_versions: {}, version: 0, created_at: now, updated_at: now,
  };
}

export function TodosScreen({ engine, route }: { engine: SyncEngine; route: string[] }) {
  const db = engine.db;
  const [showArchived, setShowArchived] = useState(false);
  const lists = useLive(() => db.tasklist.toArray(), [db], [] as TaskListRow[]);
  const visible = lists.filter((l) => showArchived || !l.archived).sort(compareSiblings);
  const listId = route[0] && lists.some((l) => l.id === route[0]) ? route[0] : visible[0]?.id;
  const current = lists.find((l) => l.id === listId);
  const [filter, setFilter] = useState<Filter>("list");
  const [tag, setTag] = useState("");
  const [search, setSearch] = useState("");
  const [editing, setEditing] = useState<string | null>(null);
  const tasks = useLive(
    () => (filter === "list" && listId ? db.task.where("list").equals(listId).toArray() : db.task.toArray()),
    [db, filter, listId],
    [] as TaskRow[],
  );
  const allTags = useLive(async () => [...new Set((await db.task.toArray()).flatMap((t) => t.tags))].sort(), [db], [] as string[]);
  const [selecting, setSelecting] = useState(false);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  useEffect(() => setPicked(new Set()), [listId, filter]); // a selection belongs to one view

  const filtered = useMemo(() => {
    let shown = tasks;
    if (filter === "today") shown = shown.filter(isToday);
    if (filter === "overdue") shown = shown.filter((t) => isOverdue(t));
    if (tag) shown = shown.filter((t) => t.tags.includes(tag));
    const q = search.trim().toLowerCase();
    if (q) shown = shown.filter((t) => `${t.title}\n${t.notes}`.toLowerCase().includes(q));
    return shown;
  }, [tasks, filter, tag, search]);
  const reorderable = filter === "list" && !tag && !search.trim();
  // What is selected is what is still in view (a task moved away or deleted elsewhere drops out).
  const shownIds = new Set(filtered.map((t) => t.id));
  const selected = new Set([...picked].filter((id) => shownIds.has(id)));
  const selection = selecting
    ? {
        has: (id: string) => selected.has(id),
        toggle: (id: string) => {
          const next = new Set(selected);
          if (!next.delete(id)) next.add(id);
          setPicked(next);
        },
      }
    : undefined;
  // The bar acts on tasks in the order they are shown: parents before their sub-tasks.
  const top = filtered.filter((t) => !reorderable || !t.parent).sort(compareSiblings);
  const inOrder = reorderable ? top.flatMap((t) => [t, ...filtered.filter((c) => c.parent === t.id).sort(compareSiblings)]) : top;

  return (
    <div class="todos">
      <TodoLists engine={engine} visible={visible} listId={listId} showArchived={showArchived} setShowArchived={setShowArchived} />
      <section class="tasks" aria-labelledby="tasks-title">
        {current && filter === "list" ? <ListHeader engine={engine} list={current} /> : <h1 id="tasks-title">{filter === "today" ? "Today" : filter === "overdue" ? "Overdue" : "Tasks"}</h1>}
        <div class="filters" role="group" aria-label="Filters">
          <label for="filter-show">Show</label>
          <select id="filter-show" value={filter} onChange={(e) => setFilter(e.currentTarget.value as Filter)}>
              <option value="list">This list</option>
              <option value="today">Today (all lists)</option>
              <option value="overdue">Overdue (all lists)</option>
          </select>
          <label for="filter-tag">Tag</label>
          <select id="filter-tag" value={tag} onChange={(e) => setTag(e.currentTarget.value)}>
            <option value="">Any</option>
            {allTags.map((t) => (
              <option value={t}>{t}</option>
            ))}
          </select>
          <label>
            Search <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
          </label>
          {!selecting && (
            <button type="button" onClick={() => setSelecting(true)} disabled={filtered.length === 0}>Select tasks</button>
          )}
        </div>
        {selecting && (
          <BulkBar
            engine={engine}
            shown={inOrder}
            selected={selected}
            setSelected={setPicked}
            lists={lists.filter((l) => !l.archived).sort(compareSiblings)}
            current={filter === "list" ? listId : undefined}
            onClose={() => {
              setSelecting(false);
              setPicked(new Set());
            }}
          />
        )}
        {current && filter === "list" && <AddTask engine={engine} list={current.id} siblings={tasks.filter((t) => !t.parent)} />}
        {!current && filter === "list" ? (
          <p>Make a list to start.</p>
        ) : (
          <TaskTree engine={engine} tasks={filtered} reorderable={reorderable} onEdit={setEditing} flat={!reorderable} selection={selection} />
        )}
        {reorderable && filtered.length > 1 && (
          <p class="hint" id="reorder-hint">Drag a task to move it, or focus it and press Alt+↑ / Alt+↓.</p>
        )}
      </section>
      {editing && <TaskEditor key={editing} engine={engine} id={editing} onClose={() => setEditing(null)} />}
    </div>
  );
}

function ListHeader({ engine, list }: { engine: SyncEngine; list: TaskListRow }) {
  const [renaming, setRenaming] = useState(false);
  const rename = async (event: Event) => {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget as HTMLFormElement).get("name")).trim();
    if (name && name !== list.name) await engine.write("tasklist", list.id, { name });
    setRenaming(false);
  };
  return (
    <div class="listhead">
      {renaming ? (
        <form onSubmit={rename} class="inline">
          <label>
            List name <input name="name" defaultValue={list.name} required autoFocus />
          </label>
          <button type="submit">Save</button>
          <button type="button" onClick={() => setRenaming(false)}>Cancel</button>
        </form>
      ) : (
        <h1 id="tasks-title">{list.name}</h1>
      )}
      <div class="actions">
        {!renaming && <button type="button" onClick={() => setRenaming(true)}>Rename</button>}
        <label class="color">
          Colour{" "}
          <input
            type="color"
            value={list.color || "#4a6fa5"}
            onChange={(e) => void engine.write("tasklist", list.id, { color: e.currentTarget.value })}
          />
        </label>
        <button type="button" onClick={() => void engine.write("tasklist", list.id, { archived: !list.archived })}>
          {list.archived ? "Unarchive" : "Archive"}
        </button>
      </div>
    </div>
  );
}

function AddTask({ engine, list, siblings, parent = null }: { engine: SyncEngine; list: string; siblings: TaskRow[]; parent?: string | null }) {
  const add = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const title = String(new FormData(form).get("title")).trim();
    if (!title) return;
    const last = [...siblings].sort(compareSiblings).pop();
    const task = newTask(list, title, keyBetween(last?.position ?? "", ""), parent);
    // The server places a new task at the end of its siblings; the local key only shows it there.
    await engine.write("task", task.id, { list, title, ...(parent ? { parent } : {}) }, { create: task, local: { position: task.position } });
    form.reset();
  };
  return (
    <form onSubmit={add} class="inline addtask">
      <label>
        {parent ? "New sub-task" : "New task"} <input name="title" required maxLength={500} />
      </label>
      <button type="submit">Add</button>
    </form>
  );
}

type Selection = { has: (id: string) => boolean; toggle: (id: string) => void };

function TaskTree({ engine, tasks, reorderable, onEdit, flat, selection }: { engine: SyncEngine; tasks: TaskRow[]; reorderable: boolean; onEdit: (id: string) => void; flat: boolean; selection?: Selection }) {
  const top = tasks.filter((t) => flat || !t.parent).sort(compareSiblings);
  const children = (id: string) => tasks.filter((t) => t.parent === id).sort(compareSiblings);
  const [dragging, setDragging] = useState<string | null>(null);
  // After a keyboard move the row is re-rendered at its new place once the local store has the
  // new position; moving a DOM node drops its focus, so it is given back then.
  const focusAfter = useRef<{ id: string; position: string } | null>(null);
  useEffect(() => {
    const wanted = focusAfter.current;
    if (!wanted) return;
    const moved = tasks.find((t) => t.id === wanted.id);
    if (!moved || moved.position !== wanted.position) return;
    focusAfter.current = null;
    document.querySelector<HTMLElement>(`[data-task="${wanted.id}"]`)?.focus();
  });

  const move = async (siblings: TaskRow[], id: string, index: number) => {
    const place = placeAt(siblings, id, index);
    if (!place) return;
    focusAfter.current = { id, position: place.position };
    await engine.write("task", id, place.fields, { local: { position: place.position } });
  };

  const row = (task: TaskRow, siblings: TaskRow[], index: number) => (
    <li
      key={task.id}
      data-task={task.id}
      class={`task${task.done ? " done" : ""}${dragging === task.id ? " dragging" : ""}${selection?.has(task.id) ? " selected" : ""}`}
      tabIndex={0}
      aria-describedby={reorderable ? "reorder-hint" : undefined}
      draggable={reorderable}
      onDragStart={(e) => {
        setDragging(task.id);
        e.dataTransfer?.setData("text/plain", task.id);
      }}
      onDragEnd={() => setDragging(null)}
      onDragOver={(e) => {
        if (reorderable && dragging && siblings.some((s) => s.id === dragging)) e.preventDefault();
      }}
      onDrop={(e) => {
        e.preventDefault();
        e.stopPropagation();
        const id = e.dataTransfer?.getData("text/plain") || dragging;
        setDragging(null);
        if (id && id !== task.id) void move(siblings, id, index);
      }}
      onKeyDown={(e) => {
        if (!reorderable || e.target !== e.currentTarget) return;
        if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
          e.preventDefault();
          void move(siblings, task.id, index + (e.key === "ArrowUp" ? -1 : 1));
        } else if (e.key === "Enter") {
          onEdit(task.id);
        }
      }}
    >
      <span class="boxes">
        {selection && (
          // set apart from the completion box next to it (a rule, the accent colour)
          <span class="pick">
            <input
              type="checkbox"
              checked={selection.has(task.id)}
              aria-label={`Select “${task.title}”`}
              onChange={() => selection.toggle(task.id)}
            />
          </span>
        )}
        <input
          type="checkbox"
          checked={task.done}
          aria-label={`${task.done ? "Reopen" : "Complete"} “${task.title}”`}
          onChange={() => void toggleDone(engine, task)}
        />
      </span>
      <button type="button" class="title" onClick={() => onEdit(task.id)}>
        {task.title}
      </button>
      <span class="meta">
        {task.due && <span class={isOverdue(task) ? "due overdue" : "due"}>{isOverdue(task) ? "Overdue: " : "Due "}{task.due.slice(0, 16).replace("T", " ")}</span>}
        {task.recurrence && <span class="badge">repeats {task.recurrence.freq}</span>}
        {task.priority > 0 && <span class="badge">{PRIORITIES[task.priority]} priority</span>}
        {task.tags.map((t) => (
          <span class="tag">#{t}</span>
        ))}
      </span>
      {reorderable && (
        <span class="move">
          <button type="button" aria-label={`Move “${task.title}” up`} disabled={index === 0} onClick={() => void move(siblings, task.id, index - 1)}>↑</button>
          <button type="button" aria-label={`Move “${task.title}” down`} disabled={index === siblings.length - 1} onClick={() => void move(siblings, task.id, index + 1)}>↓</button>
        </span>
      )}
      {!flat && children(task.id).length > 0 && (
        <ul class="subtasks" aria-label={`Sub-tasks of “${task.title}”`}>
          {children(task.id).map((child, i, all) => row(child, all, i))}
        </ul>
      )}
    </li>
  );

  if (top.length === 0) return <p class="empty">No tasks here.</p>;
  return (
    <ul class="tasklist" aria-label="Tasks">
      {top.map((task, i) => row(task, top, i))}
    </ul>
  );
}

export async function toggleDone(engine: SyncEngine, task: Task): Promise<void> {
  // A recurring task is not closed: it moves to its next due (completeEdit; the server confirms).
  await engine.apply([task.done ? reopenEdit(task) : completeEdit(task)]);
}

function TaskEditor({ engine, id, onClose }: { engine: SyncEngine; id: string; onClose: () => void }) {
  const task = useLive(() => engine.db.task.get(id), [id], undefined as TaskRow | undefined);
  const subtasks = useLive(() => engine.db.task.where("parent").equals(id).toArray(), [id], [] as TaskRow[]);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  if (!task) return null;

  const save = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const date = String(form.get("due_date") ?? "");
    const time = String(form.get("due_time") ?? "");
    const due = !date ? null : time ? `${date}T${time}:00${offset()}` : date;
    const freq = String(form.get("freq") ?? "");
    const next: Record<string, unknown> = {
      title: String(form.get("title")).trim(),
      notes: String(form.get("notes")),
      due,
      priority: Number(form.get("priority")),
      tags: String(form.get("tags")).split(",").map((t) => t.trim().toLowerCase()).filter(Boolean),
      recurrence: freq ? { freq, interval: Math.max(1, Number(form.get("interval")) || 1) } : null,
    };
    const changed = Object.fromEntries(
      Object.entries(next).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify((task as Record<string, unknown>)[k])),
    );
    if (Object.keys(changed).length) await engine.write("task", id, changed);
    onClose();
  };

  // Its sub-tasks go too, here at once as on the server (bulkDelete).
  const remove = async () => {
    await engine.apply(bulkDelete(await engine.db.task.toArray(), [id]).edits);
    onClose();
  };

  const [date, time] = task.due ? [task.due.slice(0, 10), task.due.length > 10 ? task.due.slice(11, 16) : ""] : ["", ""];
  return (
    <section class="editor" aria-labelledby="editor-title">
      <h2 id="editor-title" tabIndex={-1} ref={heading}>Edit task</h2>
      <form onSubmit={save}>
        <label>Title <input name="title" defaultValue={task.title} required maxLength={500} /></label>
        <label>Notes <textarea name="notes" rows={3} defaultValue={task.notes} /></label>
        <div class="row">
          <label>Due date <input type="date" name="due_date" defaultValue={date} /></label>
          <label>Time <input type="time" name="due_time" defaultValue={time} /></label>
        </div>
        <div class="row">
          <label>
            Priority{" "}
            <select name="priority" defaultValue={String(task.priority)}>
              {PRIORITIES.map((p, i) => (
                <option value={String(i)}>{p}</option>
              ))}
            </select>
          </label>
          <label>
            Repeats{" "}
            <select name="freq" defaultValue={task.recurrence?.freq ?? ""}>
              {FREQS.map((f) => (
                <option value={f}>{f || "never"}</option>
              ))}
            </select>
          </label>
          <label>Every <input type="number" name="interval" min={1} max={365} defaultValue={String(task.recurrence?.interval ?? 1)} /></label>
        </div>
        <label>Tags (comma separated) <input name="tags" defaultValue={task.tags.join(", ")} /></label>
        <div class="actions">
          <button type="submit" class="primary">Save</button>
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="button" class="danger" onClick={() => void remove()}>Delete task</button>
        </div>
      </form>
      {!task.parent && (
        <div class="subtask-editor">
          <h3>Sub-tasks</h3>
          <ul>
            {subtasks.sort(compareSiblings).map((s) => (
              <li key={s.id}>
                <label class="check">
                  <input type="checkbox" checked={s.done} onChange={() => void toggleDone(engine, s)} /> {s.title}
                </label>
              </li>
            ))}
          </ul>
          <AddTask engine={engine} list={task.list} siblings={subtasks} parent={task.id} />
        </div>
      )}
    </section>
  );
}

function offset(): string {
  const minutes = -new Date().getTimezoneOffset();
  const sign = minutes >= 0 ? "+" : "-";
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}
