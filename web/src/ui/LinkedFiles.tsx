// A note's linked library files: each opens in its reader; more can be linked from the files on
// this device (the local store's `file` rows), and a link can be removed. A link is the note's
// `files` field, written like any other field (queued offline, merged per field by the server).
// The server drops links to files that no longer exist, so a deleted file's link goes with it.
import type { FileRow, NoteRow } from "../db";
import type { SyncEngine } from "../sync/engine";
import { useLive } from "./hooks";

/** The name a person knows a file by: its title when the file has one, else its file name. */
export function fileTitle(file: { name: string; metadata: Record<string, unknown> }): string {
  const title = file.metadata.title;
  return typeof title === "string" && title.trim() ? title.trim() : file.name;
}

export function LinkedFiles({ engine, note }: { engine: SyncEngine; note: NoteRow }) {
  const files = useLive(() => engine.db.file.toArray(), [engine], [] as FileRow[]);
  const byId = new Map(files.map((file) => [file.id, file]));
  const linked = note.files;
  const candidates = files
    .filter((file) => !linked.includes(file.id))
    .sort((a, b) => fileTitle(a).localeCompare(fileTitle(b)));
  const write = (ids: string[]) => void engine.write("note", note.id, { files: ids });

  return (
    <section class="linked-files" aria-labelledby="linked-heading">
      <h2 id="linked-heading">Linked files</h2>
      {linked.length === 0 ? (
        <p class="empty">No linked files.</p>
      ) : (
        <ul>
          {linked.map((id) => {
            const file = byId.get(id);
            const name = file ? fileTitle(file) : "A file not on this device yet";
            return (
              <li key={id}>
                <a href={`#/read/${id}`}>{name}</a>
                <button type="button" aria-label={`Unlink ${name}`} onClick={() => write(linked.filter((other) => other !== id))}>
                  Unlink
                </button>
              </li>
            );
          })}
        </ul>
      )}
      {candidates.length > 0 && (
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            const chosen = String(new FormData(e.currentTarget).get("file") ?? "");
            if (chosen) write([...linked, chosen]);
          }}
        >
          <label>
            Link a file{" "}
            <select name="file">
              {candidates.map((file) => (
                <option key={file.id} value={file.id}>{fileTitle(file)}</option>
              ))}
            </select>
          </label>
          <button type="submit">Link</button>
        </form>
      )}
    </section>
  );
}
