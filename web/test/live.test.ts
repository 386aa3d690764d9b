// The live stream's parsing and timing rules (live.ts); the stream itself is tested end to end
// against the events process (tests/web).
import { describe, expect, it } from "vitest";
import { parseEvents, reconnectDelay, retryAfterSeconds } from "../src/sync/live";

describe("parseEvents", () => {
  it("reads complete events and keeps a partial one for the next chunk", () => {
    const { events, rest } = parseEvents('retry: 2000\n\nid: 7\nevent: changed\ndata: {"seq":7}\n\nid: 8\nevent: chan');
    expect(events).toEqual([
      { event: "message", data: "", id: null, retry: 2000 },
      { event: "changed", data: '{"seq":7}', id: "7", retry: null },
    ]);
    expect(rest).toBe("id: 8\nevent: chan");
    const more = parseEvents(rest + 'ged\ndata: {"seq":8}\n\n');
    expect(more.events).toEqual([{ event: "changed", data: '{"seq":8}', id: "8", retry: null }]);
  });

  it("skips comments (heartbeats), joins data lines, accepts CRLF and a missing space", () => {
    const { events } = parseEvents(": ping\n\nevent:closing\r\ndata:{\"reason\":\r\ndata: \"shutdown\"}\r\n\r\n");
    expect(events).toEqual([{ event: "closing", data: '{"reason":\n"shutdown"}', id: null, retry: null }]);
  });

  it("ignores a retry that is not a number and an id with NUL", () => {
    const { events } = parseEvents("retry: soon\nid: 1\u00002\ndata: x\n\n");
    expect(events).toEqual([{ event: "message", data: "x", id: null, retry: null }]);
  });
});

describe("reconnecting", () => {
  it("waits the server's retry first, then doubles up to 30 s, jittered ±25 %", () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 10].map((n) => reconnectDelay(n, 2000, mid))).toEqual([2000, 4000, 8000, 16000, 30000]);
    expect(reconnectDelay(1, 2000, () => 0)).toBe(1500);
    expect(reconnectDelay(1, 2000, () => 0.999999)).toBe(2500);
  });

  it("takes Retry-After within bounds", () => {
    expect(retryAfterSeconds("30", 10)).toBe(30);
    expect(retryAfterSeconds("0", 10)).toBe(5);
    expect(retryAfterSeconds("99999", 10)).toBe(300);
    expect(retryAfterSeconds("Wed, 21 Oct 2026 07:28:00 GMT", 10)).toBe(10);
    expect(retryAfterSeconds(null, 30)).toBe(30);
  });
});
