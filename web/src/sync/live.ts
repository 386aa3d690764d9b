// Live sync: the feed's event stream (GET /v1/sync/events, Server-Sent Events; docs/sync.md,
// "Live sync") tells this client the moment its feed moves, and the engine pulls from its cursor
// as always — the feed stays the only source of truth, so an event lost on the way costs latency,
// never data. While the stream is not there (no events process, Redis away on the server, too
// many streams, offline) the client polls instead, and only then.
//
// fetch, not EventSource: EventSource cannot send the Authorization header. The request goes
// through the typed client (the bearer token, a refresh when it is due, the "session ended"
// handling); the body is read as a stream and parsed here.
import type { Api } from "../api/client";
import type { components } from "../api/schema";

type S = components["schemas"];
export type ChangedEvent = S["ChangedEvent"];
export type FallbackEvent = S["FallbackEvent"];
export type ClosingEvent = S["ClosingEvent"];

export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
  retry: number | null;
}

/** Complete events in `buffer` (the text/event-stream format), and what is left of it: an
 * event ends at a blank line; comments (`: ping`) keep the connection alive and carry nothing. */
export function parseEvents(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  const blocks = buffer.replace(/\r\n?/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let event = "message";
    const data: string[] = [];
    let id: string | null = null;
    let retry: number | null = null;
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
      else if (field === "id" && !value.includes("\0")) id = value;
      else if (field === "retry" && /^\d+$/.test(value)) retry = Number(value);
    }
    if (data.length || retry !== null || id !== null) events.push({ event, data: data.join("\n"), id, retry });
  }
  return { events, rest };
}

/** How long to wait before the next attempt: the server's `retry` first, then doubling to a
 * ceiling, with jitter so that a restarted events process is not hit by every client at once. */
export function reconnectDelay(attempt: number, retryMs: number, random = Math.random): number {
  const base = Math.min(retryMs * 2 ** Math.max(0, attempt - 1), 30_000);
  return Math.round(base * (0.75 + random() * 0.5));
}

/** Seconds to wait as an answer's Retry-After says, within sane bounds. */
export function retryAfterSeconds(header: string | null, fallback: number): number {
  const seconds = header && /^\d+$/.test(header.trim()) ? Number(header.trim()) : fallback;
  return Math.min(Math.max(seconds, 5), 300);
}

export type LiveMode = "connecting" | "live" | "polling";

export interface LiveHooks {
  /** the feed moved (or may have): pull */
  changed(): void;
  /** how the client hears about changes now; `pollSeconds` while polling */
  mode(mode: LiveMode, pollSeconds: number): void;
}

const DEFAULT_POLL_SECONDS = 10;
/** The server pings every 20 s: this long without a byte means the connection is dead (a
 * proxy or NAT dropped it without telling either end). */
const SILENCE_MS = 45_000;

