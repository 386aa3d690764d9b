// The EPUB reader (its own chunk, with foliate-js): paginated, with the table of contents, font
// size and a light/dark/sepia theme. foliate-js renders each chapter into an iframe from a blob:
// URL; such a document inherits this page's CSP, so a book's scripts never run (script-src
// 'self' admits no blob: or inline script), and its inline styles are refused too: the theme is
// a constructed stylesheet (adoptedStyleSheets, which the CSP does not govern), never a <style>
// with text — see docs/web.md, "Readers".
import { useEffect, useRef, useState } from "preact/hooks";
import type { EngineProps } from "./engine";
import { foliateTarget, locatorFrom, type FoliateLocation } from "./position";

interface TocItem { label?: string; href: string; subitems?: TocItem[] | null }
interface FoliateView extends HTMLElement {
  book: { toc?: TocItem[]; sections: { id: string; size: number; linear?: string }[] };
  renderer: HTMLElement & { setStyles?: (css: string) => void; next: () => Promise<void> };
  open: (file: File) => Promise<void>;
  init: (opts: { lastLocation?: string }) => Promise<void>;
  goTo: (target: string) => Promise<unknown>;
  goLeft: () => Promise<void>;
  goRight: () => Promise<void>;
  prev: () => Promise<void>;
  next: () => Promise<void>;
}

type Theme = "light" | "dark" | "sepia";
const THEMES: Record<Theme, { fg: string; link: string }> = {
  light: { fg: "#1d1f23", link: "#1f5fae" },
  dark: { fg: "#e8eaed", link: "#7fb0ff" },
  sepia: { fg: "#433422", link: "#7a4a12" },
};
const SIZES = [80, 90, 100, 110, 125, 150, 175, 200];
const PREFS = "exampleapp-epub-prefs"; // a device's taste, not a synced setting

// The page colour is the stage's (style.css), behind a transparent chapter: foliate-js paints a
// chapter's own background once, when it loads, so a theme change would leave the old one.
const css = (theme: Theme, size: number) => {
  const t = THEMES[theme];
  return `html { font-size: ${size}%; }
html, body { color: ${t.fg} !important; background: transparent !important; }
a:link, a:visited { color: ${t.link} !important; }
p, li, blockquote, dd { line-height: 1.5; }
pre { white-space: pre-wrap !important; }`;
};

const flatten = (items: TocItem[] | null | undefined, depth = 0): { label: string; href: string; depth: number }[] =>
  (items ?? []).flatMap((i) => [{ label: (i.label ?? "").trim(), href: i.href, depth }, ...flatten(i.subitems, depth + 1)]);

