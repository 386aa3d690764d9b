// The library's pure rules: which path an upload takes, how parts map onto the file, what a
// resumed upload still sends, and the grid (titles, "Continue reading" first, search, tags).
// The upload manager's local side runs on Dexie over fake-indexeddb; the uploads themselves run
// end to end against S3 (web/e2e/library.mjs).
import { describe, expect, it } from "vitest";
import { makeClient } from "../src/api/client";
import type { DirectUpload, LibraryFile } from "../src/api/types";
import { LocalDb } from "../src/db";
import { Uploads } from "../src/library/uploads";
import { authorOf, fold, formatSize, libraryView, matches, gridItem, parseTags, percent, titleOf } from "../src/library/grid";
import {
  bytesDone,
  choosePath,
  declaredType,
  DIRECT_THRESHOLD,
  directThreshold,
  partRanges,
  partsDone,
  partsToSend,
  sameFile,
  urlsStale,
} from "../src/library/plan";

const MiB = 1024 * 1024;

describe("upload planning", () => {
  it("big files go direct, small ones through POST, all through POST without S3", () => {
    expect(choosePath(DIRECT_THRESHOLD, DIRECT_THRESHOLD, true)).toBe("direct");
    expect(choosePath(DIRECT_THRESHOLD - 1, DIRECT_THRESHOLD, true)).toBe("post");
    expect(choosePath(5 * 1024 * MiB, DIRECT_THRESHOLD, false)).toBe("post");
  });

  it("the threshold can be lowered by a setting (the e2e), never to nonsense", () => {
    expect(directThreshold(null)).toBe(DIRECT_THRESHOLD);
    expect(directThreshold("")).toBe(DIRECT_THRESHOLD);
    expect(directThreshold("1024")).toBe(1024);
    expect(directThreshold("0")).toBe(0);
    expect(directThreshold("-5")).toBe(DIRECT_THRESHOLD);
    expect(directThreshold("lots")).toBe(DIRECT_THRESHOLD);
  });

  it("declares a plausible type: the browser's, else from the extension", () => {
    expect(declaredType("book.epub", "")).toBe("application/epub+zip");
    expect(declaredType("Book.EPUB", "application/octet-stream")).toBe("application/epub+zip");
    expect(declaredType("scan", "application/pdf")).toBe("application/pdf");
    expect(declaredType("photo.JPG", "")).toBe("image/jpeg");
    expect(declaredType("notes.txt", "text/plain")).toBe("text/plain"); // the server refuses it
  });

  it("parts cover the file exactly: all of the part size but the last", () => {
    const ranges = partRanges(12 * MiB + 3, 5 * MiB, 3);
    expect(ranges).toEqual([
      { number: 1, start: 0, end: 5 * MiB },
      { number: 2, start: 5 * MiB, end: 10 * MiB },
      { number: 3, start: 10 * MiB, end: 12 * MiB + 3 },
    ]);
    expect(partRanges(10, 5 * MiB, 1)).toEqual([{ number: 1, start: 0, end: 10 }]);
  });
});

const upload = (over: Partial<DirectUpload> = {}): DirectUpload => ({
  id: "u1", file_id: "f1", name: "big.pdf", size: 12 * MiB + 3, sha256: "ab".repeat(32), content_type: "application/pdf",
  status: "pending", part_size: 5 * MiB, part_count: 3, created_at: "2026-12-04T10:00:00Z",
  parts: [], missing_parts: [1, 2, 3], part_urls: [], urls_expire_at: "2026-12-04T10:15:00Z", file: null, ...over,
});

