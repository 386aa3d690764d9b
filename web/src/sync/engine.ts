// The sync engine: local writes become queued ops (core.ts), pushed through /v1/sync/push when
// online; the feed is pulled from its cursor through /v1/sync/changes. Results change the local
// rows and leave events (merged, conflict, rejected) for the user to see.
import { isNetworkError, type Api } from "../api/client";
import type { Change, PushOp, SyncType } from "../api/types";
import { SYNC_TYPES } from "../api/types";
import { getMeta, setMeta, type LocalDb, type Op, type Row, type SyncEvent } from "../db";
import { addEdit, overlay, pickBatch } from "./core";
import type { LiveMode } from "./live";

export type Status = {
  online: boolean;
  pending: number;
  syncing: boolean;
  lastSync: number | null;
  error: string | null;
  /** how changes from elsewhere reach this device (live.ts): the stream, or polling */
  live: LiveMode;
  pollSeconds: number;
};

const PULL_LIMIT = 1000; // SYNC_PULL_MAX_LIMIT; a page also ends at the server's byte budget
const pushCall = (api: Api, ops: PushOp[]) => api.POST("/v1/sync/push", { body: { ops } });
type PushResults = NonNullable<Awaited<ReturnType<typeof pushCall>>["data"]>["results"];
type ServerObject = Record<string, unknown> & { version: number };

/** One local change: fields to write (`local`: what the row shows meanwhile, `create`: the new
 * object), or a delete. */
export type WriteEdit = {
  type: SyncType;
  id: string;
  fields: Record<string, unknown>;
  local?: Record<string, unknown>;
  create?: object;
};
export type Edit = WriteEdit | { type: SyncType; id: string; remove: true };

