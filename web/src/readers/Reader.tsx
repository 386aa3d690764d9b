// The reader screen (#/read/<file id>): the file's row from the local store, its bytes (kept on
// this device once opened, so it reads offline), the engine for its kind loaded on demand (PDF,
// EPUB, image: none of them is in the first load), and the reading position — written as one
// reads (debounced, queued offline), opened where this device stopped, with an offer (never a
// silent jump) when another device is further ahead.
import type { ComponentType } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Api } from "../api/client";
import { getMeta, setMeta } from "../db";
import type { FileRow } from "../db";
import { cachedBlob, sweep } from "../library/cache";
import type { SyncEngine } from "../sync/engine";
import { useLive } from "../ui/hooks";
import { fileBlob } from "../library/content";
import {
  aheadElsewhere, body, describe, deviceName, positionOf, progressOf, PositionWriter,
  type DevicePosition, type Intent, type Position,
} from "./position";
import type { EngineProps } from "./engine";

type Engine = ComponentType<EngineProps>;

// Each engine is its own chunk, fetched the first time a file of its kind is opened.
const loaders: Record<FileRow["kind"], () => Promise<{ default: Engine }>> = {
  pdf: () => import("./PdfReader"),
  epub: () => import("./EpubReader"),
  image: () => import("./ImageReader"),
};

const NOT_FOUND = Symbol("not found");
const ownKey = (fileId: string) => `viewer:${fileId}`;

