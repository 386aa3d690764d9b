// Notes: a list (pinned first; tag, archived; full-text search through the API, with what it
// matched highlighted as the server says: `highlight` segments), a Markdown editor with a sanitised preview, tags, pin, archive, and
// the revision history with restore (which needs the server: revisions are not kept locally).
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { isNetworkError, problemText, type Api } from "../api/client";
import type { Highlight, Note, Revision, RevisionDetail } from "../api/types";
import type { NoteRow } from "../db";
import { renderMarkdown } from "../markdown";
import type { SyncEngine } from "../sync/engine";
import { highlight, segments } from "./highlight";
import { go, useLive } from "./hooks";
import { LinkedFiles } from "./LinkedFiles";

type Props = { engine: SyncEngine; api: Api; route: string[] };

export function NotesScreen({ engine, api, route }: Props) {
  if (route[0] && route[1] === "history") return <History engine={engine} api={api} id={route[0]} number={route[2] ? Number(route[2]) : null} />;
  if (route[0]) return <NoteEditor key={route[0]} engine={engine} id={route[0]} />;
  return <NoteList engine={engine} api={api} />;
}

function NoteList({ engine, api }: { engine: SyncEngine; api: Api }) {
  const db = engine.db;
  const [archived, setArchived] = useState(false);
  const [tag, setTag] = useState("");
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<{ q: string; ids: string[]; where: "server" | "device"; marks: Map<string, Highlight> } | null>(null);
  const notes = useLive(() => db.note.toArray(), [db], [] as NoteRow[]);
  const tags = useMemo(() => [...new Set(notes.flatMap((n) => n.tags))].sort(), [notes]);

  const search = async (event: Event) => {
    event.preventDefault();
    const q = query.trim();
    if (!q) return setResults(null);
    try {
      const { data, error } = await api.GET("/v1/notes", { params: { query: { q, limit: 50, archived: "all" } } });
      if (data) {
        const marks = new Map(data.results.flatMap((n) => (n.highlight ? [[n.id, n.highlight] as const] : [])));
        return setResults({ q, ids: data.results.map((n) => n.id), where: "server", marks });
      }
      throw new Error(problemText(error));
    } catch (error) {
      if (!isNetworkError(error)) console.warn(error);
      // Offline: every word must appear, as the server's fallback search does.
      const words = q.toLowerCase().split(/\s+/);
      const ids = notes.filter((n) => words.every((w) => `${n.title}\n${n.body}`.toLowerCase().includes(w))).map((n) => n.id);
      setResults({ q, ids, where: "device", marks: new Map() });
    }
  };

  const create = async () => {
    const now = new Date().toISOString();
    const note: Note = { id: crypto.randomUUID(), title: "", body: "", tags: [], pinned: false, archived: false, files: [], version: 0, created_at: now, updated_at: now };
    await engine.write("note", note.id, { title: "", body: "" }, { create: note });
    go(`/notes/${note.id}`);
  };

  let shown: NoteRow[];
  if (results) {
    const byId = new Map(notes.map((n) => [n.id, n]));
    shown = results.ids.map((id) => byId.get(id)).filter((n): n is NoteRow => !!n);
  } else {
    shown = notes
      .filter((n) => n.archived === archived && (!tag || n.tags.includes(tag)))
      .sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.updated_at.localeCompare(a.updated_at));
  }
  return (
    <section class="notes" aria-labelledby="notes-title">
      <div class="listhead">
        <h1 id="notes-title">Notes</h1>
        <button type="button" class="primary" onClick={create}>New note</button>
      </div>
      <form role="search" onSubmit={search} class="inline">
        <label>
          Search notes <input type="search" name="q" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        </label>
        <button type="submit">Search</button>
        {results && <button type="button" onClick={() => { setResults(null); setQuery(""); }}>Clear search</button>}
      </form>
      {!results && (
        <div class="filters" role="group" aria-label="Filters">
          <label>
            Tag{" "}
            <select value={tag} onChange={(e) => setTag(e.currentTarget.value)}>
              <option value="">Any</option>
              {tags.map((t) => (
                <option value={t}>{t}</option>
              ))}
            </select>
          </label>
          <label class="check">
            <input type="checkbox" checked={archived} onChange={(e) => setArchived(e.currentTarget.checked)} /> Archived notes
          </label>
        </div>
      )}
      {results && (
        <p role="status">
          {results.ids.length} result{results.ids.length === 1 ? "" : "s"} for “{results.q}”
          {results.where === "device" ? " on this device (offline: the server's search is not reachable)" : ""}
        </p>
      )}
      <ul class="notelist">
        {shown.map((n) => (
          <li key={n.id}>
            <a href={`#/notes/${n.id}`}>
              <span class="title">
                {n.pinned && <span class="badge">Pinned </span>}
                {results?.marks.get(n.id) ? segments(results.marks.get(n.id)!.title) : results ? highlight(n.title || "Untitled", results.q) : n.title || "Untitled"}
              </span>
              <span class="preview">
                {results?.marks.get(n.id) ? segments(results.marks.get(n.id)!.body.map(plainText)) : results ? highlight(excerpt(n.body, results.q), results.q) : excerpt(n.body, "")}
              </span>
            </a>
            {n.tags.map((t) => (
              <span class="tag">#{t}</span>
            ))}
          </li>
        ))}
      </ul>
      {shown.length === 0 && <p class="empty">{results ? "Nothing found." : "No notes yet."}</p>}
    </section>
  );
}

