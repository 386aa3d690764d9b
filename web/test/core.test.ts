import { describe, expect, it } from "vitest";
import type { Op } from "../src/db";
import { addEdit, compareSiblings, keyBetween, nextDue, overlay, pickBatch, placeAt } from "../src/sync/core";

let n = 0;
const ctx = (baseVersion = 3) => ({ opId: () => `op-${++n}`, baseVersion, now: 0 });
const op = (over: Partial<Op>): Op => ({
  seq: 1, op_id: "x", type: "note", action: "upsert", id: "a", base_version: 3, fields: {}, local: {}, state: "queued", created_at: 0, ...over,
});

describe("addEdit: the queue of one object", () => {
  it("makes an op based on the version the edit was made on", () => {
    const { add } = addEdit([], { type: "note", id: "a", action: "upsert", fields: { title: "T" }, local: { title: "T" } }, ctx(3));
    expect(add).toMatchObject({ base_version: 3, fields: { title: "T" }, state: "queued" });
  });

  it("folds later edits into an unsent op, keeping its base (a server change meanwhile conflicts, never lost)", () => {
    const queued = op({ fields: { title: "T" }, local: { title: "T" }, base_version: 3 });
    const { update, add } = addEdit([queued], { type: "note", id: "a", action: "upsert", fields: { body: "B", title: "T2" }, local: { body: "B", title: "T2" } }, ctx(5));
    expect(add).toBeUndefined();
    expect(update).toMatchObject({ op_id: "x", base_version: 3, fields: { title: "T2", body: "B" } });
  });

  it("never changes an op that was sent: a retry must be the same op; the next one's base waits for its result", () => {
    const sent = op({ state: "sent", fields: { title: "T" } });
    const { update, add } = addEdit([sent], { type: "note", id: "a", action: "upsert", fields: { title: "T2" }, local: { title: "T2" } }, ctx(3));
    expect(update).toBeUndefined();
    expect(add).toMatchObject({ base_version: null, fields: { title: "T2" } });
  });

  it("a placement replaces the earlier one", () => {
    const queued = op({ type: "task", fields: { after: "p" }, local: { position: "k" } });
    const { update } = addEdit([queued], { type: "task", id: "a", action: "upsert", fields: { before: "q" }, local: { position: "j" } }, ctx());
    expect(update?.fields).toEqual({ before: "q" });
  });

  it("a placement is an op of its own when other ops were queued since (a sibling it names may be created by one)", () => {
    const create = op({ seq: 1, type: "task", base_version: 0, fields: { title: "A" } });
    const { update, add } = addEdit([create], { type: "task", id: "a", action: "upsert", fields: { after: "b" }, local: { position: "k" } }, { ...ctx(), lastSeq: 2 });
    expect(update).toBeUndefined();
    expect(add).toMatchObject({ fields: { after: "b" }, base_version: null });
    const folded = addEdit([create], { type: "task", id: "a", action: "upsert", fields: { after: "b" }, local: { position: "k" } }, { ...ctx(), lastSeq: 1 });
    expect(folded.update?.fields).toEqual({ title: "A", after: "b" });
    const edit = addEdit([create], { type: "task", id: "a", action: "upsert", fields: { title: "B" }, local: { title: "B" } }, { ...ctx(), lastSeq: 2 });
    expect(edit.update?.fields).toEqual({ title: "B" }); // other edits still fold
  });

  it("a delete absorbs an unsent edit", () => {
    const queued = op({ fields: { title: "T" } });
    const { update } = addEdit([queued], { type: "note", id: "a", action: "delete", fields: {}, local: {} }, ctx());
    expect(update).toMatchObject({ action: "delete", fields: {} });
  });
});

describe("pickBatch", () => {
  it("sends the oldest op of each object, in order, at most max", () => {
    const ops = [op({ seq: 3, id: "b", op_id: "3" }), op({ seq: 1, id: "a", op_id: "1" }), op({ seq: 2, id: "a", op_id: "2" }), op({ seq: 4, id: "c", op_id: "4" })];
    expect(pickBatch(ops).map((o) => o.op_id)).toEqual(["1", "3", "4"]);
    expect(pickBatch(ops, 2).map((o) => o.op_id)).toEqual(["1", "3"]);
  });
});

describe("overlay", () => {
  it("shows the server's state with the pending local changes on top, in order", () => {
    const server = { title: "S", body: "server body", pinned: false };
    const view = overlay(server, [op({ seq: 2, local: { title: "second" } }), op({ seq: 1, local: { title: "first", pinned: true } })], server);
    expect(view).toEqual({ title: "second", body: "server body", pinned: true });
  });
});

describe("positions", () => {
  it("finds a key strictly between two keys, as the server orders them", () => {
    const cases: Array<[string, string]> = [["", ""], ["i", ""], ["", "i"], ["i", "i001"], ["i001", "i002"], ["a", "b"], ["az", "b"], ["i", "j"], ["0001", "0002"]];
    for (const [a, b] of cases) {
      const k = keyBetween(a, b);
      expect(k > a, `${k} > ${a}`).toBe(true);
      if (b) expect(k < b, `${k} < ${b}`).toBe(true);
      expect(k.endsWith("0")).toBe(false);
    }
  });

  it("keeps finding room in the same gap", () => {
    let lo = "i";
    const hi = "i001";
    for (let i = 0; i < 50; i++) {
      const k = keyBetween(lo, hi);
      expect(k > lo && k < hi).toBe(true);
      lo = k;
    }
  });

  it("a move is after/before its new neighbours, with a local key between them", () => {
    const tasks = [{ id: "a", position: "i" }, { id: "b", position: "i001" }, { id: "c", position: "i002" }];
    const up = placeAt(tasks, "c", 0)!;
    expect(up.fields).toEqual({ before: "a" });
    expect(up.position < "i").toBe(true);
    const middle = placeAt(tasks, "a", 1)!;
    expect(middle.fields).toEqual({ after: "b", before: "c" });
    const sorted = [...tasks.filter((t) => t.id !== "a"), { id: "a", position: middle.position }].sort(compareSiblings);
    expect(sorted.map((t) => t.id)).toEqual(["b", "a", "c"]);
    expect(placeAt(tasks, "a", 0)).toBeNull(); // already there
  });
});

describe("nextDue (what the server will answer, shown offline)", () => {
  it("counts from the previous due and clamps month ends", () => {
    expect(nextDue("2025-01-31", { freq: "monthly", interval: 1 })).toBe("2025-02-28");
    expect(nextDue("2024-02-29", { freq: "yearly", interval: 1 })).toBe("2025-02-28");
    expect(nextDue("2025-12-31", { freq: "daily", interval: 1 })).toBe("2026-01-01");
    expect(nextDue("2025-03-01", { freq: "weekly", interval: 2 })).toBe("2025-03-15");
    expect(nextDue("2025-03-01T09:00:00+01:00", { freq: "daily", interval: 1 })).toBe("2025-03-02T09:00:00+01:00");
  });
});
