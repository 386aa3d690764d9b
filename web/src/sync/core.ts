// The sync queue's rules, as pure functions (unit-tested in test/core.test.ts); engine.ts runs
// them against IndexedDB and the API.
import type { Op } from "../db";

export const MAX_BATCH = 100; // SYNC_PUSH_MAX_OPS

const key = (op: Pick<Op, "type" | "id">) => `${op.type}:${op.id}`;
/** Fields whose value is another object's id. */
const REFERENCES = ["after", "before", "list", "parent"];

/**
 * The ops of the next push: the oldest unresolved op of each object, in the order they were
 * made, at most `max`. A later op of the same object waits for the earlier one's result, so its
 * base version can follow it (two ops of one object in one batch would conflict with each other).
 * Ops already sent go again exactly as they were (same op_id, same base): the server answers a
 * retry with the original result.
 */
export function pickBatch(ops: Op[], max = MAX_BATCH): Op[] {
  const seen = new Set<string>();
  const batch: Op[] = [];
  for (const op of [...ops].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))) {
    const k = key(op);
    if (seen.has(k)) continue;
    seen.add(k);
    batch.push(op);
    if (batch.length === max) break;
  }
  return batch;
}

/**
 * A new local edit of an object. If the object's newest op has not been sent yet it absorbs the
 * edit (the base version stays the one the first edit was made on: should the server have
 * changed a field meanwhile, that is reported as a conflict instead of being overwritten).
 * Otherwise a new op is made; when an earlier op of the object is in flight its base version is
 * left open until that result is in.
 */
export function addEdit(
  pending: Op[],
  edit: Pick<Op, "type" | "id" | "action" | "fields" | "local">,
  ctx: { opId: () => string; baseVersion: number; now: number; lastSeq?: number },
): { update?: Op; add?: Op } {
  const mine = pending.filter((op) => key(op) === key(edit)).sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  const last = mine[mine.length - 1];
  // An edit that names other objects (a placement's siblings, a task's new list or parent) needs
  // the server to know them when it applies the op. Ops go in queue order, so folding it into an
  // op queued before such an object's create (any op made since: `lastSeq` is the newest of the
  // whole queue) would reach the server before that object exists and be refused: it becomes an
  // op of its own, after them.
  const naming = REFERENCES.some((name) => name in edit.fields);
  const behind = naming && last !== undefined && ctx.lastSeq !== undefined && last.seq !== ctx.lastSeq;
  if (last && last.state === "queued" && !(behind && edit.action === "upsert" && last.action === "upsert")) {
    if (edit.action === "delete") {
      return { update: { ...last, action: "delete", fields: {}, local: {} } };
    }
    if (last.action === "delete") return {}; // nothing to edit on an object being deleted
    const fields = { ...last.fields, ...edit.fields };
    // A placement replaces an earlier one (after/before/position are one instruction).
    if ("after" in edit.fields || "before" in edit.fields) {
      delete fields.position;
      if (!("after" in edit.fields)) delete fields.after;
      if (!("before" in edit.fields)) delete fields.before;
    }
    return { update: { ...last, fields, local: { ...last.local, ...edit.local } } };
  }
  return {
    add: {
      op_id: ctx.opId(),
      type: edit.type,
      action: edit.action,
      id: edit.id,
      base_version: last ? null : ctx.baseVersion,
      fields: edit.fields,
      local: edit.local,
      state: "queued",
      created_at: ctx.now,
    },
  };
}

/** What the user sees: the server's state with every unresolved op's local changes on top. */
export function overlay<T extends object>(server: T | null, ops: Op[], fallback: T): T {
  let view: T = { ...(server ?? fallback) };
  for (const op of [...ops].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))) {
    if (op.action === "upsert") view = { ...view, ...(op.local as Partial<T>) };
  }
  return view;
}

// --- positions -----------------------------------------------------------------------------
// The server's keys are base-36 fractions ("i", "i001", "i0015"): siblings sort by key, then id.
// Offline, a moved task needs a key of its own until the server's answer replaces it; the op
// itself sends `after`/`before` (one position write, computed by the server).
const DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz";

/** A key strictly between `a` and `b` ("" = no bound), by the same ordering as the server's. */
export function keyBetween(a: string, b: string): string {
  let result = "";
  for (let i = 0; ; i++) {
    const lo = i < a.length ? DIGITS.indexOf(a[i]!) : 0;
    const hi = b && i < b.length ? DIGITS.indexOf(b[i]!) : 36;
    if (hi - lo > 1) {
      const mid = DIGITS[Math.floor((lo + hi) / 2)]!;
      return result + mid;
    }
    result += DIGITS[lo]!;
    if (hi - lo === 1) {
      // b's prefix is passed: anything above a's rest will do
      return result + keyBetween(a.slice(i + 1), "");
    }
  }
}

/** Where a move of `id` lands among its siblings (sorted): after/before ids and a local key. */
export function placeAt<T extends { id: string; position: string }>(
  siblings: T[],
  id: string,
  index: number,
): { fields: { after?: string; before?: string }; position: string } | null {
  const others = siblings.filter((s) => s.id !== id);
  const from = siblings.findIndex((s) => s.id === id);
  if (from === -1 || index < 0 || index > others.length || from === index) return null;
  const prev = others[index - 1];
  const next = others[index];
  const fields: { after?: string; before?: string } = {};
  if (prev) fields.after = prev.id;
  if (next) fields.before = next.id;
  return { fields, position: keyBetween(prev?.position ?? "", next?.position ?? "") };
}

export function compareSiblings(a: { position: string; id: string }, b: { position: string; id: string }): number {
  return a.position < b.position ? -1 : a.position > b.position ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

// --- recurrence ----------------------------------------------------------------------------
/** The next due of a recurring task, as the server counts it (from the previous due; month
 * ends clamp). Shown offline until the server's answer arrives. */
export function nextDue(due: string, rule: { freq: string; interval?: number }): string {
  const n = rule.interval ?? 1;
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(due);
  const [datePart, rest] = dateOnly ? [due, ""] : [due.slice(0, 10), due.slice(10)];
  let [y, m, d] = datePart.split("-").map(Number) as [number, number, number];
  if (rule.freq === "daily" || rule.freq === "weekly") {
    const t = new Date(Date.UTC(y, m - 1, d + (rule.freq === "daily" ? n : 7 * n)));
    return t.toISOString().slice(0, 10) + rest;
  }
  const months = rule.freq === "monthly" ? n : 12 * n;
  const total = y * 12 + (m - 1) + months;
  y = Math.floor(total / 12);
  m = (total % 12) + 1;
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  d = Math.min(d, last);
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}${rest}`;
}
