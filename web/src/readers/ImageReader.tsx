// The image viewer (its own chunk): zoom with the wheel, +/- or the buttons; pan by dragging or
// with the arrow keys; rotate. The position written is the zoom, pan and rotation.
import { useEffect, useRef, useState } from "preact/hooks";
import type { EngineProps } from "./engine";
import type { ImagePosition } from "./position";

type Rotation = 0 | 90 | 180 | 270;
const MIN = 0.1, MAX = 16, STEP = 1.25, PAN = 40;

export default function ImageReader({ blob, file, start, onMove }: EngineProps) {
  const initial = start && "image" in start ? start.image : null;
  const [url, setUrl] = useState<string | null>(null);
  const [view, setView] = useState({ zoom: initial?.zoom ?? 1, x: initial?.pan_x ?? 0, y: initial?.pan_y ?? 0, rotation: (initial?.rotation ?? 0) as Rotation });
  const drag = useRef<{ x: number; y: number; px: number; py: number } | null>(null);
  const first = useRef(true);

  useEffect(() => {
    const made = URL.createObjectURL(blob);
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [blob]);

  useEffect(() => {
    if (first.current) { first.current = false; return; }
    const image: ImagePosition = { zoom: round(view.zoom), pan_x: Math.round(view.x), pan_y: Math.round(view.y), rotation: view.rotation };
    onMove({ image }, "advance");
  }, [view]);

  const zoomBy = (factor: number) => setView((v) => ({ ...v, zoom: Math.min(MAX, Math.max(MIN, v.zoom * factor)) }));
  const panBy = (dx: number, dy: number) => setView((v) => ({ ...v, x: v.x + dx, y: v.y + dy }));
  const keys = (e: KeyboardEvent) => {
    if (e.key === "+" || e.key === "=") zoomBy(STEP);
    else if (e.key === "-") zoomBy(1 / STEP);
    else if (e.key === "ArrowLeft") panBy(PAN, 0);
    else if (e.key === "ArrowRight") panBy(-PAN, 0);
    else if (e.key === "ArrowUp") panBy(0, PAN);
    else if (e.key === "ArrowDown") panBy(0, -PAN);
    else if (e.key === "0") setView((v) => ({ ...v, zoom: 1, x: 0, y: 0 }));
    else return;
    e.preventDefault();
  };
  const transform = `translate(${view.x}px, ${view.y}px) scale(${view.zoom}) rotate(${view.rotation}deg)`;
  return (
    <div class="image-reader">
      <div class="reader-bar" role="toolbar" aria-label="Image controls">
        <button type="button" onClick={() => zoomBy(1 / STEP)} aria-label="Zoom out">−</button>
        <span class="zoom" aria-live="polite">{Math.round(view.zoom * 100)} %</span>
        <button type="button" onClick={() => zoomBy(STEP)} aria-label="Zoom in">+</button>
        <button type="button" onClick={() => setView((v) => ({ ...v, zoom: 1, x: 0, y: 0 }))}>Reset</button>
        <button type="button" onClick={() => setView((v) => ({ ...v, rotation: ((v.rotation + 90) % 360) as Rotation }))} aria-label="Rotate clockwise">⟳</button>
        <span class="hint">Wheel or +/− to zoom, drag or arrow keys to move</span>
      </div>
      <div
        class="image-stage"
        role="region"
        tabIndex={0}
        aria-label={`${file.name}: zoom ${Math.round(view.zoom * 100)} %`}
        data-zoom={round(view.zoom)}
        onKeyDown={keys}
        onWheel={(e) => { e.preventDefault(); zoomBy(e.deltaY < 0 ? STEP : 1 / STEP); }}
        onPointerDown={(e) => { drag.current = { x: e.clientX, y: e.clientY, px: view.x, py: view.y }; (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId); }}
        onPointerMove={(e) => { const d = drag.current; if (d) setView((v) => ({ ...v, x: d.px + e.clientX - d.x, y: d.py + e.clientY - d.y })); }}
        onPointerUp={() => { drag.current = null; }}
      >
        {url && <img src={url} alt={file.name} draggable={false} style={{ transform }} />}
      </div>
    </div>
  );
}

const round = (n: number) => Math.round(n * 1000) / 1000;
