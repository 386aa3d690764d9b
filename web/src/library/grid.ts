// The library grid's rules, as pure functions (unit-tested in test/library.test.ts): what a
// file is called (its metadata's title and author, else its name), "Continue reading" (files
// with a reading position, the most recently opened first, with how far through) before the
// rest, and the search and tag filter, which run on this device so they work offline.
import type { LibraryFile } from "../api/types";

export interface GridItem {
  file: LibraryFile;
  title: string;
  author: string;
  /** when a position was last written (the server's, or one still waiting here to be pushed) */
  lastOpened: string | null;
  /** 0..1 through the file, when known */
  progress: number | null;
}

/** A local viewer-state row: the feed's shape, possibly with a pending PUT body laid over it
 * (`modified`, the device's time of an unpushed position; see engine.write("viewer_state")). */
export interface StateLike {
  id: string;
  updated_at?: string | null;
  modified?: string | null;
  current?: { progress?: number | null; modified?: string } | null;
  locator?: { locations?: { totalProgression?: number } } | null;
  pdf?: { totalProgression?: number } | null;
}

const text = (value: unknown): string => (typeof value === "string" ? value.trim() : "");

/** The title to show: the metadata's (PDF Info, EPUB dc:title), else the file name without
 * its extension. */
export function titleOf(file: Pick<LibraryFile, "name" | "metadata">): string {
  return text(file.metadata?.title) || file.name.replace(/\.(pdf|epub|png|jpe?g|webp|gif)$/i, "") || file.name;
}

/** The author(s): PDF `author`, EPUB `authors` (a list). Empty when there is none. */
export function authorOf(file: Pick<LibraryFile, "metadata">): string {
  const meta = file.metadata ?? {};
  if (Array.isArray(meta.authors)) return meta.authors.map(text).filter(Boolean).join(", ");
  return text(meta.author);
}

function latest(...times: Array<string | null | undefined>): string | null {
  const known = times.filter((t): t is string => !!t && !Number.isNaN(Date.parse(t)));
  if (!known.length) return null;
  return known.reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a));
}

export function gridItem(file: LibraryFile, state?: StateLike): GridItem {
  const pending = state?.locator?.locations?.totalProgression ?? state?.pdf?.totalProgression;
  return {
    file,
    title: titleOf(file),
    author: authorOf(file),
    lastOpened: latest(file.last_opened, state?.updated_at, state?.modified),
    progress: pending ?? state?.current?.progress ?? file.progress ?? null,
  };
}

/** Lower case, accents off: "Émile" is found by "emile". */
export function fold(value: string): string {
  return value.normalize("NFD").replace(/\p{M}+/gu, "").toLowerCase();
}

/** Every word of the query appears in the file's name, title or author. */
export function matches(item: GridItem, query: string): boolean {
  const words = fold(query).split(/\s+/).filter(Boolean);
  if (!words.length) return true;
  const hay = fold(`${item.file.name}\n${item.title}\n${item.author}`);
  return words.every((w) => hay.includes(w));
}

export interface LibraryView {
  continueReading: GridItem[];
  others: GridItem[];
}

/** The grid: files opened before (most recent first), then the rest (newest upload first, then
 * by title), both filtered by the search and the tag. */
export function libraryView(
  files: LibraryFile[],
  states: StateLike[],
  filter: { query?: string; tag?: string } = {},
): LibraryView {
  const byFile = new Map(states.map((s) => [s.id, s]));
  const items = files
    .map((f) => gridItem(f, byFile.get(f.id)))
    .filter((item) => (!filter.tag || item.file.tags.includes(filter.tag)) && matches(item, filter.query ?? ""));
  const continueReading = items
    .filter((i) => i.lastOpened)
    .sort((a, b) => Date.parse(b.lastOpened!) - Date.parse(a.lastOpened!) || a.title.localeCompare(b.title));
  const others = items
    .filter((i) => !i.lastOpened)
    .sort((a, b) => b.file.created_at.localeCompare(a.file.created_at) || a.title.localeCompare(b.title));
  return { continueReading, others };
}

export function allTags(files: Pick<LibraryFile, "tags">[]): string[] {
  return [...new Set(files.flatMap((f) => f.tags))].sort((a, b) => a.localeCompare(b));
}

/** "37%" for a progress bar's label. */
export function percent(progress: number | null): string {
  return progress === null ? "" : `${Math.round(Math.min(1, Math.max(0, progress)) * 100)}%`;
}

/** Tags as typed in a field: comma separated, trimmed, no empties or repeats. */
export function parseTags(value: string): string[] {
  return [...new Set(value.split(",").map((t) => t.trim()).filter(Boolean))];
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let n = bytes / 1024;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}
