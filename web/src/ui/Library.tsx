// The library (#/library): uploads with progress (resumable direct uploads, library/uploads.ts),
// the grid of files with covers — "Continue reading" first, then the rest — the search and tag
// filter (on this device: they work offline), rename and tags (synced ops: offline too), delete,
// download. Each file opens at #/read/<id>.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { isNetworkError, type Api } from "../api/client";
import type { LibraryFile } from "../api/types";
import type { FileRow, LocalDb } from "../db";
import { cachedBlob, forget as forgetCopy } from "../library/cache";
import { fileBlob } from "../library/content";
import { coverFetcher, coverUrl, forgetCover, type CoverFetch } from "../library/covers";
import { allTags, formatSize, libraryView, parseTags, percent, type GridItem, type StateLike } from "../library/grid";
import { ACCEPT } from "../library/plan";
import { Uploads, type UploadJob } from "../library/uploads";
import type { SyncEngine } from "../sync/engine";
import { useLive } from "./hooks";

type Props = { engine: SyncEngine; api: Api; token: () => Promise<string | null> };

// One upload manager per signed-in store: uploads go on while another screen is open.
const managers = new WeakMap<SyncEngine, Uploads>();

function uploadsFor(engine: SyncEngine, api: Api, token: () => Promise<string | null>): Uploads {
  let uploads = managers.get(engine);
  if (!uploads) {
    uploads = new Uploads({ db: engine.db, api, baseUrl: location.origin, token, onFile: (file) => keepFile(engine, file) });
    managers.set(engine, uploads);
    void uploads.load();
  }
  return uploads;
}

/** A file the server just made: into the grid now (as a pulled change would), then sync. */
async function keepFile(engine: SyncEngine, file: LibraryFile): Promise<void> {
  const db = engine.db;
  await db.transaction("rw", db.file, async () => {
    const stored = await db.file.get(file.id);
    if ((stored?._v ?? 0) >= file.version) return;
    await db.file.put({ ...file, _server: file, _v: file.version } as FileRow);
  });
  engine.soon();
}

export function LibraryScreen({ engine, api, token }: Props) {
  const db = engine.db;
  const uploads = uploadsFor(engine, api, token);
  const fetchCover = useMemo(() => coverFetcher(api), [api]);
  const files = useLive(() => db.file.toArray(), [db], [] as FileRow[]);
  const states = useLive(() => db.viewer_state.toArray() as Promise<unknown[]> as Promise<StateLike[]>, [db], [] as StateLike[]);
  const [query, setQuery] = useState("");
  const [tag, setTag] = useState("");
  const tags = useMemo(() => allTags(files), [files]);
  const view = useMemo(() => libraryView(files, states, { query, tag }), [files, states, query, tag]);
  const filtered = query.trim() !== "" || tag !== "";
  const count = view.continueReading.length + view.others.length;

  return (
    <section class="library" aria-labelledby="library-title">
      <div class="listhead">
        <h1 id="library-title" tabIndex={-1}>
          Library
        </h1>
        <UploadButton uploads={uploads} />
      </div>
      <UploadList uploads={uploads} />
      {files.length > 0 && (
        <div class="filters" role="search" aria-label="Library">
          <label>
            Search library{" "}
            <input type="search" value={query} placeholder="Title, author or name" onInput={(e) => setQuery(e.currentTarget.value)} />
          </label>
          {/* A label around a select would take the options' text into its name. */}
          <span class="field">
            <label for="library-tag">Tag</label>
            <select id="library-tag" value={tag} onChange={(e) => setTag(e.currentTarget.value)}>
              <option value="">Any</option>
              {tags.map((t) => (
                <option value={t}>{t}</option>
              ))}
            </select>
          </span>
          {filtered && (
            <p role="status" class="hint">
              {count} file{count === 1 ? "" : "s"} found
            </p>
          )}
        </div>
      )}
      {files.length === 0 ? (
        <div class="empty-library">
          <p>No books or images yet.</p>
          <p class="hint">Upload PDFs, EPUBs or images (PNG, JPEG, WebP, GIF): they are kept on the server and listed on every device you sign in on.</p>
        </div>
      ) : (
        <>
          {view.continueReading.length > 0 && (
            <Shelf title="Continue reading" id="continue" items={view.continueReading} engine={engine} api={api} fetchCover={fetchCover} />
          )}
          {view.others.length > 0 && (
            <Shelf title={view.continueReading.length ? "Everything else" : "All files"} id="all" items={view.others} engine={engine} api={api} fetchCover={fetchCover} />
          )}
          {count === 0 && <p class="empty">Nothing matches.</p>}
        </>
      )}
    </section>
  );
}

