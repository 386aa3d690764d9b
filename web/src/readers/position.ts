// Reading positions, the pure part (unit-tested in test/readers.test.ts): what a viewer-state
// write says, how far through a file a position is, whether another device is further ahead,
// and when a write goes out (debounced, with the intent it carries). The screens only wire it up.
import type { ViewerStateFields } from "../api/types";

export type Kind = "pdf" | "epub" | "image";
export type Intent = "advance" | "jump";
export type Locator = NonNullable<ViewerStateFields["locator"]>;
export type PdfPosition = NonNullable<ViewerStateFields["pdf"]>;
export type ImagePosition = NonNullable<ViewerStateFields["image"]>;
/** One of the three, as the engines report it. */
export type Position = { locator: Locator } | { pdf: PdfPosition } | { image: ImagePosition };

/** A stored position of some device (the feed's `current`, an entry of GET's `devices`). */
export interface DevicePosition {
  device: { id: string; name?: string };
  modified: string;
  progress: number | null;
  locator?: Locator;
  pdf?: PdfPosition;
  image?: ImagePosition;
}

/** The body of PUT /v1/files/{id}/viewer-state (and of a viewer_state push op). */
export function body(position: Position, device: { id: string; name: string }, intent: Intent, modified: Date): ViewerStateFields {
  return { device, modified: modified.toISOString(), intent, ...position };
}

/** How far through the file, 0..1 (null: no sense of "further", as for an image). The server
 * computes its own from the same fields; this one decides offers and intents offline. */
export function progressOf(position: Partial<DevicePosition> | Position, pageCount?: number | null): number | null {
  if ("pdf" in position && position.pdf) {
    const { page, totalProgression } = position.pdf;
    if (pageCount && pageCount > 0) return clamp(page / pageCount);
    return totalProgression ?? null;
  }
  if ("locator" in position && position.locator) {
    const total = position.locator.locations?.totalProgression;
    return typeof total === "number" ? clamp(total) : null;
  }
  return null;
}

const clamp = (n: number) => Math.min(1, Math.max(0, n));

/** Half a page of a 1,000-page book: closer than this is "the same place" (no offer). */
export const AHEAD_EPSILON = 0.0005;

/**
 * The server's current position, when it is another device's and further than where this device
 * stopped: worth offering a jump. Never for this device's own position, nor for images.
 */
export function aheadElsewhere(
  current: DevicePosition | null | undefined,
  mine: Position | null,
  myDevice: string,
  pageCount?: number | null,
): DevicePosition | null {
  if (!current || current.device.id === myDevice) return null;
  const theirs = current.progress ?? progressOf(current, pageCount);
  if (theirs === null) return null;
  const here = mine ? (progressOf(mine, pageCount) ?? 0) : 0;
  return theirs > here + AHEAD_EPSILON ? current : null;
}

/** What the offer says: "page 40" for a PDF, the chapter (or per cent) for an EPUB. */
export function describe(position: Partial<DevicePosition>): string {
  if (position.pdf) return `page ${position.pdf.page}`;
  if (position.locator) {
    const percent = position.locator.locations?.totalProgression;
    const where = percent === undefined ? "" : `${Math.round(percent * 100)} %`;
    const title = position.locator.title;
    return title && where ? `${title} (${where})` : title || where || "another place";
  }
  return "another place";
}

/** The position part of a stored one (what an engine opens at). */
export function positionOf(stored: Partial<DevicePosition> | null | undefined): Position | null {
  if (!stored) return null;
  if (stored.pdf) return { pdf: stored.pdf };
  if (stored.locator) return { locator: stored.locator };
  if (stored.image) return { image: stored.image };
  return null;
}

/** A short name for this browser in another device's offer ("Chrome on Linux · 3f2a"). */
export function deviceName(userAgent: string, id: string): string {
  const browser = /Edg\//.test(userAgent) ? "Edge"
    : /Firefox\//.test(userAgent) ? "Firefox"
    : /Chrom(e|ium)\//.test(userAgent) ? "Chrome"
    : /Safari\//.test(userAgent) ? "Safari"
    : "Browser";
  const os = /Android/.test(userAgent) ? "Android"
    : /iPhone|iPad/.test(userAgent) ? "iOS"
    : /Mac OS X/.test(userAgent) ? "macOS"
    : /Windows/.test(userAgent) ? "Windows"
    : /Linux/.test(userAgent) ? "Linux"
    : "the web";
  return `${browser} on ${os} · ${id.slice(0, 4)}`;
}

// --- EPUB: foliate-js's relocate event <-> a Readium locator ----------------------------------

/** What foliate-js's `relocate` event carries (the fields used here). */
export interface FoliateLocation {
  fraction: number;
  section: { current: number; total: number };
  cfi?: string;
  tocItem?: { label?: string; href?: string } | null;
}

/**
 * A Readium locator from foliate-js: `href` is the spine item's path from the archive root (what
 * the server's validation and progress use), `progression` the place within it, computed from
 * the total fraction and the section sizes foliate-js weighs it by; the CFI goes in `fragments`
 * (as `epubcfi(...)`, Readium's fragment form) and `partialCfi`-free, so other readers can ignore it.
 */
export function locatorFrom(
  loc: FoliateLocation,
  sections: { id: string; size: number; linear?: string }[],
): Locator | null {
  const index = loc.section.current;
  const section = sections[index];
  if (!section) return null;
  const sizes = sections.map((s) => (s.linear !== "no" && s.size > 0 ? s.size : 0));
  const total = sizes.reduce((a, b) => a + b, 0);
  const before = sizes.slice(0, index).reduce((a, b) => a + b, 0);
  const own = sizes[index] ?? 0;
  const progression = own > 0 && total > 0 ? clamp((loc.fraction * total - before) / own) : 0;
  const fragments = loc.cfi ? [loc.cfi] : undefined;
  return {
    href: section.id,
    type: "application/xhtml+xml",
    ...(loc.tocItem?.label ? { title: loc.tocItem.label } : {}),
    locations: {
      progression: round(progression),
      totalProgression: round(clamp(loc.fraction)),
      position: index + 1,
      ...(fragments ? { fragments } : {}),
    },
  };
}

/** Where foliate-js should open for a locator: its CFI when there is one, else the resource and
 * the fraction through it (a locator written by another Readium reader). */
export function foliateTarget(locator: Locator): { cfi: string } | { href: string; progression: number } {
  const cfi = locator.locations?.fragments?.find((f) => f.startsWith("epubcfi("));
  if (cfi) return { cfi };
  return { href: locator.href, progression: locator.locations?.progression ?? 0 };
}

const round = (n: number) => Math.round(n * 1e6) / 1e6;

// --- when a write goes out ------------------------------------------------------------------

/**
 * Collects moves and writes the last one `delay` ms after the last move. An explicit jump inside
 * the window makes the write a jump (the server must move the current position, even backwards);
 * plain reading, backwards included, is an advance (the server keeps a backwards one as this
 * device's position only).
 */
export class PositionWriter {
  private pending: { position: Position; intent: Intent } | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private write: (position: Position, intent: Intent) => void,
    private delay = 1500,
  ) {}

  move(position: Position, intent: Intent = "advance"): void {
    const wasJump = this.pending?.intent === "jump";
    this.pending = { position, intent: wasJump || intent === "jump" ? "jump" : "advance" };
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush(), this.delay);
  }

  /** Write now what is waiting (leaving the reader, the page hidden). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const pending = this.pending;
    this.pending = null;
    if (pending) this.write(pending.position, pending.intent);
  }

  get waiting(): boolean {
    return this.pending !== null;
  }
}