/** Text, not Markdown: no markup characters, tags, table rules or link targets. */
function plainText(markdown: string): string {
  return markdown
    .replace(/<[^>]*>/g, " ")
    .replace(/\]\([^)]*\)/g, "]")
    .replace(/[#>*_`~\[\]|]|-{3,}/g, " ")
    .replace(/\s+/g, " ");
}

/** About 160 characters of the body, around the first matched word when searching. */
function excerpt(body: string, q: string): string {
  const plain = plainText(body).trim();
  const words = q.toLowerCase().split(/\s+/).filter(Boolean);
  const at = words.map((w) => plain.toLowerCase().indexOf(w.slice(0, Math.max(3, w.length - 2)))).filter((i) => i >= 0);
  const start = at.length ? Math.max(0, Math.min(...at) - 60) : 0;
  return (start ? "…" : "") + plain.slice(start, start + 160) + (plain.length > start + 160 ? "…" : "");
}

function NoteEditor({ engine, id }: { engine: SyncEngine; id: string }) {
  const note = useLive(() => engine.db.note.get(id), [id], undefined as NoteRow | undefined);
  const [title, setTitle] = useState<string | null>(null);
  const [body, setBody] = useState<string | null>(null);
  const [preview, setPreview] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const unsaved = useRef<Record<string, string>>({});

  const flush = () => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = null;
    const fields = unsaved.current;
    unsaved.current = {};
    if (Object.keys(fields).length) void engine.write("note", id, fields);
  };
  useEffect(() => flush, []); // save what is typed when leaving
  const edit = (field: "title" | "body", value: string) => {
    (field === "title" ? setTitle : setBody)(value);
    unsaved.current[field] = value;
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(flush, 500);
  };
  if (!note) return <p>This note is not on this device (deleted, or not synced yet). <a href="#/notes">All notes</a></p>;
  // What is shown: the user's unsaved typing, else the stored note (which a sync may change).
  const shownTitle = title !== null && "title" in unsaved.current ? title : note.title;
  const shownBody = body !== null && "body" in unsaved.current ? body : note.body;

  return (
    <section class="note-editor" aria-labelledby="note-heading">
      <div class="listhead">
        <h1 id="note-heading">{shownTitle || "Untitled note"}</h1>
        <a href="#/notes">All notes</a>
      </div>
      <label>
        Title <input value={shownTitle} maxLength={500} onInput={(e) => edit("title", e.currentTarget.value)} onBlur={flush} />
      </label>
      <div class="tabs" role="group" aria-label="View">
        <button type="button" aria-pressed={!preview} onClick={() => setPreview(false)}>Write</button>
        <button type="button" aria-pressed={preview} onClick={() => { flush(); setPreview(true); }}>Preview</button>
      </div>
      {preview ? (
        <div class="markdown" data-testid="preview" dangerouslySetInnerHTML={{ __html: renderMarkdown(shownBody) }} />
      ) : (
        <label>
          Text (Markdown)
          <textarea class="body" rows={16} value={shownBody} onInput={(e) => edit("body", e.currentTarget.value)} onBlur={flush} />
        </label>
      )}
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          const tags = String(new FormData(e.currentTarget).get("tags")).split(",").map((t) => t.trim().toLowerCase()).filter(Boolean);
          void engine.write("note", id, { tags });
        }}
      >
        <label>Tags (comma separated) <input name="tags" defaultValue={note.tags.join(", ")} key={note.tags.join(",")} /></label>
        <button type="submit">Save tags</button>
      </form>
      <div class="actions">
        <label class="check">
          <input type="checkbox" checked={note.pinned} onChange={(e) => void engine.write("note", id, { pinned: e.currentTarget.checked })} /> Pinned
        </label>
        <button type="button" onClick={() => void engine.write("note", id, { archived: !note.archived })}>{note.archived ? "Unarchive" : "Archive"}</button>
        <a href={`#/notes/${id}/history`}>History</a>
        <button type="button" class="danger" onClick={() => void engine.remove("note", id).then(() => go("/notes"))}>Delete note</button>
      </div>
      <LinkedFiles engine={engine} note={note} />
    </section>
  );
}

