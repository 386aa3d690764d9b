// How a sync result reads to a person (unit-tested in test/display.test.ts).
import type { SyncEvent } from "../db";

const FIELD_NAMES: Record<string, string> = {
  title: "title",
  body: "text",
  notes: "notes",
  due: "due date",
  done: "completion",
  priority: "priority",
  tags: "tags",
  name: "name",
  color: "colour",
  archived: "archived",
  pinned: "pinned",
  list: "list",
  parent: "parent task",
  recurrence: "repeat",
  position: "position",
};

function show(value: unknown): string {
  if (value === null || value === undefined || value === "") return "(empty)";
  if (Array.isArray(value)) return value.length ? value.join(", ") : "(none)";
  if (typeof value === "object") return JSON.stringify(value);
  const text = String(value);
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

export interface Explained {
  headline: string;
  lines: string[];
  /** where the losing text can be read (a note's revision history) */
  link: { href: string; text: string } | null;
}

export function explain(event: SyncEvent): Explained {
  if (event.status === "rejected") {
    return { headline: `${event.label}: the server refused a change`, lines: [event.detail ?? ""], link: null };
  }
  if (event.status === "merged") {
    return {
      headline: `${event.label}: merged with changes from another device`,
      lines: ["Both sets of changes were kept."],
      link: null,
    };
  }
  const deleted = event.conflicts.find((c) => c.reason === "deleted");
  if (deleted) {
    return { headline: `${event.label} was deleted on another device`, lines: ["Your change could not be applied."], link: null };
  }
  const lines = event.conflicts.map(
    (c) => `${FIELD_NAMES[c.field ?? ""] ?? c.field}: kept “${show(c.server)}” from another device; yours was “${show(c.client)}”`,
  );
  const textLost = event.type === "note" && event.conflicts.some((c) => c.field === "title" || c.field === "body");
  const revision = event.conflicts.find((c) => typeof c.revision === "number")?.revision;
  return {
    headline: `${event.label}: edited on two devices at once`,
    lines,
    link: textLost
      ? {
          href: `#/notes/${event.id}/history${revision ? `/${revision}` : ""}`,
          text: "Your version is kept in the note's history",
        }
      : null,
  };
}
