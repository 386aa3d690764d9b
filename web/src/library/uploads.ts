// Uploads from the library screen (docs/web.md, "Library"): each picked file becomes a job with a
// progress bar.
//
// - Small files (below the threshold, plan.ts) go through POST /v1/files as one multipart request
//   (XMLHttpRequest, for its upload progress), with a client-chosen id so a retry cannot make a
//   second file.
// - Big files go straight to S3: the browser hashes the file (hash.ts), POST /v1/files/uploads
//   answers "you already have it" or opens an upload with presigned part URLs, the parts are PUT
//   to S3 (three at a time), POST .../complete has the server verify size, type and SHA-256.
//   The upload's record (id, name, size, sha256, part size, parts done) is kept in IndexedDB,
//   so after a reload the screen shows it with "pick the file again": the picked file must have
//   the same size and SHA-256; the server lists the parts S3 has and signs URLs for the missing
//   ones only. The file itself is not kept in IndexedDB: a copy of a gigabyte book would double
//   its space on the device and take as long to write as to send.
// - A server on local storage has no direct uploads (501 direct_upload_unavailable): then big
//   files go through POST /v1/files too (not resumable), and the client stops asking.
import { isNetworkError, problemText, type Api } from "../api/client";
import type { DirectUpload, LibraryFile, Problem } from "../api/types";
import type { paths } from "../api/schema";
import type { LocalDb, UploadRecord } from "../db";
import { sha256Hex } from "./hash";
import { bytesDone, choosePath, declaredType, directThreshold, partRange, partsDone, partsToSend, sameFile, THRESHOLD_KEY, urlsStale } from "./plan";
import { RequestAborted, xhrSend } from "./xhr";

type PostedFile = paths["/v1/files"]["post"]["responses"][201]["content"]["application/json"];

export type Phase = "hashing" | "uploading" | "finishing" | "done" | "failed" | "cancelled" | "paused";

export interface UploadJob {
  key: string;
  name: string;
  size: number;
  phase: Phase;
  /** bytes hashed (hashing) or sent (uploading) */
  loaded: number;
  path: "post" | "direct";
  /** the direct upload's id, once there is one (its record is in IndexedDB) */
  uploadId?: string;
  message?: string;
  fileId?: string;
}

export interface UploadDeps {
  db: LocalDb;
  api: Api;
  baseUrl: string;
  token: () => Promise<string | null>;
  /** a file the server now has: shown in the grid at once (the feed brings it too) */
  onFile: (file: LibraryFile) => Promise<void>;
}

const CONCURRENT_PARTS = 3;
const PART_TRIES = 4;

class Failure extends Error {}

export class Uploads {
  jobs: UploadJob[] = [];
  private listeners = new Set<() => void>();
  private files = new Map<string, File>();
  private controllers = new Map<string, AbortController>();
  private directAvailable = true;
  private counter = 0;

  constructor(private deps: UploadDeps) {}

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(): void {
    this.jobs = [...this.jobs];
    for (const fn of this.listeners) fn();
  }

  private update(key: string, patch: Partial<UploadJob>): void {
    this.jobs = this.jobs.map((j) => (j.key === key ? { ...j, ...patch } : j));
    this.emit();
  }

  private job(key: string): UploadJob | undefined {
    return this.jobs.find((j) => j.key === key);
  }

  /** Unfinished direct uploads from an earlier page (a reload, a crash): they wait for the file. */
  async load(): Promise<void> {
    const records = await this.deps.db.upload.orderBy("id").toArray();
    for (const r of records) {
      if (this.jobs.some((j) => j.uploadId === r.id)) continue;
      this.jobs.push({
        key: `u-${r.id}`,
        name: r.name,
        size: r.size,
        phase: "paused",
        loaded: bytesDone(r.size, r.part_size, r.done),
        path: "direct",
        uploadId: r.id,
        message: "Stopped when the page closed. Pick the file again to resume.",
      });
    }
    this.emit();
  }

  threshold(): number {
    try {
      return directThreshold(localStorage.getItem(THRESHOLD_KEY));
    } catch {
      return directThreshold(null);
    }
  }

