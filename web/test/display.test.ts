import { describe, expect, it } from "vitest";
import type { SyncEvent } from "../src/db";
import { explain } from "../src/sync/display";
import { highlightRanges } from "../src/search";

const event = (over: Partial<SyncEvent>): SyncEvent => ({
  at: 0, status: "conflict", type: "note", id: "n1", label: "Note “Trip”", conflicts: [], seen: 0, ...over,
});

describe("explain: a sync result for a person", () => {
  it("a note's text conflict says which side was kept and links to the revision with the losing text", () => {
    const said = explain(event({ conflicts: [{ field: "body", server: "sunscreen", client: "rain jacket", revision: 4 }] }));
    expect(said.headline).toBe("Note “Trip”: edited on two devices at once");
    expect(said.lines).toEqual(["text: kept “sunscreen” from another device; yours was “rain jacket”"]);
    expect(said.link).toEqual({ href: "#/notes/n1/history/4", text: "Your version is kept in the note's history" });
  });

  it("links to the history itself when the server named no revision", () => {
    const said = explain(event({ conflicts: [{ field: "title", server: "A", client: "B" }] }));
    expect(said.link?.href).toBe("#/notes/n1/history");
  });

  it("a task conflict has no history to link to; values are shown readably", () => {
    const said = explain(event({ type: "task", label: "Task “Milk”", conflicts: [{ field: "tags", server: ["a", "b"], client: [] }, { field: "due", server: null, client: "2025-01-02" }] }));
    expect(said.lines).toEqual(["tags: kept “a, b” from another device; yours was “(none)”", "due date: kept “(empty)” from another device; yours was “2025-01-02”"]);
    expect(said.link).toBeNull();
  });

  it("an edit of something deleted elsewhere, a merge and a refusal", () => {
    expect(explain(event({ conflicts: [{ field: null, reason: "deleted" }] })).headline).toBe("Note “Trip” was deleted on another device");
    expect(explain(event({ status: "merged" })).headline).toContain("merged with changes from another device");
    expect(explain(event({ status: "rejected", detail: "Title too long." })).lines).toEqual(["Title too long."]);
  });
});

describe("highlightRanges", () => {
  it("marks the words a stemmed search matched", () => {
    const text = "Running shoes, a run, the runner";
    const marked = highlightRanges(text, "running").map(([a, b]) => text.slice(a, b));
    expect(marked).toEqual(["Running", "run", "runner"]);
    expect(highlightRanges("Packing list", "pack").map(([a, b]) => "Packing list".slice(a, b))).toEqual(["Packing"]);
    expect(highlightRanges("anything", "")).toEqual([]);
  });
});
