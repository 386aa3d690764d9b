// Books opened once stay readable offline: their bytes are kept in Cache Storage under a
// made-up same-origin URL per file id and sha256 (a new version of a file is a new entry), with
// the newest opened kept first and the oldest evicted past a byte budget. Never the HTTP cache:
// the content route answers with a short-lived presigned URL and `private` caching.
export const CACHE_NAME = "exampleapp-files";
/** What the cache may hold before the least recently opened books go (bytes). */
export const CACHE_BUDGET = 512 * 1024 * 1024;
const PREFIX = "/__files/";

const keyOf = (fileId: string, sha256: string) => `${PREFIX}${fileId}/${sha256}`;
const idOf = (url: string) => new URL(url, location.origin).pathname.slice(PREFIX.length).split("/")[0] ?? "";

async function open(): Promise<Cache | null> {
  // Cache Storage exists only in secure contexts (https, localhost): elsewhere, no offline copy.
  return "caches" in globalThis ? caches.open(CACHE_NAME) : null;
}

/**
 * The file's bytes: from this device's copy when it has one of this version, else fetched (and
 * kept). Offline with no copy, the fetch's error goes to the caller.
 */
export async function cachedBlob(
  file: { id: string; sha256: string; content_type: string },
  fetchBlob: () => Promise<Blob>,
): Promise<{ blob: Blob; fromCache: boolean }> {
  const cache = await open().catch(() => null);
  const key = keyOf(file.id, file.sha256);
  const hit = await cache?.match(key);
  if (hit) {
    const blob = await hit.blob();
    void touch(cache!, key, blob, file.content_type); // most recently opened: evicted last
    return { blob, fromCache: true };
  }
  const blob = await fetchBlob();
  if (cache) {
    await forget(file.id, cache); // an older version of the same file
    await put(cache, key, blob, file.content_type);
    await evict(cache, CACHE_BUDGET);
  }
  return { blob, fromCache: false };
}

async function put(cache: Cache, key: string, blob: Blob, type: string): Promise<void> {
  const headers = { "Content-Type": type || "application/octet-stream", "X-Opened-At": String(Date.now()), "X-Size": String(blob.size) };
  await cache.put(key, new Response(blob, { headers })).catch(() => undefined); // quota: just not kept
}

async function touch(cache: Cache, key: string, blob: Blob, type: string): Promise<void> {
  await put(cache, key, blob, type);
}

/** Drop the least recently opened copies until the rest fit in `budget` bytes. */
export async function evict(cache: Cache, budget: number): Promise<void> {
  const entries: { key: Request; at: number; size: number }[] = [];
  for (const key of await cache.keys()) {
    const response = await cache.match(key);
    entries.push({ key, at: Number(response?.headers.get("X-Opened-At") ?? 0), size: Number(response?.headers.get("X-Size") ?? 0) });
  }
  entries.sort((a, b) => b.at - a.at);
  let total = 0;
  for (const entry of entries) {
    total += entry.size;
    if (total > budget) await cache.delete(entry.key);
  }
}

/** Forget a file's copies (deleted, or replaced by a new version). */
export async function forget(fileId: string, given?: Cache): Promise<void> {
  const cache = given ?? (await open().catch(() => null));
  if (!cache) return;
  for (const key of await cache.keys()) if (idOf(key.url) === fileId) await cache.delete(key);
}

/** Forget the copies of files that are no longer in the library (deleted here or elsewhere). */
export async function sweep(known: (ids: string[]) => Promise<Set<string>>): Promise<void> {
  const cache = await open().catch(() => null);
  if (!cache) return;
  const keys = await cache.keys();
  const ids = [...new Set(keys.map((k) => idOf(k.url)))];
  const alive = await known(ids);
  for (const key of keys) if (!alive.has(idOf(key.url))) await cache.delete(key);
}

/** Forget every copy (signing out: the next person on this browser starts empty, bytes too). */
export async function forgetAll(): Promise<void> {
  if ("caches" in globalThis) await caches.delete(CACHE_NAME).catch(() => false);
}