function UploadButton({ uploads }: { uploads: Uploads }) {
  return (
    <label class="button primary upload">
      Upload files
      <input
        type="file"
        multiple
        accept={ACCEPT}
        class="visually-hidden"
        onChange={(e) => {
          const picked = [...(e.currentTarget.files ?? [])];
          e.currentTarget.value = ""; // the same file may be picked again
          if (picked.length) void uploads.add(picked);
        }}
      />
    </label>
  );
}

function useJobs(uploads: Uploads): UploadJob[] {
  const [jobs, setJobs] = useState(uploads.jobs);
  useEffect(() => {
    setJobs(uploads.jobs);
    return uploads.subscribe(() => setJobs(uploads.jobs));
  }, [uploads]);
  return jobs;
}

const PHASES: Record<UploadJob["phase"], string> = {
  hashing: "Checking the file",
  uploading: "Uploading",
  finishing: "Finishing: the server checks the file",
  done: "Uploaded",
  failed: "Failed",
  cancelled: "Cancelled",
  paused: "Paused",
};

function UploadList({ uploads }: { uploads: Uploads }) {
  const jobs = useJobs(uploads);
  if (!jobs.length) return null;
  return (
    <section class="uploads" aria-labelledby="uploads-title">
      <h2 id="uploads-title">Uploads</h2>
      <ul>
        {jobs.map((job) => (
          <UploadRow key={job.key} job={job} uploads={uploads} />
        ))}
      </ul>
    </section>
  );
}

function UploadRow({ job, uploads }: { job: UploadJob; uploads: Uploads }) {
  const active = job.phase === "hashing" || job.phase === "uploading" || job.phase === "finishing";
  const ended = job.phase === "done" || job.phase === "failed" || job.phase === "cancelled";
  const amount = job.phase === "hashing" ? `${percent(job.size ? job.loaded / job.size : 1)} checked` : `${formatSize(job.loaded)} of ${formatSize(job.size)}`;
  return (
    <li class={`upload-job ${job.phase}`} data-upload={job.uploadId ?? ""}>
      <div class="upload-name">
        <strong>{job.name}</strong>
        <span class="hint">
          {job.path === "direct" ? "direct to storage, resumable" : "one request"}
        </span>
      </div>
      <progress max={job.size || 1} value={job.phase === "done" ? job.size || 1 : job.loaded} aria-label={`${job.name}: ${PHASES[job.phase]}`} />
      <span class="upload-state" data-testid="upload-state">
        {/* Only the phase and its message are announced, not every step of the bar. */}
        <span role="status">{PHASES[job.phase]}</span>
        {active || job.phase === "paused" ? ` — ${amount}` : ""}
        {job.message ? `. ${job.message}` : ""}
      </span>
      <div class="actions">
        {job.phase === "done" && job.fileId && <a href={`#/read/${job.fileId}`}>Open</a>}
        {job.phase === "paused" && (
          <label class="button">
            Pick the file again
            <input
              type="file"
              accept={ACCEPT}
              class="visually-hidden"
              aria-label={`Pick “${job.name}” again to resume`}
              onChange={(e) => {
                const file = e.currentTarget.files?.[0];
                e.currentTarget.value = "";
                if (file) void uploads.resume(job.key, file);
              }}
            />
          </label>
        )}
        {(active || job.phase === "paused") && (
          <button type="button" onClick={() => void uploads.cancel(job.key)} aria-label={`Cancel the upload of ${job.name}`}>
            Cancel
          </button>
        )}
        {ended && (
          <button type="button" onClick={() => uploads.dismiss(job.key)} aria-label={`Dismiss ${job.name}`}>
            Dismiss
          </button>
        )}
      </div>
    </li>
  );
}

type CardDeps = { engine: SyncEngine; api: Api; fetchCover: CoverFetch };
type ShelfProps = CardDeps & { title: string; id: string; items: GridItem[] };

function Shelf({ title, id, items, ...deps }: ShelfProps) {
  return (
    <section class="shelf" aria-labelledby={`shelf-${id}`}>
      <h2 id={`shelf-${id}`}>{title}</h2>
      <ul class="grid">
        {items.map((item) => (
          <Card key={item.file.id} item={item} {...deps} />
        ))}
      </ul>
    </section>
  );
}

const KIND_LABEL: Record<string, string> = { pdf: "PDF", epub: "EPUB", image: "Image" };

