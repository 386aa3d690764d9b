// The local side of the engine on real IndexedDB code (Dexie over fake-indexeddb): writes show at
// once and queue ops; pulled changes keep pending edits on top. Push and pull against the server
// are covered end to end (tests/web) with the real API.
import { describe, expect, it } from "vitest";
import type { Note } from "../src/api/types";
import { makeClient } from "../src/api/client";
import { LocalDb } from "../src/db";
import { SyncEngine } from "../src/sync/engine";

const note = (over: Partial<Note> = {}): Note => ({
  id: "00000000-0000-4000-8000-000000000001", title: "", body: "", tags: [], pinned: false, archived: false, files: [],
  version: 0, created_at: "2025-01-01T00:00:00Z", updated_at: "2025-01-01T00:00:00Z", ...over,
});

function engine() {
  const db = new LocalDb(`test-${Math.random()}`);
  return new SyncEngine(db, makeClient("http://127.0.0.1:9"), "dev1", false);
}

describe("SyncEngine, local side", () => {
  it("a create and its edits are one queued op with a stable op_id", async () => {
    const sync = engine();
    const n = note();
    await sync.write("note", n.id, { title: "A" }, { create: n, local: {} });
    await sync.write("note", n.id, { body: "text" });
    const ops = await sync.db.ops.toArray();
    expect(ops).toHaveLength(1);
    expect(ops[0]).toMatchObject({ base_version: 0, fields: { title: "A", body: "text" }, state: "queued" });
    expect(ops[0]!.op_id).toMatch(/^dev1-/);
    expect(await sync.db.note.get(n.id)).toMatchObject({ title: "A", body: "text", _v: 0 });
  });

  it("a pulled change keeps the user's pending edit on top and moves the base", async () => {
    const sync = engine();
    const server = note({ title: "S", body: "old", version: 2 });
    await sync.applyChanges([{ seq: 1, type: "note", op: "upsert", id: server.id, version: 2, data: server }], "1");
    await sync.write("note", server.id, { body: "mine" });
    const newer = { ...server, title: "S2", version: 3 };
    await sync.applyChanges([{ seq: 2, type: "note", op: "upsert", id: server.id, version: 3, data: newer }], "2");
    expect(await sync.db.note.get(server.id)).toMatchObject({ title: "S2", body: "mine", _v: 3 });
    const [op] = await sync.db.ops.toArray();
    expect(op!.base_version).toBe(2); // the edit was made on version 2
    expect((await sync.db.meta.get("cursor"))?.value).toBe("2");
  });

  it("a pulled viewer state is kept under its file's id (its data names the file, not itself)", async () => {
    const sync = engine();
    const file = "00000000-0000-4000-8000-0000000000f1";
    const state = { file, kind: "pdf" as const, current: null, version: 4, updated_at: "2025-01-01T00:00:00Z" };
    await sync.applyChanges([{ seq: 7, type: "viewer_state", op: "upsert", id: file, version: 4, data: state }], "7");
    expect(await sync.db.viewer_state.get(file)).toMatchObject({ id: file, file, kind: "pdf", _v: 4 });
  });

  it("deleting what never reached the server only forgets it", async () => {
    const sync = engine();
    const n = note();
    await sync.write("note", n.id, { title: "x" }, { create: n });
    await sync.remove("note", n.id);
    expect(await sync.db.ops.count()).toBe(0);
    expect(await sync.db.note.count()).toBe(0);
  });

  it("a delete from the feed removes the object and drops edits still queued for it", async () => {
    const sync = engine();
    const server = note({ version: 1 });
    await sync.applyChanges([{ seq: 1, type: "note", op: "upsert", id: server.id, version: 1, data: server }], "1");
    await sync.write("note", server.id, { title: "edit" });
    await sync.applyChanges([{ seq: 2, type: "note", op: "delete", id: server.id, version: 2, data: null }], "2");
    expect(await sync.db.note.count()).toBe(0);
    expect(await sync.db.ops.count()).toBe(0);
  });

  it("a sync run over a store closed under it (signed out) ends quietly, not with an unhandled rejection", async () => {
    const sync = engine();
    await sync.db.open();
    sync.db.close();
    await expect(sync.sync()).resolves.toBeUndefined();
    expect(sync.status.syncing).toBe(false);
  });
});