export default function EpubReader({ blob, file, start, onMove }: EngineProps) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<FoliateView | null>(null);
  const intent = useRef<"advance" | "jump">("advance");
  const opened = useRef(false);
  const saved = JSON.parse(localStorage.getItem(PREFS) ?? "{}") as { theme?: Theme; size?: number };
  const [theme, setTheme] = useState<Theme>(saved.theme ?? "light");
  const [size, setSize] = useState(saved.size ?? 100);
  const [toc, setToc] = useState<{ label: string; href: string; depth: number }[]>([]);
  const [where, setWhere] = useState<{ section: number; total: number; label: string; fraction: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [ready, setReady] = useState(false); // opened where it should: moves count from here

  useEffect(() => {
    let gone = false;
    let el: FoliateView | null = null;
    void (async () => {
      await import("foliate-js/view.js"); // defines <foliate-view>
      if (gone || !host.current) return;
      el = document.createElement("foliate-view") as FoliateView;
      host.current.append(el);
      view.current = el;
      const name = file.name.toLowerCase().endsWith(".epub") ? file.name : `${file.name}.epub`;
      await el.open(new File([blob], name, { type: "application/epub+zip" }));
      el.renderer.setAttribute("flow", "paginated");
      el.renderer.setAttribute("max-inline-size", "720px");
      setToc(flatten(el.book.toc));
      const sections = el.book.sections;
      el.addEventListener("relocate", (e) => {
        const loc = (e as CustomEvent<FoliateLocation>).detail;
        setWhere({ section: loc.section.current + 1, total: loc.section.total, label: loc.tocItem?.label?.trim() ?? "", fraction: loc.fraction });
        if (!opened.current) return; // landing where we opened is not a move
        const locator = locatorFrom(loc, sections);
        if (locator) onMove({ locator }, intent.current);
        intent.current = "advance";
      });
      // Keys pressed inside the book's frame turn pages too.
      el.addEventListener("load", (e) => {
        const doc = (e as CustomEvent<{ doc: Document }>).detail.doc;
        doc.addEventListener("keydown", (k) => pageKeys(k));
        themed(doc);
      });
      const target = start && "locator" in start ? foliateTarget(start.locator) : null;
      if (target && "cfi" in target) await el.init({ lastLocation: target.cfi });
      else if (target) await el.goTo(target.href);
      else await el.renderer.next();
      opened.current = true;
      setReady(true);
    })().catch((e) => { if (!gone) setError(`This book could not be opened: ${String(e)}`); });
    return () => { gone = true; el?.remove(); view.current = null; };
  }, [blob]);

  // One constructed stylesheet per chapter document, rewritten when the theme or size changes.
  const sheets = useRef(new Map<Document, CSSStyleSheet>());
  const style = useRef(css(theme, size));
  const themed = (doc: Document) => {
    let sheet = sheets.current.get(doc);
    if (!sheet) {
      const win = doc.defaultView as (Window & typeof globalThis) | null;
      if (!win) return;
      sheet = new win.CSSStyleSheet(); // made in the chapter's own document, as adopting requires
      doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
      sheets.current.set(doc, sheet);
    }
    sheet.replaceSync(style.current);
  };
  useEffect(() => {
    style.current = css(theme, size);
    for (const [doc] of sheets.current) {
      if (doc.defaultView) themed(doc);
      else sheets.current.delete(doc); // an unloaded chapter
    }
    // Lay the pages out again for the new size: foliate-js does it when its styles are set (to
    // nothing here: an empty <style>, the one inline style the CSP admits).
    view.current?.renderer.setStyles?.("");
    localStorage.setItem(PREFS, JSON.stringify({ theme, size }));
  }, [theme, size]);

  const pageKeys = (e: KeyboardEvent) => {
    const v = view.current;
    if (!v) return;
    if (e.key === "ArrowRight" || e.key === "PageDown") void v.goRight();
    else if (e.key === "ArrowLeft" || e.key === "PageUp") void v.goLeft();
    else return;
    e.preventDefault();
  };
  const jumpTo = (href: string) => {
    intent.current = "jump";
    void view.current?.goTo(href);
  };
  const sizeBy = (step: number) => {
    const i = Math.max(0, SIZES.indexOf(size));
    setSize(SIZES[Math.min(SIZES.length - 1, Math.max(0, i + step))]!);
  };
  if (error) return <p class="error" role="alert">{error}</p>;
  return (
    <div class={`epub-reader theme-${theme}`}>
      <div class="reader-bar" role="toolbar" aria-label="Book controls">
        <button type="button" onClick={() => void view.current?.goLeft()} aria-label="Previous page">‹ Previous</button>
        <button type="button" onClick={() => void view.current?.goRight()} aria-label="Next page">Next ›</button>
        <label>
          Contents{" "}
          <select aria-label="Table of contents" value="" disabled={!ready} onChange={(e) => { const href = e.currentTarget.value; if (href) jumpTo(href); }}>
            <option value="">{where?.label || "Go to…"}</option>
            {toc.map((item) => (
              <option key={item.href} value={item.href}>{"\u2003".repeat(item.depth) + item.label}</option>
            ))}
          </select>
        </label>
        <span class="sep" />
        <button type="button" onClick={() => sizeBy(-1)} aria-label="A− smaller text">A−</button>
        <span class="zoom" aria-live="polite">{size} %</span>
        <button type="button" onClick={() => sizeBy(1)} aria-label="A+ larger text">A+</button>
        <label>
          Theme{" "}
          <select value={theme} onChange={(e) => setTheme(e.currentTarget.value as Theme)}>
            <option value="light">Light</option>
            <option value="dark">Dark</option>
            <option value="sepia">Sepia</option>
          </select>
        </label>
        {where && <span class="hint" data-section={where.section}>Chapter {where.section} of {where.total} · {Math.round(where.fraction * 100)} %</span>}
      </div>
      <div class="epub-stage" role="region" ref={host} tabIndex={0} data-ready={ready ? "" : undefined} aria-label={`${file.name}, use the arrow keys to turn pages`} onKeyDown={pageKeys} />
    </div>
  );
}
