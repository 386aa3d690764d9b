// The Todos screen's list of task lists: open one, make one, reorder them by dragging, with
// Alt+↑/↓ on a focused list or with its ↑ ↓ buttons. A move is one placement write (after/before,
// the server picks the key) shown at once through a local key (placeAt), as tasks move.
import { useEffect, useRef, useState } from "preact/hooks";
import type { TaskList } from "../api/types";
import type { TaskListRow } from "../db";
import { keyBetween, placeAt } from "../sync/core";
import type { SyncEngine } from "../sync/engine";
import { go } from "./hooks";

export function TodoLists({
  engine, visible, listId, showArchived, setShowArchived,
}: {
  engine: SyncEngine;
  /** the lists shown, in order */
  visible: TaskListRow[];
  listId: string | undefined;
  showArchived: boolean;
  setShowArchived: (show: boolean) => void;
}) {
  const [dragging, setDragging] = useState<string | null>(null);
  // A keyed row moved by a re-render loses focus: give it back once the store has the new key.
  const focusAfter = useRef<{ id: string; position: string; on: string } | null>(null);
  useEffect(() => {
    const wanted = focusAfter.current;
    if (!wanted || visible.find((l) => l.id === wanted.id)?.position !== wanted.position) return;
    focusAfter.current = null;
    const row = document.querySelector(`[data-list="${wanted.id}"]`);
    const target = row?.querySelector<HTMLButtonElement>(wanted.on);
    // a move button disabled at the end of the list hands the focus to the list's link
    (target && !target.disabled ? target : row?.querySelector<HTMLElement>("a"))?.focus();
  });

  /** Move list `id` to `index`; `on`: what keeps the focus afterwards (a selector in its row). */
  const move = async (id: string, index: number, on = "a") => {
    const place = placeAt(visible, id, index);
    if (!place) return;
    focusAfter.current = on ? { id, position: place.position, on } : null;
    await engine.write("tasklist", id, place.fields, { local: { position: place.position } });
  };

  const addList = async (event: Event) => {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const name = String(new FormData(form).get("name")).trim();
    if (!name) return;
    const id = crypto.randomUUID();
    const now = new Date().toISOString();
    const last = visible[visible.length - 1];
    const list: TaskList = {
      id, name, color: "", archived: false, position: keyBetween(last?.position ?? "", ""),
      field_versions: {}, version: 0, created_at: now, updated_at: now,
    };
    await engine.write("tasklist", id, { name }, { create: list, local: { position: list.position } });
    form.reset();
    go(`/todos/${id}`);
  };

  return (
    <aside class="sidebar" aria-labelledby="lists-title">
      <h2 id="lists-title">Lists</h2>
      <ul class="lists">
        {visible.map((l, i) => (
          <li
            key={l.id}
            data-list={l.id}
            class={dragging === l.id ? "dragging" : undefined}
            draggable
            onDragStart={(e) => {
              setDragging(l.id);
              e.dataTransfer?.setData("text/plain", l.id);
            }}
            onDragEnd={() => setDragging(null)}
            onDragOver={(e) => {
              if (dragging) e.preventDefault();
            }}
            onDrop={(e) => {
              e.preventDefault();
              const id = dragging;
              setDragging(null);
              if (id && id !== l.id) void move(id, i, "");
            }}
          >
            <a
              href={`#/todos/${l.id}`}
              aria-current={l.id === listId ? "page" : undefined}
              aria-describedby={visible.length > 1 ? "list-reorder-hint" : undefined}
              onKeyDown={(e) => {
                if (e.altKey && (e.key === "ArrowUp" || e.key === "ArrowDown")) {
                  e.preventDefault();
                  void move(l.id, i + (e.key === "ArrowUp" ? -1 : 1));
                }
              }}
            >
              <span class="dot" style={{ background: l.color || "transparent" }} aria-hidden="true" />
              {l.name}
              {l.archived && <span class="badge"> (archived)</span>}
            </a>
            {visible.length > 1 && (
              <span class="move">
                <button type="button" class="up" aria-label={`Move list “${l.name}” up`} disabled={i === 0} onClick={() => void move(l.id, i - 1, ".up")}>↑</button>
                <button type="button" class="down" aria-label={`Move list “${l.name}” down`} disabled={i === visible.length - 1} onClick={() => void move(l.id, i + 1, ".down")}>↓</button>
              </span>
            )}
          </li>
        ))}
      </ul>
      {visible.length > 1 && (
        <p class="hint" id="list-reorder-hint">Drag a list to move it, or focus it and press Alt+↑ / Alt+↓.</p>
      )}
      <form onSubmit={addList} class="inline">
        <label>
          New list <input name="name" required maxLength={200} />
        </label>
        <button type="submit">Add list</button>
      </form>
      <label class="check">
        <input type="checkbox" checked={showArchived} onChange={(e) => setShowArchived(e.currentTarget.checked)} /> Show archived lists
      </label>
    </aside>
  );
}