  /** Start uploading picked files (one after another: a library upload is rarely one file). */
  async add(files: File[]): Promise<void> {
    const keys = files.map((file) => {
      const key = `j-${Date.now().toString(36)}-${++this.counter}`;
      this.files.set(key, file);
      const path = choosePath(file.size, this.threshold(), this.directAvailable);
      this.jobs.push({ key, name: file.name, size: file.size, phase: path === "direct" ? "hashing" : "uploading", loaded: 0, path });
      return key;
    });
    this.emit();
    for (const key of keys) await this.run(key, () => this.start(key));
  }

  /** The file picked again for a paused upload: resumed if it is the same file. */
  async resume(key: string, file: File): Promise<void> {
    const job = this.job(key);
    if (!job?.uploadId) return;
    const record = await this.deps.db.upload.get(job.uploadId);
    if (!record) return this.forget(key);
    if (file.size !== record.size) {
      return this.update(key, { message: `That is not the same file (${file.name} has another size). Pick “${record.name}”.` });
    }
    this.files.set(key, file);
    await this.run(key, async () => {
      this.update(key, { phase: "hashing", loaded: 0, message: undefined });
      const sha256 = await sha256Hex(file, (loaded) => this.update(key, { loaded }), this.signal(key));
      if (!sameFile(record, { size: file.size, sha256 })) {
        this.update(key, { phase: "paused", loaded: bytesDone(record.size, record.part_size, record.done), message: `That is not the same file (its content differs). Pick “${record.name}”.` });
        return;
      }
      await this.continueDirect(key, record, file);
    });
  }

  /** Stop an upload; a direct one is aborted on the server too (S3 drops its parts). */
  async cancel(key: string): Promise<void> {
    const job = this.job(key);
    if (!job) return;
    this.controllers.get(key)?.abort();
    this.update(key, { phase: "cancelled", message: "Cancelled." });
    if (job.uploadId) {
      try {
        await this.deps.api.DELETE("/v1/files/uploads/{upload_id}", { params: { path: { upload_id: job.uploadId } } });
      } catch (error) {
        if (!isNetworkError(error)) throw error;
        // Offline: the server's cleanup (cleanup_uploads, UPLOAD_STALE_HOURS) aborts it later.
      }
      await this.deps.db.upload.delete(job.uploadId);
    }
    this.files.delete(key);
  }

  /** Take a finished, failed or cancelled job off the list. */
  dismiss(key: string): void {
    this.jobs = this.jobs.filter((j) => j.key !== key);
    this.files.delete(key);
    this.emit();
  }

  private async forget(key: string): Promise<void> {
    const job = this.job(key);
    if (job?.uploadId) await this.deps.db.upload.delete(job.uploadId);
    this.dismiss(key);
  }

  private signal(key: string): AbortSignal {
    return this.controllers.get(key)!.signal;
  }

  private async run(key: string, work: () => Promise<void>): Promise<void> {
    this.controllers.set(key, new AbortController());
    try {
      await work();
    } catch (error) {
      if (error instanceof RequestAborted || (error instanceof DOMException && error.name === "AbortError")) return;
      const job = this.job(key);
      if (job?.phase === "cancelled") return;
      const offline = isNetworkError(error);
      // A direct upload with a record can go on later; anything else has to start again.
      const resumable = !!job?.uploadId && (await this.deps.db.upload.get(job.uploadId)) !== undefined;
      this.update(key, {
        phase: resumable ? "paused" : "failed",
        message: offline
          ? resumable ? "The connection dropped. Pick the file again to resume." : "The connection dropped: the file was not uploaded."
          : error instanceof Failure ? error.message : `Upload failed: ${String(error)}`,
      });
      if (!offline && !(error instanceof Failure)) console.error(error);
    } finally {
      this.controllers.delete(key);
    }
  }