export class LiveSync {
  private abort: AbortController | null = null;
  private stopped = false;
  private lastSeq: number | null = null;
  /** the server said `fallback` on this stream (until `live`) */
  private fallback = false;
  private retryMs = 2000;
  private attempt = 0;
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private wakeTimer: ReturnType<typeof setTimeout> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private api: Api,
    private hooks: LiveHooks,
  ) {}

  start(): void {
    this.stopped = false;
    addEventListener("online", this.reconnectNow);
    void this.run();
  }

  stop(): void {
    this.stopped = true;
    removeEventListener("online", this.reconnectNow);
    this.abort?.abort();
    this.poll(null);
    this.wake?.();
  }

  /** Back online: try the stream again at once rather than after the back-off. */
  private reconnectNow = (): void => {
    this.attempt = 0;
    this.wake?.();
  };

  private poll(seconds: number | null): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
    if (seconds !== null && !this.stopped) {
      this.pollTimer = setInterval(() => this.hooks.changed(), seconds * 1000);
      this.hooks.mode("polling", seconds);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        if (this.wakeTimer) clearTimeout(this.wakeTimer);
        this.wake = null;
        resolve();
      };
      this.wakeTimer = setTimeout(() => this.wake?.(), ms);
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const waitMs = await this.connectOnce();
      if (this.stopped) return;
      if (waitMs > 0) await this.sleep(waitMs);
    }
  }

  /** One stream, read until it ends; how long to wait before the next one. */
  private async connectOnce(): Promise<number> {
    this.abort = new AbortController();
    this.fallback = false; // a new stream says again if it must
    if (!this.pollTimer) this.hooks.mode("connecting", 0);
    let response: Response;
    let body: ReadableStream<Uint8Array> | null | undefined;
    try {
      const answer = await this.api.GET("/v1/sync/events", {
        params: { header: this.lastSeq === null ? {} : { "Last-Event-ID": this.lastSeq } },
        headers: { Accept: "text/event-stream" },
        parseAs: "stream",
        signal: this.abort.signal,
        cache: "no-store",
      });
      response = answer.response;
      body = answer.data;
    } catch {
      // No network (or stopped): poll meanwhile — polling fails quietly while offline — and
      // come back to the stream after a back-off.
      this.attempt += 1;
      this.poll(DEFAULT_POLL_SECONDS);
      return reconnectDelay(this.attempt, this.retryMs);
    }
    if (!response.ok || !body) {
      // 503 events_unavailable (no events process behind this origin), events_full,
      // 429 too_many_streams, 401 (the client's auth handling takes over): poll, ask again later.
      this.poll(DEFAULT_POLL_SECONDS);
      this.attempt += 1;
      if (response.status === 401) return reconnectDelay(this.attempt, this.retryMs);
      return retryAfterSeconds(response.headers.get("Retry-After"), 30) * 1000;
    }
    return this.read(body);
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<number> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let next = 0; // after `closing` (token expired, shutdown): reconnect at once
    let silence: ReturnType<typeof setTimeout> | null = null;
    const watch = () => {
      if (silence) clearTimeout(silence);
      silence = setTimeout(() => this.abort?.abort(), SILENCE_MS);
    };
    try {
      watch();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        watch();
        buffer += decoder.decode(value, { stream: true });
        const parsed = parseEvents(buffer);
        buffer = parsed.rest;
        for (const event of parsed.events) {
          const closing = this.handle(event);
          if (closing === "session_ended") return 5_000; // the next API call signs out
        }
      }
      // Ended without `closing` (a proxy, a crash): back off a little.
      this.attempt += 1;
      next = reconnectDelay(this.attempt, this.retryMs);
    } catch {
      if (this.stopped) return 0;
      this.attempt += 1;
      next = reconnectDelay(this.attempt, this.retryMs);
    } finally {
      if (silence) clearTimeout(silence);
      reader.releaseLock();
    }
    return next;
  }

  /** Acts on one event; the closing reason, if it was `closing`. */
  private handle(event: SseEvent): string | null {
    if (event.retry !== null) this.retryMs = event.retry;
    const data = event.data ? (JSON.parse(event.data) as unknown) : null;
    switch (event.event) {
      case "changed": {
        const { seq } = data as ChangedEvent;
        this.attempt = 0; // the stream works: no more polling, unless the server said so
        if (!this.fallback) {
          this.poll(null);
          this.hooks.mode("live", 0);
        }
        if (this.lastSeq === null || seq !== this.lastSeq) this.hooks.changed();
        this.lastSeq = seq;
        return null;
      }
      case "fallback": {
        // The server lost its message bus: poll as it says, keep the stream open for `live`.
        this.fallback = true;
        this.poll((data as FallbackEvent).poll_seconds);
        return null;
      }
      case "live":
        this.fallback = false;
        this.poll(null);
        this.hooks.mode("live", 0);
        this.hooks.changed(); // whatever moved while events could be missed
        return null;
      case "closing":
        return (data as ClosingEvent).reason;
      default:
        return null;
    }
  }
}
