// Search words marked in a text (the ranges come from search.ts).
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
