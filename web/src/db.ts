// The local store (IndexedDB through Dexie): every screen reads from here, never from the API
// directly, so what was synced works offline (docs/web.md, "Offline model").
//
// A row is the object as the user sees it: the server's last state (`_server`, at version `_v`)
// with the changes of the user's unpushed operations laid over it. An operation in `ops` is one
// sync push op with its stable op_id; `events` are merge, conflict and refusal results shown to
// the user.
import Dexie, { type Table } from "dexie";
import type { Conflict, LibraryFile, Note, SyncType, Task, TaskList, ViewerStateRow } from "./api/types";

export type Row<T> = T & {
  /** the server's state this row is based on (null: created here, never pushed) */
  _server: T | null;
  /** the server version of `_server` (0: none) */
  _v: number;
};
export type TaskRow = Row<Task>;
export type TaskListRow = Row<TaskList>;
export type NoteRow = Row<Note>;
export type FileRow = Row<LibraryFile>;
/** keyed by its file's id (`id`), as the feed names it */
export type ViewerStateLocal = Row<ViewerStateRow & { id: string }>;

export interface Op {
  seq?: number;
  op_id: string;
  type: SyncType;
  action: "upsert" | "delete";
  id: string;
  /** null: decided when it is sent (an earlier op of the object is still in flight) */
  base_version: number | null;
  /** what goes over the wire */
  fields: Record<string, unknown>;
  /** what the row shows meanwhile (a placement instruction becomes a local position) */
  local: Record<string, unknown>;
  /** queued: may still absorb later edits; sent: frozen, retried exactly as it was */
  state: "queued" | "sent";
  created_at: number;
}

export interface SyncEvent {
  n?: number;
  at: number;
  status: "merged" | "conflict" | "rejected";
  type: SyncType;
  id: string;
  label: string;
  conflicts: Conflict[];
  detail?: string;
  seen: 0 | 1;
}

export interface Meta {
  key: string;
  value: unknown;
}

export class LocalDb extends Dexie {
  tasklist!: Table<TaskListRow, string>;
  task!: Table<TaskRow, string>;
  note!: Table<NoteRow, string>;
  file!: Table<FileRow, string>;
  viewer_state!: Table<ViewerStateLocal, string>;
  ops!: Table<Op, number>;
  events!: Table<SyncEvent, number>;
  meta!: Table<Meta, string>;

  constructor(name: string) {
    super(name);
    this.version(1).stores({
      tasklist: "id, position",
      task: "id, list, parent, due, done, *tags",
      note: "id, updated_at, pinned, archived, *tags",
      ops: "++seq, &op_id, [type+id], state",
      events: "++n, at, seen",
      meta: "key",
    });
    // The library: file metadata and reading positions, from the same feed (docs/web.md).
    this.version(2).stores({
      file: "id, updated_at, last_opened, *tags",
      viewer_state: "id",
    });
  }

  /** Every synced type's table (a transaction that touches synced rows takes them all). */
  syncedTables(): Table[] {
    return [this.tasklist, this.task, this.note, this.file, this.viewer_state];
  }

  rows(type: SyncType): Table<Row<{ id: string; version: number }>, string> {
    return this[type] as unknown as Table<Row<{ id: string; version: number }>, string>;
  }
}

/** One database per account, so two people on one browser never see each other's data. */
export function openLocal(userId: string): LocalDb {
  return new LocalDb(`exampleapp-${userId}`);
}

export async function getMeta<T>(db: LocalDb, key: string, fallback: T): Promise<T> {
  const row = await db.meta.get(key);
  return row ? (row.value as T) : fallback;
}

export async function setMeta(db: LocalDb, key: string, value: unknown): Promise<void> {
  await db.meta.put({ key, value });
}