  private async start(key: string): Promise<void> {
    const file = this.files.get(key)!;
    const job = this.job(key)!;
    if (job.path === "post") return this.post(key, file);
    const sha256 = await sha256Hex(file, (loaded) => this.update(key, { loaded }), this.signal(key));
    // The same file picked again while its upload waits (or runs into a reload): resume it.
    const waiting = (await this.deps.db.upload.where("sha256").equals(sha256).toArray()).find((r) => r.size === file.size);
    if (waiting) {
      const other = this.jobs.find((j) => j.uploadId === waiting.id && j.key !== key);
      if (other && other.phase !== "paused") throw new Failure("This file is being uploaded already.");
      if (other) this.dismiss(other.key);
      this.update(key, { uploadId: waiting.id });
      return this.continueDirect(key, waiting, file);
    }
    const type = declaredType(file.name, file.type);
    const { data, error, response } = await this.deps.api.POST("/v1/files/uploads", {
      body: { id: crypto.randomUUID(), name: file.name, size: file.size, sha256, content_type: type },
    });
    if (response.status === 501) {
      // Local storage: no direct uploads on this server; POST takes big files too.
      this.directAvailable = false;
      this.update(key, { path: "post", phase: "uploading", loaded: 0 });
      return this.post(key, file);
    }
    if (!data) throw new Failure(problemText(error));
    if (data.status === "exists" && data.file) return this.finished(key, data.file, "You already had this file.");
    const upload = data.upload!;
    const record: UploadRecord = {
      id: upload.id,
      file_id: upload.file_id,
      name: file.name,
      size: file.size,
      sha256,
      content_type: type,
      part_size: upload.part_size,
      part_count: upload.part_count,
      done: [],
      created_at: Date.now(),
    };
    await this.deps.db.upload.put(record);
    this.update(key, { uploadId: upload.id, phase: "uploading", loaded: 0 });
    await this.sendParts(key, record, file, upload);
    await this.complete(key, record, file);
  }

  /** A known upload, with its file at hand: ask the server what S3 has, send the rest, finish. */
  private async continueDirect(key: string, record: UploadRecord, file: File): Promise<void> {
    const upload = await this.fetchUpload(record.id);
    if (!upload || upload.status === "aborted" || upload.status === "failed") {
      // Gone (cleaned up, aborted elsewhere, failed its checks): start a fresh upload.
      await this.deps.db.upload.delete(record.id);
      this.update(key, { uploadId: undefined, phase: "hashing", loaded: 0, path: "direct" });
      this.files.set(key, file);
      return this.start(key);
    }
    if (upload.status === "completed" && upload.file) return this.finished(key, upload.file);
    if (upload.status === "completing") {
      this.update(key, { phase: "finishing" });
      return this.complete(key, record, file);
    }
    this.update(key, { uploadId: record.id, phase: "uploading", loaded: bytesDone(record.size, record.part_size, partsDone(upload)), message: undefined });
    await this.deps.db.upload.update(record.id, { done: partsDone(upload) });
    await this.sendParts(key, record, file, upload);
    await this.complete(key, record, file);
  }

  private async fetchUpload(id: string): Promise<DirectUpload | null> {
    const { data, error, response } = await this.deps.api.GET("/v1/files/uploads/{upload_id}", { params: { path: { upload_id: id } } });
    if (response.status === 404) return null;
    if (!data) throw new Failure(problemText(error));
    return data;
  }