describe("resuming a direct upload", () => {
  it("sends only the parts the server lists as missing, in order, each with its range", () => {
    const resumed = upload({
      parts: [{ number: 2, size: 5 * MiB, etag: '"b"' }],
      missing_parts: [1, 3],
      part_urls: [
        { number: 3, size: 2 * MiB + 3, url: "https://s3/p3" },
        { number: 1, size: 5 * MiB, url: "https://s3/p1" },
      ],
    });
    expect(partsToSend(resumed)).toEqual([
      { number: 1, start: 0, end: 5 * MiB, url: "https://s3/p1" },
      { number: 3, start: 10 * MiB, end: 12 * MiB + 3, url: "https://s3/p3" },
    ]);
    expect(partsDone(resumed)).toEqual([2]);
    expect(bytesDone(resumed.size, resumed.part_size, [2])).toBe(5 * MiB);
  });

  it("a part S3 holds at the wrong size is not done (the server asks for it again)", () => {
    const cut = upload({ parts: [{ number: 1, size: 1000, etag: '"a"' }, { number: 3, size: 2 * MiB + 3, etag: '"c"' }] });
    expect(partsDone(cut)).toEqual([3]);
  });

  it("refuses URLs signed for another size than this file's part (another file, or another plan)", () => {
    const wrong = upload({ part_urls: [{ number: 3, size: 5 * MiB, url: "https://s3/p3" }] });
    expect(() => partsToSend(wrong)).toThrow(/part 3/);
    expect(() => partsToSend(upload({ part_urls: [{ number: 4, size: 1, url: "x" }] }))).toThrow();
  });

  it("nothing to send when every part is there", () => {
    expect(partsToSend(upload({ missing_parts: [], part_urls: [] }))).toEqual([]);
  });

  it("the picked file must be the same: size and SHA-256", () => {
    const record = { size: 10, sha256: "AB".repeat(32) };
    expect(sameFile(record, { size: 10, sha256: "ab".repeat(32) })).toBe(true);
    expect(sameFile(record, { size: 11, sha256: "ab".repeat(32) })).toBe(false);
    expect(sameFile(record, { size: 10, sha256: "cd".repeat(32) })).toBe(false);
  });

  it("part URLs are renewed a minute before they expire", () => {
    const at = Date.parse("2026-12-04T10:15:00Z");
    expect(urlsStale("2026-12-04T10:15:00Z", at - 120_000)).toBe(false);
    expect(urlsStale("2026-12-04T10:15:00Z", at - 30_000)).toBe(true);
    expect(urlsStale(null, at)).toBe(true);
  });
});

let n = 0;
const file = (over: Partial<LibraryFile> = {}): LibraryFile => ({
  id: `f${++n}`, name: "file.pdf", kind: "pdf", content_type: "application/pdf", size: 1000, sha256: "00".repeat(32),
  koreader_hash: "", metadata: {}, status: "ready", tags: [], last_opened: null, progress: null, version: 1,
  created_at: "2026-12-01T00:00:00Z", updated_at: "2026-12-01T00:00:00Z", ...over,
});