export class SyncEngine {
  status: Status = { online: true, pending: 0, syncing: false, lastSync: null, error: null, live: "connecting", pollSeconds: 0 };
  private listeners = new Set<() => void>();
  private running: Promise<void> | null = null;
  private again = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    readonly db: LocalDb,
    private api: Api,
    private deviceId: string,
    /** false: writes wait for an explicit sync() (unit tests of the local side) */
    private autoSync = true,
  ) {}

  /** Each push result as it comes (the reader shows a position the server kept only as this
   * device's: `applied: false, reason: "regression"`). */
  onResult(fn: (op: Op, result: PushResults[number]) => void): () => void {
    this.resultListeners.add(fn);
    return () => this.resultListeners.delete(fn);
  }
  private resultListeners = new Set<(op: Op, result: PushResults[number]) => void>();

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The live stream's state, for the sync bar. */
  setLive(live: LiveMode, pollSeconds: number): void {
    if (live !== this.status.live || pollSeconds !== this.status.pollSeconds) this.emit({ live, pollSeconds });
  }

  private emit(patch: Partial<Status>): void {
    this.status = { ...this.status, ...patch };
    for (const fn of this.listeners) fn();
  }

  // --- local writes ---------------------------------------------------------------------------

  /** Change (or create) an object here at once and queue the op that tells the server. */
  write<T extends object>(
    type: SyncType,
    id: string,
    fields: Record<string, unknown>,
    opts: { local?: Record<string, unknown>; create?: T } = {},
  ): Promise<void> {
    return this.apply([{ type, id, fields, ...opts }]);
  }

  remove(type: SyncType, id: string): Promise<void> {
    return this.apply([{ type, id, remove: true }]);
  }

  /**
   * Several edits in one transaction: all of them show (and are queued) or none does (a bulk
   * action never half-happens here). Each still becomes its own op, pushed in the order given.
   */
  async apply(edits: Edit[]): Promise<void> {
    if (edits.length === 0) return;
    const tables = [...new Set(edits.map((edit) => this.db.rows(edit.type)))];
    await this.db.transaction("rw", [...tables, this.db.ops, this.db.meta], async () => {
      for (const edit of edits) {
        if ("remove" in edit) await this.stageRemove(edit.type, edit.id);
        else await this.stageWrite(edit);
      }
    });
    await this.countPending();
    this.soon();
  }

  private async stageWrite(edit: WriteEdit): Promise<void> {
    const { type, id, fields } = edit;
    const table = this.db.rows(type);
    const row = (await table.get(id)) as Row<object> | undefined;
    const base = row ?? (edit.create ? ({ ...edit.create, _server: null, _v: 0 } as Row<object>) : undefined);
    if (!base) throw new Error(`no local ${type} ${id}`);
    const pending = await this.db.ops.where({ type, id }).toArray();
    const local = { ...fields, ...(edit.local ?? {}) };
    delete local.after;
    delete local.before;
    const change = addEdit(pending, { type, id, action: "upsert", fields, local }, {
      opId: () => this.nextOpId(),
      baseVersion: base._v,
      now: Date.now(),
      lastSeq: (await this.db.ops.toCollection().lastKey()) as number | undefined,
    });
    if (change.update) await this.db.ops.put(change.update);
    if (change.add) await this.db.ops.add(change.add);
    await table.put({ ...base, ...local } as never);
  }

  private async stageRemove(type: SyncType, id: string): Promise<void> {
    const table = this.db.rows(type);
    const row = await table.get(id);
    if (!row) return;
    const pending = await this.db.ops.where({ type, id }).toArray();
    if (!row._server && pending.every((op) => op.state === "queued")) {
      // Never reached the server: forgetting it is the whole delete.
      await this.db.ops.bulkDelete(pending.map((op) => op.seq!));
    } else {
      const change = addEdit(pending, { type, id, action: "delete", fields: {}, local: {} }, {
        opId: () => this.nextOpId(),
        baseVersion: row._v,
        now: Date.now(),
      });
      if (change.update) await this.db.ops.put(change.update);
      if (change.add) await this.db.ops.add(change.add);
    }
    await table.delete(id);
  }

  private opCounter = 0;
  private nextOpId(): string {
    // Stable and unique per device: the device id and a counter kept with the ops.
    this.opCounter += 1;
    return `${this.deviceId}-${Date.now().toString(36)}-${this.opCounter.toString(36)}`;
  }

  private async countPending(): Promise<void> {
    this.emit({ pending: await this.db.ops.count() });
  }

  // --- running ----------------------------------------------------------------------------------

  /** Sync shortly (after a burst of edits). */
  soon(delay = 300): void {
    if (!this.autoSync) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.sync(), delay);
  }

  /** Push, then pull; one run at a time (a request during a run makes one more run). */
  sync(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      this.emit({ syncing: true });
      try {
        do {
          this.again = false;
          await this.push();
          await this.pull();
        } while (this.again);
        this.emit({ online: true, error: null, lastSync: Date.now() });
      } catch (error) {
        if (isNetworkError(error)) this.emit({ online: false });
        else this.emit({ error: String(error) });
      } finally {
        // A run that ends in a sign-out (its 401) finds the store closed under it: nothing left
        // to count, and an error here would escape as an unhandled rejection (the e2e's
        // "uncaught" page error, once in a few runs).
        await this.countPending().catch(() => undefined);
        this.emit({ syncing: false });
        this.running = null;
      }
    })();
    return this.running;
  }

  async push(): Promise<void> {
    for (;;) {
      const all = await this.db.ops.toArray();
      const batch = pickBatch(all);
      if (batch.length === 0) return;
      // Freeze the batch before it leaves: a retry after a lost answer must be the same ops.
      const frozen: Op[] = [];
      await this.db.transaction("rw", [this.db.ops, ...this.db.syncedTables()], async () => {
        for (const op of batch) {
          let base = op.base_version;
          if (base === null) base = (await this.db.rows(op.type).get(op.id))?._v ?? 0;
          const sent: Op = { ...op, base_version: base, state: "sent" };
          await this.db.ops.put(sent);
          frozen.push(sent);
        }
      });
      const ops = frozen.map(
        (op) =>
          ({
            op_id: op.op_id,
            type: op.type,
            action: op.action,
            id: op.id,
            base_version: op.base_version ?? 0,
            ...(op.action === "upsert" ? { fields: op.fields } : {}),
          }) as PushOp,
      );
      const { data, error, response } = await pushCall(this.api, ops);
      if (!data) throw new Error(`push refused (${response.status}): ${JSON.stringify(error)}`);
      await this.applyResults(frozen, data.results);
    }
  }

  private async applyResults(sent: Op[], results: PushResults): Promise<void> {
    const tables = [this.db.ops, this.db.events, ...this.db.syncedTables()];
    await this.db.transaction("rw", tables, async () => {
      for (const [i, result] of results.entries()) {
        const op = sent[i]!;
        await this.db.ops.delete(op.seq!);
        const table = this.db.rows(op.type);
        const rest = await this.db.ops.where({ type: op.type, id: op.id }).toArray();
        const row = await table.get(op.id);
        const data = "data" in result ? result.data : null;
        if (result.status !== "rejected" && data && op.action === "upsert") {
          const server = data as unknown as ServerObject;
          await table.put({ ...overlay(server, rest, server), id: op.id, _server: server, _v: result.version ?? server.version } as never);
        } else if (result.status === "rejected" && row) {
          // Back to the server's state (or away, if it never existed there).
          if (row._server) await table.put({ ...overlay(row._server, rest, row._server), _server: row._server, _v: row._v } as never);
          else if (rest.length === 0) await table.delete(op.id);
        } else if (result.status === "conflict" && op.action === "delete" && data) {
          const server = data as unknown as ServerObject; // changed elsewhere: it stays, with that change
          await table.put({ ...server, id: op.id, _server: server, _v: server.version } as never);
        }
        if (result.status !== "applied") {
          const label = labelOf(op.type, ("data" in result ? (result.data as Record<string, unknown> | null) : null) ?? (row as Record<string, unknown> | undefined) ?? null);
          const event: SyncEvent = {
            at: Date.now(),
            status: result.status,
            type: op.type,
            id: op.id,
            label,
            conflicts: "conflicts" in result ? (result.conflicts ?? []) : [],
            detail: "detail" in result ? result.detail : undefined,
            seen: 0,
          };
          if (result.status !== "merged" || event.conflicts.length) await this.db.events.add(event);
          else await this.db.events.add({ ...event, seen: 1 }); // merged quietly: kept for the log
        }
      }
    });
    for (const [i, result] of results.entries()) for (const fn of this.resultListeners) fn(sent[i]!, result);
  }

  async pull(): Promise<void> {
    for (;;) {
      const cursor = await getMeta<string>(this.db, "cursor", "");
      const { data, error, response } = await this.api.GET("/v1/sync/changes", {
        params: { query: { cursor: cursor || undefined, limit: PULL_LIMIT, types: SYNC_TYPES.join(",") } },
      });
      if (response.status === 410) {
        await setMeta(this.db, "cursor", ""); // resync: start again from nothing
        continue;
      }
      if (!data) throw new Error(`pull refused (${response.status}): ${JSON.stringify(error)}`);
      await this.applyChanges(data.changes, data.cursor);
      if (!data.has_more) return;
    }
  }

  async applyChanges(changes: Change[], cursor: string): Promise<void> {
    const tables = [this.db.ops, this.db.meta, ...this.db.syncedTables()];
    await this.db.transaction("rw", tables, async () => {
      // A page at a time, in bulk: one read of the (short) queue, one bulkGet and one bulkPut
      // per type, instead of three requests per change (docs/web.md, budgets).
      const pending = new Map<string, Op[]>();
      for (const op of await this.db.ops.toArray()) {
        const key = `${op.type}:${op.id}`;
        pending.set(key, [...(pending.get(key) ?? []), op]);
      }
      for (const type of SYNC_TYPES) {
        const mine = changes.filter((c) => c.type === type);
        if (mine.length === 0) continue;
        const table = this.db.rows(type);
        const stored = await table.bulkGet(mine.map((c) => c.id));
        const puts: unknown[] = [];
        const deletes: string[] = [];
        const dropOps: number[] = [];
        mine.forEach((change, i) => {
          const ops = pending.get(`${type}:${change.id}`) ?? [];
          if (change.op === "delete" || !change.data) {
            // Deleted elsewhere: the object goes; an edit still queued here would only conflict.
            dropOps.push(...ops.filter((op) => op.state === "queued").map((op) => op.seq!));
            deletes.push(change.id);
            return;
          }
          if ((stored[i]?._v ?? 0) >= change.version) return; // already have it (a push answer)
          const server = change.data as unknown as ServerObject;
          puts.push({ ...overlay(server, ops, server), id: change.id, _server: server, _v: change.version });
        });
        if (dropOps.length) await this.db.ops.bulkDelete(dropOps);
        if (deletes.length) await table.bulkDelete(deletes);
        if (puts.length) await table.bulkPut(puts as never[]);
      }
      await setMeta(this.db, "cursor", cursor);
    });
  }
}

function labelOf(type: SyncType, data: Record<string, unknown> | null): string {
  const text = (data?.title ?? data?.name ?? "") as string;
  if (type === "viewer_state") return "Reading position";
  const noun = { tasklist: "List", task: "Task", note: "Note", file: "File" }[type];
  return text ? `${noun} “${text}”` : `${noun} (untitled)`;
}