  /** PUT every part the server lists as missing, a few at a time, with retries; fresh URLs
   * when they are about to expire or S3 refuses one (403: expired). */
  private async sendParts(key: string, record: UploadRecord, file: File, first: DirectUpload): Promise<void> {
    let upload = first;
    const queue = partsToSend(upload);
    const done = new Set<number>(partsDone(upload));
    const inFlight = new Map<number, number>();
    const progress = () => {
      let loaded = bytesDone(record.size, record.part_size, [...done]);
      for (const n of inFlight.values()) loaded += n;
      this.update(key, { loaded });
    };
    const urlFor = async (number: number, stale: boolean): Promise<string> => {
      if (stale || urlsStale(upload.urls_expire_at, Date.now())) {
        const fresh = await this.fetchUpload(record.id);
        if (!fresh || fresh.status !== "pending") throw new Failure("The upload ended on the server; pick the file again to start over.");
        upload = fresh;
      }
      const url = upload.part_urls?.find((u) => u.number === number)?.url;
      if (!url) throw new Failure(`The server has no URL for part ${number}.`);
      return url;
    };
    const sendOne = async (number: number, url: string) => {
      const range = partRange(record.size, record.part_size, number);
      for (let attempt = 1; ; attempt++) {
        inFlight.set(number, 0);
        let status = 0;
        try {
          const answer = await xhrSend("PUT", url, file.slice(range.start, range.end), {
            signal: this.signal(key),
            onProgress: (loaded) => {
              inFlight.set(number, loaded);
              progress();
            },
          });
          status = answer.status;
        } catch (error) {
          if (error instanceof RequestAborted || attempt >= PART_TRIES) throw error;
        } finally {
          inFlight.delete(number);
        }
        if (status >= 200 && status < 300) break;
        if (status >= 400 && status < 500 && status !== 403 && status !== 408 && status !== 429) {
          throw new Failure(`Storage refused part ${number} (${status}).`);
        }
        if (attempt >= PART_TRIES) throw new Failure(`Part ${number} could not be stored (${status || "no answer"}).`);
        await new Promise((r) => setTimeout(r, 500 * 2 ** attempt));
        url = await urlFor(number, status === 403);
      }
      done.add(number);
      progress();
      await this.deps.db.upload.update(record.id, { done: [...done].sort((a, b) => a - b) });
    };
    const workers = Array.from({ length: CONCURRENT_PARTS }, async () => {
      for (let part = queue.shift(); part; part = queue.shift()) {
        await sendOne(part.number, urlsStale(upload.urls_expire_at, Date.now()) ? await urlFor(part.number, false) : part.url);
      }
    });
    await Promise.all(workers);
  }

  private async complete(key: string, record: UploadRecord, file: File, again = true): Promise<void> {
    this.update(key, { phase: "finishing", loaded: record.size });
    const { data, error, response } = await this.deps.api.POST("/v1/files/uploads/{upload_id}/complete", {
      params: { path: { upload_id: record.id } },
    });
    if (data) return this.finished(key, data);
    const problem = error as Partial<Problem> | undefined;
    if (response.status === 409 && problem?.code === "upload_incomplete" && again) {
      // A part went missing between our PUT and the server's listing: send what it lacks.
      const upload = await this.fetchUpload(record.id);
      if (upload) {
        this.update(key, { phase: "uploading" });
        await this.sendParts(key, record, file, upload);
        return this.complete(key, record, file, false);
      }
    }
    if (response.status >= 400 && response.status < 500 && response.status !== 409) {
      // Refused for good (wrong type, size or checksum): the server ended the upload.
      await this.deps.db.upload.delete(record.id);
      this.update(key, { uploadId: undefined });
    }
    throw new Failure(problemText(error));
  }

  private async post(key: string, file: File): Promise<void> {
    const form = new FormData();
    form.append("id", crypto.randomUUID());
    form.append("name", file.name);
    form.append("file", file, file.name);
    const token = await this.deps.token();
    const answer = await xhrSend("POST", `${this.deps.baseUrl}/v1/files`, form, {
      headers: token ? { Authorization: `Bearer ${token}` } : {},
      signal: this.signal(key),
      onProgress: (loaded) => this.update(key, { loaded: Math.min(loaded, file.size) }),
    });
    const body = answer.text ? (JSON.parse(answer.text) as unknown) : null;
    if (answer.status === 200 || answer.status === 201) {
      return this.finished(key, body as PostedFile, answer.status === 200 ? "You already had this file." : undefined);
    }
    throw new Failure(problemText(body));
  }

  private async finished(key: string, file: LibraryFile, message?: string): Promise<void> {
    const job = this.job(key);
    if (job?.uploadId) await this.deps.db.upload.delete(job.uploadId);
    this.files.delete(key);
    await this.deps.onFile(file);
    this.update(key, { phase: "done", loaded: job?.size ?? file.size, fileId: file.id, message, uploadId: undefined });
  }
}