export function ReaderScreen({ engine, api, fileId }: { engine: SyncEngine; api: Api; fileId: string }) {
  const db = engine.db;
  const file = useLive<FileRow | typeof NOT_FOUND | undefined>(
    async () => (await db.file.get(fileId)) ?? NOT_FOUND, [fileId], undefined);
  const [device, setDevice] = useState<{ id: string; name: string } | null>(null);
  const [opened, setOpened] = useState<{ start: Position | null; offer: DevicePosition | null } | null>(null);
  const [generation, setGeneration] = useState(0); // a new one reopens the engine (after a jump)
  const [bytes, setBytes] = useState<{ blob: Blob; fromCache: boolean } | null>(null);
  const [Loaded, setLoaded] = useState<Engine | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [keptOnly, setKeptOnly] = useState(false);
  const row = file && file !== NOT_FOUND ? file : null;
  const kind = row?.kind;
  const pageCount = typeof row?.metadata?.page_count === "number" ? (row.metadata.page_count as number) : null;

  useEffect(() => {
    void getMeta<string>(db, "device", "").then((id) => setDevice({ id, name: deviceName(navigator.userAgent, id) }));
  }, [db]);

  // Where to open, and whether to offer another device's place: this device's own last position
  // (kept here, so it works offline), the server's current one (fresh when online, else the feed's).
  useEffect(() => {
    if (!device || !row || opened) return;
    let gone = false;
    void (async () => {
      let mine = await getMeta<Position | null>(db, ownKey(fileId), null);
      let current = ((await db.viewer_state.get(fileId))?.current ?? null) as DevicePosition | null;
      const { data } = await api.GET("/v1/files/{file_id}/viewer-state", { params: { path: { file_id: fileId } } }).catch(() => ({ data: undefined }));
      if (data) {
        current = (data.current as DevicePosition | null) ?? current;
        // Storage cleared but the same device id (or a write queued elsewhere): the server remembers.
        mine ??= positionOf(data.devices.find((d) => d.device.id === device.id) as DevicePosition | undefined);
      }
      if (!mine && current?.device.id === device.id) mine = positionOf(current);
      if (gone) return;
      setOpened({ start: mine, offer: aheadElsewhere(current, mine, device.id, pageCount) });
    })();
    return () => { gone = true; };
  }, [device, row?.id, fileId]);

  useEffect(() => {
    if (!row) return;
    let gone = false;
    setError(null);
    cachedBlob(row, () => fileBlob(api, row.id))
      .then((got) => { if (!gone) setBytes(got); })
      .catch((e) => { if (!gone) setError(navigator.onLine ? `The file could not be loaded: ${String(e)}` : "This file was never opened on this device, so it needs the network the first time."); });
    // Copies of files deleted since (here or elsewhere) go while we are at it.
    void sweep(async (ids) => new Set((await db.file.bulkGet(ids)).filter(Boolean).map((f) => f!.id)));
    return () => { gone = true; };
  }, [row?.id, row?.sha256]);

  useEffect(() => {
    if (!kind) return;
    let gone = false;
    loaders[kind]().then((m) => { if (!gone) setLoaded(() => m.default); }, (e) => setError(`The reader could not be loaded: ${String(e)}`));
    return () => { gone = true; };
  }, [kind]);

  // Positions: debounced, queued through the sync engine (offline too), and kept here as this
  // device's own place to open at next time.
  const writer = useMemo(() => new PositionWriter((position, intent) => {
    if (!device || !kind) return;
    const fields = body(position, device, intent, new Date());
    void setMeta(db, ownKey(fileId), position);
    const progress = progressOf(position, pageCount);
    void engine.write("viewer_state", fileId, fields as unknown as Record<string, unknown>, {
      create: { id: fileId, file: fileId, kind, current: null, version: 0, updated_at: null },
      local: { current: { ...fields, progress } },
    });
  }), [device, kind, fileId]);
  useEffect(() => {
    const hide = () => writer.flush();
    addEventListener("pagehide", hide);
    return () => { removeEventListener("pagehide", hide); writer.flush(); };
  }, [writer]);

  // The server kept a backwards write only as this device's position: say so, quietly.
  useEffect(() => engine.onResult((op, result) => {
    if (op.type !== "viewer_state" || op.id !== fileId) return;
    const r = result as { applied?: boolean; reason?: string | null };
    setKeptOnly(r.applied === false && r.reason === "regression");
  }), [engine, fileId]);

  const current = useLive(async () => (await db.viewer_state.get(fileId))?.current as DevicePosition | null | undefined, [fileId], null);

  if (file === undefined || !device) return <p>Opening…</p>;
  if (file === NOT_FOUND) return <p>This file is not in your library. <a href="#/library">Back to the library</a></p>;
  const jump = (to: DevicePosition) => {
    const position = positionOf(to);
    setOpened({ start: position, offer: null });
    setGeneration((g) => g + 1);
    if (position) writer.move(position, "jump");
  };
  return (
    <section class="reader" aria-label={`Reading ${row!.name}`}>
      <header class="reader-head">
        <a href="#/library">← Library</a>
        <h1>{row!.name}</h1>
        {bytes?.fromCache && <span class="badge">on this device</span>}
      </header>
      {opened?.offer && (
        <div class="offer" role="alertdialog" aria-labelledby="offer-text">
          <span id="offer-text">
            Continue at {describe(opened.offer)} from {opened.offer.device.name || "another device"}?
          </span>
          <button type="button" class="primary" onClick={() => jump(opened.offer!)}>Jump</button>
          <button type="button" onClick={() => setOpened({ ...opened, offer: null })}>Stay</button>
        </div>
      )}
      {keptOnly && current && (
        <p class="kept hint" role="status">
          Further back than your reading position, so kept as this device's place only: the position
          stays at {describe(current)}{current.device.id === device.id ? "" : ` (from ${current.device.name || "another device"})`}.
          Going there on purpose (contents, go to page) moves it.
        </p>
      )}
      {error && <p class="error" role="alert">{error}</p>}
      {!error && (!bytes || !Loaded || !opened) && <p>Loading…</p>}
      {bytes && Loaded && opened && (
        <Loaded key={generation} blob={bytes.blob} file={row!} start={opened.start} onMove={(p, intent) => writer.move(p, intent)} />
      )}
    </section>
  );
}