function Cover({ db, fetchCover, file }: { db: LocalDb; fetchCover: CoverFetch; file: LibraryFile }) {
  const [url, setUrl] = useState<string | null | undefined>(undefined);
  useEffect(() => {
    let live = true;
    void coverUrl(db, fetchCover, file).then((u) => live && setUrl(u));
    return () => {
      live = false;
    };
  }, [file.id, file.sha256]);
  if (url) return <img class="cover" src={url} alt="" data-cover="image" />;
  return (
    <span class={`cover placeholder ${file.kind}`} aria-hidden="true" data-cover={url === null ? "none" : "loading"}>
      {KIND_LABEL[file.kind] ?? file.kind}
    </span>
  );
}

function Card({ item, engine, api, fetchCover }: CardDeps & { item: GridItem }) {
  const { file } = item;
  const db = engine.db;
  const [editing, setEditing] = useState(false);
  const [note, setNote] = useState("");
  const editButton = useRef<HTMLButtonElement>(null);
  const wasEditing = useRef(false);
  useEffect(() => {
    // Back from the form (saved or cancelled): the keyboard goes on from the Edit button.
    if (wasEditing.current && !editing) editButton.current?.focus();
    wasEditing.current = editing;
  }, [editing]);

  const remove = async () => {
    if (!confirm(`Delete “${item.title}”? It goes from every device.`)) return;
    await engine.remove("file", file.id);
    await forgetCover(db, file.id);
    await forgetCopy(file.id).catch(() => {}); // the copy kept for offline reading (readers)
    document.getElementById("library-title")?.focus(); // the card and its button are gone
  };

  const download = async () => {
    setNote("Downloading…");
    try {
      // Through the API (the bearer token), then a blob: URL: an <a href> to the content route
      // could not carry the token. A book opened before comes from this device's copy (the
      // readers' cache), so it downloads offline too.
      const { blob } = await cachedBlob(file, () => fileBlob(api, file.id));
      const url = URL.createObjectURL(blob);
      const link = document.createElement("a");
      link.href = url;
      link.download = file.name;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      setNote("");
    } catch (error) {
      setNote(isNetworkError(error) ? "Offline: downloads need the server." : `Download failed: ${(error as Error).message}`);
    }
  };

  return (
    <li class="card" data-file={file.id}>
      <a class="card-open" href={`#/read/${file.id}`}>
        <Cover db={db} fetchCover={fetchCover} file={file} />
        <span class="card-title">
          {item.title}
          <span class="visually-hidden"> ({KIND_LABEL[file.kind] ?? file.kind})</span>
        </span>
        {item.author && <span class="card-author">{item.author}</span>}
        {file.name !== item.title && <span class="card-name">{file.name}</span>}
        {item.progress !== null && (
          <span class="card-progress">
            <span class="bar" aria-hidden="true">
              <span style={{ width: percent(item.progress) }} />
            </span>
            <span class="hint">{percent(item.progress)} read</span>
          </span>
        )}
      </a>
      {file.tags.length > 0 && (
        <span class="card-tags">
          {file.tags.map((t) => (
            <span class="tag">#{t}</span>
          ))}
        </span>
      )}
      {editing ? (
        <EditFile file={file} engine={engine} done={() => setEditing(false)} />
      ) : (
        <div class="card-actions">
          <button type="button" ref={editButton} onClick={() => setEditing(true)} aria-label={`Edit “${item.title}” (rename, tags)`}>
            Edit
          </button>
          <button type="button" onClick={download} aria-label={`Download “${item.title}”`}>
            Download
          </button>
          <button type="button" class="danger" onClick={remove} aria-label={`Delete “${item.title}”`}>
            Delete
          </button>
        </div>
      )}
      {note && (
        <p class="hint" role="status">
          {note}
        </p>
      )}
    </li>
  );
}

function EditFile({ file, engine, done }: { file: LibraryFile; engine: SyncEngine; done: () => void }) {
  const [name, setName] = useState(file.name);
  const [tags, setTags] = useState(file.tags.join(", "));
  const first = useRef<HTMLInputElement>(null);
  useEffect(() => first.current?.focus(), []);
  const save = async (event: Event) => {
    event.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) return;
    await engine.write("file", file.id, { name: trimmed, tags: parseTags(tags) });
    done();
  };
  return (
    <form class="card-edit" onSubmit={save} onKeyDown={(e) => e.key === "Escape" && done()}>
      <label>
        Name <input ref={first} value={name} required onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label>
        Tags (comma separated) <input value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
      </label>
      <div class="actions">
        <button type="submit" class="primary">Save</button>
        <button type="button" onClick={done}>Cancel</button>
      </div>
    </form>
  );
}