function History({ engine, api, id, number }: { engine: SyncEngine; api: Api; id: string; number: number | null }) {
  const [revisions, setRevisions] = useState<Revision[] | null>(null);
  const [chosen, setChosen] = useState<RevisionDetail | null>(null);
  const [message, setMessage] = useState("");
  const note = useLive(() => engine.db.note.get(id), [id], undefined as NoteRow | undefined);

  useEffect(() => {
    (async () => {
      try {
        const { data, error } = await api.GET("/v1/notes/{note_id}/revisions", { params: { path: { note_id: id }, query: { limit: 50 } } });
        if (!data) return setMessage(problemText(error));
        setRevisions(data.results);
      } catch {
        setMessage("The history is kept on the server: it needs a connection.");
      }
    })();
  }, [id]);
  useEffect(() => {
    if (number !== null) void open(number);
  }, [number]);

  const open = async (n: number) => {
    try {
      const { data, error } = await api.GET("/v1/notes/{note_id}/revisions/{number}", { params: { path: { note_id: id, number: n } } });
      if (data) setChosen(data);
      else setMessage(problemText(error));
    } catch {
      setMessage("The history is kept on the server: it needs a connection.");
    }
  };
  const restore = async (n: number) => {
    // Pending edits first, so the restore happens after them and they land in the history too.
    await engine.sync();
    const { data, error } = await api.POST("/v1/notes/{note_id}/revisions/{number}/restore", { params: { path: { note_id: id, number: n } } });
    if (!data) return setMessage(problemText(error));
    await engine.sync();
    setMessage(`Restored version ${n}.`);
    go(`/notes/${id}`);
  };

  return (
    <section class="history" aria-labelledby="history-title">
      <div class="listhead">
        <h1 id="history-title">History of “{note?.title || "Untitled"}”</h1>
        <a href={`#/notes/${id}`}>Back to the note</a>
      </div>
      {message && <p role="status">{message}</p>}
      <div class="split">
        <ul class="revisions" aria-label="Revisions">
          {(revisions ?? []).map((r) => (
            <li key={r.number} class={chosen?.number === r.number ? "chosen" : ""}>
              <a href={`#/notes/${id}/history/${r.number}`} aria-current={chosen?.number === r.number ? "true" : undefined}>
                Version {r.number} — {r.reason === "conflict" ? "your text from a conflict" : r.reason === "restore" ? "before a restore" : "edit"}
                <span class="when">{new Date(r.created_at).toLocaleString()}</span>
              </a>
            </li>
          ))}
          {revisions?.length === 0 && <li>No earlier versions.</li>}
        </ul>
        {chosen && (
          <article class="revision" aria-labelledby="revision-title">
            <h2 id="revision-title">Version {chosen.number}: {chosen.title || "Untitled"}</h2>
            <div class="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(chosen.body) }} />
            <button type="button" class="primary" onClick={() => void restore(chosen.number)}>Restore this version</button>
          </article>
        )}
      </div>
    </section>
  );
}