describe("the grid", () => {
  it("titles and authors come from the metadata, else the name", () => {
    expect(titleOf(file({ name: "scan-0042.pdf" }))).toBe("scan-0042");
    expect(titleOf(file({ name: "x.pdf", metadata: { title: "  Real Title " } }))).toBe("Real Title");
    expect(authorOf(file({ metadata: { author: "Ann Author" } }))).toBe("Ann Author");
    expect(authorOf(file({ kind: "epub", metadata: { authors: ["Ann", " Bob ", ""] } }))).toBe("Ann, Bob");
    expect(authorOf(file({ metadata: { error: "broken" } }))).toBe("");
  });

  it("continue reading first, the most recently opened first; then the rest, newest first", () => {
    const old = file({ name: "old.pdf", created_at: "2026-11-01T00:00:00Z" });
    const fresh = file({ name: "fresh.pdf", created_at: "2026-12-03T00:00:00Z" });
    const readLong = file({ name: "long-ago.pdf", last_opened: "2026-11-20T00:00:00Z", progress: 0.5 });
    const readNow = file({ name: "now.epub", kind: "epub" });
    const view = libraryView([old, readLong, fresh, readNow], [
      { id: readNow.id, updated_at: "2026-12-04T09:00:00Z", current: { progress: 0.25 } },
    ]);
    expect(view.continueReading.map((i) => i.file.name)).toEqual(["now.epub", "long-ago.pdf"]);
    expect(view.continueReading.map((i) => i.progress)).toEqual([0.25, 0.5]);
    expect(view.others.map((i) => i.file.name)).toEqual(["fresh.pdf", "old.pdf"]);
  });

  it("a position read here and not pushed yet counts already (its time and progress)", () => {
    const book = file({ kind: "epub", last_opened: "2026-12-01T00:00:00Z", progress: 0.1 });
    const other = file({ last_opened: "2026-12-02T00:00:00Z" });
    const view = libraryView([book, other], [
      { id: book.id, updated_at: "2026-12-01T00:00:00Z", modified: "2026-12-04T08:00:00Z", locator: { locations: { totalProgression: 0.4 } } },
    ]);
    expect(view.continueReading.map((i) => i.file.id)).toEqual([book.id, other.id]);
    expect(view.continueReading[0]!.progress).toBe(0.4);
  });

  it("search: every word, in name, title or author, without case or accents", () => {
    const item = gridItem(file({ name: "b.epub", metadata: { title: "Les Misérables", authors: ["Victor Hugo"] } }));
    expect(matches(item, "miserables hugo")).toBe(true);
    expect(matches(item, "MISÉR")).toBe(true);
    expect(matches(item, "b.epub")).toBe(true);
    expect(matches(item, "hugo dickens")).toBe(false);
    expect(matches(item, "   ")).toBe(true);
    expect(fold("Ça")).toBe("ca");
  });

  it("the tag filter and the search apply to both shelves", () => {
    const a = file({ name: "a.pdf", tags: ["work"], last_opened: "2026-12-01T00:00:00Z" });
    const b = file({ name: "b.pdf", tags: ["work", "fun"] });
    const c = file({ name: "c.pdf" });
    const byTag = libraryView([a, b, c], [], { tag: "work" });
    expect(byTag.continueReading.map((i) => i.file.name)).toEqual(["a.pdf"]);
    expect(byTag.others.map((i) => i.file.name)).toEqual(["b.pdf"]);
    const both = libraryView([a, b, c], [], { tag: "work", query: "b" });
    expect([...both.continueReading, ...both.others].map((i) => i.file.name)).toEqual(["b.pdf"]);
  });

  it("small helpers: tags typed, percent, sizes", () => {
    expect(parseTags(" a, b ,,a, c ")).toEqual(["a", "b", "c"]);
    expect(percent(0.374)).toBe("37%");
    expect(percent(1.2)).toBe("100%");
    expect(percent(null)).toBe("");
    expect(formatSize(512)).toBe("512 B");
    expect(formatSize(5.5 * MiB)).toBe("5.5 MB");
    expect(formatSize(300 * MiB)).toBe("300 MB");
  });
});

describe("unfinished uploads after a reload (the manager over IndexedDB)", () => {
  async function withRecord() {
    const db = new LocalDb(`test-${Math.random()}`);
    await db.upload.put({
      id: "u1", file_id: "f1", name: "big.pdf", size: 12 * MiB + 3, sha256: "ab".repeat(32), content_type: "application/pdf",
      part_size: 5 * MiB, part_count: 3, done: [1], created_at: Date.now(),
    });
    // No server: these paths must not need one.
    const uploads = new Uploads({ db, api: makeClient("http://127.0.0.1:9"), baseUrl: "http://127.0.0.1:9", token: async () => null, onFile: async () => {} });
    await uploads.load();
    return { db, uploads };
  }

  it("a kept record shows as paused, with the bytes of its done parts, waiting for its file", async () => {
    const { uploads } = await withRecord();
    expect(uploads.jobs).toEqual([
      expect.objectContaining({ name: "big.pdf", phase: "paused", path: "direct", uploadId: "u1", loaded: 5 * MiB }),
    ]);
    expect(uploads.jobs[0]!.message).toMatch(/Pick the file again/);
  });

  it("a file of another size is refused before anything is read or sent", async () => {
    const { uploads, db } = await withRecord();
    await uploads.resume(uploads.jobs[0]!.key, new File([new Uint8Array(10)], "other.pdf"));
    expect(uploads.jobs[0]).toMatchObject({ phase: "paused", uploadId: "u1" });
    expect(uploads.jobs[0]!.message).toMatch(/not the same file/);
    expect(await db.upload.get("u1")).toBeDefined();
  });

  it("loading twice does not list it twice", async () => {
    const { uploads } = await withRecord();
    await uploads.load();
    expect(uploads.jobs).toHaveLength(1);
  });
});
