// The PDF reader (its own chunk, with pdf.js): one page at a time on a canvas; next/previous,
// go to page, zoom, fit width / fit page, rotate. pdf.js parses in a worker served from our own
// origin as a hashed asset (`?url`), so the CSP's script-src 'self' (worker-src) covers it.
import * as pdfjs from "pdfjs-dist";
import workerUrl from "pdfjs-dist/build/pdf.worker.min.mjs?url";
import { useEffect, useRef, useState } from "preact/hooks";
import type { EngineProps } from "./engine";
import type { PdfPosition } from "./position";

pdfjs.GlobalWorkerOptions.workerSrc = workerUrl;

type Fit = "width" | "page" | "custom";
const ZOOMS = [0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 3];
type Rotation = 0 | 90 | 180 | 270;

export default function PdfReader({ blob, start, onMove }: EngineProps) {
  const initial = start && "pdf" in start ? start.pdf : null;
  const [doc, setDoc] = useState<pdfjs.PDFDocumentProxy | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [page, setPage] = useState(initial?.page ?? 1);
  const [fit, setFit] = useState<Fit>(initial?.zoom ? "custom" : "page");
  const [zoom, setZoom] = useState(initial?.zoom ?? 1);
  const [rotation, setRotation] = useState<Rotation>((initial?.rotation ?? 0) as Rotation);
  const [goto, setGoto] = useState(String(initial?.page ?? 1));
  const canvas = useRef<HTMLCanvasElement>(null);
  const stage = useRef<HTMLDivElement>(null);
  const intent = useRef<"advance" | "jump">("advance");
  const first = useRef(true);

  useEffect(() => {
    let task: pdfjs.PDFDocumentLoadingTask | null = null;
    void blob.arrayBuffer().then((data) => {
      task = pdfjs.getDocument({ data });
      return task.promise;
    }).then((d) => {
      setDoc(d);
      setPage((p) => Math.min(Math.max(1, p), d.numPages));
    }, (e) => setError(`This PDF could not be opened: ${String(e)}`));
    return () => void task?.destroy();
  }, [blob]);

  // Draw the page whenever it, the zoom or the rotation changes (and the fit's box resizes).
  const [box, setBox] = useState({ w: 800, h: 600 });
  useEffect(() => {
    const el = stage.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setBox({ w: el.clientWidth, h: el.clientHeight }));
    observer.observe(el);
    return () => observer.disconnect();
  }, [doc]);
  useEffect(() => {
    if (!doc || !canvas.current) return;
    let cancelled = false;
    let render: ReturnType<pdfjs.PDFPageProxy["render"]> | null = null;
    void doc.getPage(page).then((p) => {
      if (cancelled) return;
      const natural = p.getViewport({ scale: 1, rotation });
      const scale = fit === "width" ? (box.w - 16) / natural.width
        : fit === "page" ? Math.min((box.w - 16) / natural.width, (box.h - 16) / natural.height)
        : zoom;
      if (fit !== "custom") setZoom(Math.round(scale * 100) / 100);
      const ratio = devicePixelRatio || 1;
      const viewport = p.getViewport({ scale: scale * ratio, rotation });
      const el = canvas.current!;
      el.width = Math.floor(viewport.width);
      el.height = Math.floor(viewport.height);
      el.style.width = `${Math.floor(viewport.width / ratio)}px`;
      el.style.height = `${Math.floor(viewport.height / ratio)}px`;
      render = p.render({ canvas: el, viewport });
      return render.promise;
    }).catch(() => undefined); // a cancelled render
    return () => { cancelled = true; render?.cancel(); };
  }, [doc, page, fit, zoom, rotation, box.w, box.h]);

  // Every move is reported (the screen debounces the writes); opening is not a move.
  useEffect(() => {
    if (!doc) return;
    setGoto(String(page));
    if (first.current) { first.current = false; return; }
    // A zoom is kept only when chosen: a fitted page fits again on the next screen.
    const pdf: PdfPosition = { page, rotation, totalProgression: page / doc.numPages, ...(fit === "custom" ? { zoom } : {}) };
    onMove({ pdf }, intent.current);
    intent.current = "advance";
    // A fitted zoom follows the window: not a move of its own.
  }, [doc, page, rotation, fit === "custom" ? zoom : fit]);

  if (error) return <p class="error" role="alert">{error}</p>;
  const pages = doc?.numPages ?? 0;
  const to = (n: number, how: "advance" | "jump" = "advance") => {
    intent.current = how;
    setPage(Math.min(Math.max(1, n), pages || 1));
  };
  const zoomBy = (step: number) => {
    const i = ZOOMS.findIndex((z) => z >= zoom - 0.001);
    const next = ZOOMS[Math.min(ZOOMS.length - 1, Math.max(0, (i < 0 ? ZOOMS.length - 1 : i) + step))]!;
    setFit("custom");
    setZoom(next);
  };
  const keys = (e: KeyboardEvent) => {
    if ((e.target as HTMLElement).tagName === "INPUT") return;
    if (e.key === "ArrowRight" || e.key === "PageDown" || e.key === " ") to(page + 1);
    else if (e.key === "ArrowLeft" || e.key === "PageUp") to(page - 1);
    else if (e.key === "Home") to(1, "jump");
    else if (e.key === "End") to(pages, "jump");
    else if (e.key === "+" || e.key === "=") zoomBy(1);
    else if (e.key === "-") zoomBy(-1);
    else return;
    e.preventDefault();
  };
  return (
    <div class="pdf-reader" onKeyDown={keys}>
      <div class="reader-bar" role="toolbar" aria-label="PDF controls">
        <button type="button" onClick={() => to(page - 1)} disabled={page <= 1} aria-label="Previous page">‹ Previous</button>
        <form class="goto" onSubmit={(e) => { e.preventDefault(); const n = Number(goto); if (n >= 1) to(n, "jump"); }}>
          <label>Page <input type="number" min={1} max={pages} value={goto} onInput={(e) => setGoto(e.currentTarget.value)} aria-label="Page number" /></label>
          <span> of {pages || "…"}</span>
          <button type="submit">Go</button>
        </form>
        <button type="button" onClick={() => to(page + 1)} disabled={page >= pages} aria-label="Next page">Next ›</button>
        <span class="sep" />
        <button type="button" onClick={() => zoomBy(-1)} aria-label="Zoom out">−</button>
        <span class="zoom" aria-live="polite">{Math.round(zoom * 100)} %</span>
        <button type="button" onClick={() => zoomBy(1)} aria-label="Zoom in">+</button>
        <button type="button" aria-pressed={fit === "width"} onClick={() => setFit("width")}>Fit width</button>
        <button type="button" aria-pressed={fit === "page"} onClick={() => setFit("page")}>Fit page</button>
        <button type="button" onClick={() => setRotation(((rotation + 90) % 360) as Rotation)} aria-label="Rotate clockwise">⟳</button>
      </div>
      <div class="pdf-stage" role="region" ref={stage} tabIndex={0} aria-label={`Page ${page} of ${pages}`} data-page={doc ? page : undefined}>
        <canvas ref={canvas} role="img" aria-label={`Page ${page}`} />
      </div>
    </div>
  );
}
