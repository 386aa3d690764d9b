// Upload planning, as pure functions (unit-tested in test/library.test.ts): which path a file
// takes, what type it declares, how a direct upload's parts map onto the file's bytes, and which
// parts a resumed upload still has to send. uploads.ts runs them against the API and S3.
import type { DirectUpload, PartUrl } from "../api/types";

/** Files at least this big go straight to S3 in parts (resumable); smaller ones through
 * POST /v1/files in one request. 8 MiB: below it a lost request costs little to send again. */
export const DIRECT_THRESHOLD = 8 * 1024 * 1024;
/** A debug setting (the e2e lowers it to send a small file the direct way). */
export const THRESHOLD_KEY = "exampleapp.directUploadThreshold";

export function directThreshold(setting: string | null): number {
  const n = Number(setting);
  return setting !== null && setting !== "" && Number.isFinite(n) && n >= 0 ? n : DIRECT_THRESHOLD;
}

export type UploadPath = "direct" | "post";

/** The direct path for big files, unless the server said it has no direct uploads (local
 * storage answers 501 `direct_upload_unavailable`): then every file goes through POST. */
export function choosePath(size: number, threshold: number, directAvailable: boolean): UploadPath {
  return directAvailable && size >= threshold ? "direct" : "post";
}

const TYPES: Record<string, string> = {
  pdf: "application/pdf",
  epub: "application/epub+zip",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
};
/** What the file input may offer (the server decides from the bytes in the end). */
export const ACCEPT = [...Object.keys(TYPES).map((ext) => `.${ext}`), ...new Set(Object.values(TYPES))].join(",");

/** The declared type of a picked file: the browser's, else from its extension (browsers often
 * leave EPUBs untyped). The server decides from the bytes; this only has to be plausible. */
export function declaredType(name: string, browserType: string): string {
  if (Object.values(TYPES).includes(browserType)) return browserType;
  const ext = name.toLowerCase().split(".").pop() ?? "";
  return TYPES[ext] ?? (browserType || "application/octet-stream");
}

export interface PartRange {
  number: number;
  start: number;
  end: number; // exclusive
}

/** Part `number` (1-based) covers [start, end) of the file: every part has the server's
 * `part_size` except the last, which has the rest. */
export function partRange(size: number, partSize: number, number: number): PartRange {
  const start = (number - 1) * partSize;
  return { number, start, end: Math.min(size, start + partSize) };
}

export function partRanges(size: number, partSize: number, partCount: number): PartRange[] {
  return Array.from({ length: partCount }, (_, i) => partRange(size, partSize, i + 1));
}

/** The parts a (resumed) upload still has to send, each with its presigned URL and its range.
 * The server lists what S3 already has (`parts`) and signs URLs only for the missing ones; a
 * URL whose size disagrees with the range this file would send is refused here, before S3
 * would refuse it (the size is signed into the URL). */
export function partsToSend(upload: Pick<DirectUpload, "size" | "part_size" | "part_count" | "part_urls">): Array<PartRange & { url: string }> {
  const urls: PartUrl[] = upload.part_urls ?? [];
  return [...urls]
    .sort((a, b) => a.number - b.number)
    .map((u) => {
      const range = partRange(upload.size, upload.part_size, u.number);
      if (u.number < 1 || u.number > upload.part_count || range.end - range.start !== u.size) {
        throw new Error(`part ${u.number}: the server expects ${u.size} bytes, this file has ${range.end - range.start}`);
      }
      return { ...range, url: u.url };
    });
}

/** Parts already in S3 at the size they must have (what a resumed upload need not send again). */
export function partsDone(upload: Pick<DirectUpload, "size" | "part_size" | "part_count" | "parts">): number[] {
  return (upload.parts ?? [])
    .filter((p) => {
      const r = partRange(upload.size, upload.part_size, p.number);
      return p.number >= 1 && p.number <= upload.part_count && r.end - r.start === p.size;
    })
    .map((p) => p.number)
    .sort((a, b) => a - b);
}

/** Bytes already sent of an upload: for a progress bar that starts where the last one stopped. */
export function bytesDone(size: number, partSize: number, done: number[]): number {
  return done.reduce((sum, n) => {
    const r = partRange(size, partSize, n);
    return sum + (r.end - r.start);
  }, 0);
}

/** URLs are valid for a while (at most 15 minutes); fetch fresh ones a minute before. */
export function urlsStale(expiresAt: string | null, now: number, marginMs = 60_000): boolean {
  return !expiresAt || Date.parse(expiresAt) - marginMs <= now;
}

/** Whether a picked file is the one an unfinished upload was sending: same size, same bytes. */
export function sameFile(record: { size: number; sha256: string }, picked: { size: number; sha256: string }): boolean {
  return record.size === picked.size && record.sha256.toLowerCase() === picked.sha256.toLowerCase();
}
