// Covers for the grid: GET /v1/files/{id}/cover (a small thumbnail; 404 `no_cover` when the file
// has none) fetched with the bearer token, since an <img src> cannot carry it. Each is fetched
// once: kept in IndexedDB (so a reload, or an offline start, shows it without the network) and
// as a blob: URL in memory (so a re-render does not even read IndexedDB). No cover, or no
// network before it was ever fetched: the grid shows a placeholder by kind.
import type { Api } from "../api/client";
import type { LibraryFile } from "../api/types";
import type { LocalDb } from "../db";

/** A file without a cover is asked again after this long (its cover may be made later). */
const NONE_TTL_MS = 24 * 3600 * 1000;

const urls = new Map<string, Promise<string | null>>();

export type CoverFetch = (fileId: string) => Promise<{ blob: Blob | null; found: boolean }>;

export function coverFetcher(api: Api): CoverFetch {
  return async (fileId) => {
    const { data, response } = await api.GET("/v1/files/{file_id}/cover", {
      params: { path: { file_id: fileId } },
      parseAs: "blob",
    });
    if (data) return { blob: data as Blob, found: true };
    if (response.status === 404) return { blob: null, found: false };
    throw new Error(`cover ${fileId}: ${response.status}`);
  };
}

/** The file's cover as a blob: URL, or null (none, or not fetched yet and offline). */
export function coverUrl(db: LocalDb, fetchCover: CoverFetch, file: Pick<LibraryFile, "id" | "sha256">): Promise<string | null> {
  const known = urls.get(file.id);
  if (known) return known;
  const pending = (async () => {
    const stored = await db.cover.get(file.id);
    if (stored && stored.sha256 === file.sha256 && (stored.blob || Date.now() - stored.at < NONE_TTL_MS)) {
      return stored.blob ? URL.createObjectURL(stored.blob) : null;
    }
    const { blob } = await fetchCover(file.id);
    await db.cover.put({ id: file.id, sha256: file.sha256, blob, at: Date.now() });
    return blob ? URL.createObjectURL(blob) : null;
  })().catch(() => {
    urls.delete(file.id); // offline or refused: ask again on a later render
    return null;
  });
  urls.set(file.id, pending);
  return pending;
}

/** A deleted file's cover goes too. */
export async function forgetCover(db: LocalDb, fileId: string): Promise<void> {
  const url = await urls.get(fileId);
  if (url) URL.revokeObjectURL(url);
  urls.delete(fileId);
  await db.cover.delete(fileId);
}
