// Search matches marked in a text: the server's segments, or (offline) ranges from search.ts.
import type { ComponentChildren } from "preact";
import { highlightRanges } from "../search";

export function highlight(text: string, query: string): ComponentChildren {
  const out: ComponentChildren[] = [];
  let at = 0;
  for (const [start, end] of highlightRanges(text, query)) {
    out.push(text.slice(at, start), <mark>{text.slice(start, end)}</mark>);
    at = end;
  }
  out.push(text.slice(at));
  return out;
}

/** The server's search highlight: text segments, the odd ones matched (docs/notes.md). */
export function segments(parts: readonly string[]): ComponentChildren {
  return parts.map((part, i) => (i % 2 ? <mark>{part}</mark> : part));
}
