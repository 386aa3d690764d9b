import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  aheadElsewhere, body, describe as describePosition, deviceName, foliateTarget, locatorFrom, positionOf,
  PositionWriter, progressOf, type DevicePosition, type Position,
} from "../src/readers/position";

const at = (device: string, over: Partial<DevicePosition>): DevicePosition => ({
  device: { id: device, name: `${device} name` }, modified: "2026-01-01T00:00:00Z", progress: null, ...over,
});

describe("progress", () => {
  it("a PDF page over the page count; the client's totalProgression when the count is unknown", () => {
    expect(progressOf({ pdf: { page: 40 } }, 48)).toBeCloseTo(40 / 48);
    expect(progressOf({ pdf: { page: 3, totalProgression: 0.3 } })).toBe(0.3);
    expect(progressOf({ pdf: { page: 60 } }, 48)).toBe(1);
  });

  it("an EPUB's totalProgression; an image has none", () => {
    expect(progressOf({ locator: { href: "a.xhtml", type: "application/xhtml+xml", locations: { progression: 0.5, totalProgression: 0.25 } } })).toBe(0.25);
    expect(progressOf({ image: { zoom: 2 } })).toBeNull();
  });
});

describe("is another device further ahead", () => {
  it("offers the server's position when it is another device's and further", () => {
    const current = at("phone", { progress: 40 / 48, pdf: { page: 40 } });
    expect(aheadElsewhere(current, { pdf: { page: 3 } }, "web", 48)).toBe(current);
    expect(aheadElsewhere(current, null, "web", 48)).toBe(current); // never opened here
  });

  it("never for this device's own position, a place behind, or the same place", () => {
    const current = at("web", { progress: 0.9, pdf: { page: 43 } });
    expect(aheadElsewhere(current, null, "web", 48)).toBeNull();
    const theirs = at("phone", { progress: 10 / 48, pdf: { page: 10 } });
    expect(aheadElsewhere(theirs, { pdf: { page: 20 } }, "web", 48)).toBeNull();
    expect(aheadElsewhere(theirs, { pdf: { page: 10 } }, "web", 48)).toBeNull();
    expect(aheadElsewhere(null, null, "web", 48)).toBeNull();
  });

  it("computes the server's progress itself when the row has none; images never", () => {
    const noProgress = at("phone", { pdf: { page: 30 } });
    expect(aheadElsewhere(noProgress, { pdf: { page: 2 } }, "web", 48)).toBe(noProgress);
    expect(aheadElsewhere(at("phone", { image: { zoom: 3 } }), null, "web")).toBeNull();
  });

  it("says where, for the offer", () => {
    expect(describePosition({ pdf: { page: 40 } })).toBe("page 40");
    expect(describePosition({ locator: { href: "c.xhtml", type: "t", title: "Chapter 3", locations: { progression: 0, totalProgression: 0.4 } } })).toBe("Chapter 3 (40 %)");
  });
});

describe("EPUB locators from foliate-js", () => {
  const sections = [
    { id: "OEBPS/text/ch1.xhtml", size: 100 },
    { id: "OEBPS/nav.xhtml", size: 50, linear: "no" }, // not counted in progress
    { id: "OEBPS/text/ch2.xhtml", size: 300 },
  ];

  it("maps the spine item, the place in it and in the book, and the CFI as a fragment", () => {
    // 100 of ch1, then half of ch2 (150 of 300): 250 of 400
    const locator = locatorFrom({ fraction: 250 / 400, section: { current: 2, total: 3 }, cfi: "epubcfi(/6/6!/4/2)", tocItem: { label: "Two" } }, sections);
    expect(locator).toEqual({
      href: "OEBPS/text/ch2.xhtml",
      type: "application/xhtml+xml",
      title: "Two",
      locations: { progression: 0.5, totalProgression: 0.625, position: 3, fragments: ["epubcfi(/6/6!/4/2)"] },
    });
  });

  it("opens at the CFI when there is one, else at the resource (another reader's locator)", () => {
    expect(foliateTarget({ href: "x", type: "t", locations: { fragments: ["epubcfi(/6/4!/2)"] } })).toEqual({ cfi: "epubcfi(/6/4!/2)" });
    expect(foliateTarget({ href: "OEBPS/ch2.xhtml", type: "t", locations: { progression: 0.3 } })).toEqual({ href: "OEBPS/ch2.xhtml", progression: 0.3 });
  });

  it("no locator for a section foliate-js does not know", () => {
    expect(locatorFrom({ fraction: 0, section: { current: 9, total: 3 } }, sections)).toBeNull();
  });
});

describe("the write: debounced, with its intent", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  const page = (n: number): Position => ({ pdf: { page: n } });

  it("writes the last position once, 1.5 s after the last move", () => {
    const writes: [Position, string][] = [];
    const writer = new PositionWriter((p, i) => writes.push([p, i]), 1500);
    writer.move(page(2));
    vi.advanceTimersByTime(1000);
    writer.move(page(3));
    vi.advanceTimersByTime(1000);
    expect(writes).toEqual([]);
    vi.advanceTimersByTime(500);
    expect(writes).toEqual([[page(3), "advance"]]);
  });

  it("reading backwards is an advance (the server keeps it as this device's place only)", () => {
    const writes: string[] = [];
    const writer = new PositionWriter((_, i) => writes.push(i), 1500);
    writer.move(page(9));
    writer.flush();
    writer.move(page(8));
    writer.flush();
    expect(writes).toEqual(["advance", "advance"]);
  });

  it("a jump in the window makes the write a jump, even if reading went on after it", () => {
    const writes: [Position, string][] = [];
    const writer = new PositionWriter((p, i) => writes.push([p, i]), 1500);
    writer.move(page(40), "jump");
    writer.move(page(41));
    vi.advanceTimersByTime(1500);
    writer.move(page(42));
    vi.advanceTimersByTime(1500);
    expect(writes).toEqual([[page(41), "jump"], [page(42), "advance"]]);
  });

  it("flush writes what waits at once (leaving the reader); nothing when nothing waits", () => {
    const writes: Position[] = [];
    const writer = new PositionWriter((p) => writes.push(p), 1500);
    writer.flush();
    writer.move(page(5));
    expect(writer.waiting).toBe(true);
    writer.flush();
    vi.advanceTimersByTime(5000);
    expect(writes).toEqual([page(5)]);
  });
});

describe("the PUT body and names", () => {
  it("carries the device, the time, the intent and the position", () => {
    const when = new Date("2026-03-01T10:00:00Z");
    expect(body({ pdf: { page: 4, zoom: 1.5 } }, { id: "abcd1234", name: "Chrome on Linux · abcd" }, "jump", when)).toEqual({
      device: { id: "abcd1234", name: "Chrome on Linux · abcd" }, modified: "2026-03-01T10:00:00.000Z", intent: "jump", pdf: { page: 4, zoom: 1.5 },
    });
  });

  it("a stored position's part an engine opens at", () => {
    expect(positionOf(at("x", { pdf: { page: 2 } }))).toEqual({ pdf: { page: 2 } });
    expect(positionOf(at("x", {}))).toBeNull();
    expect(positionOf(null)).toBeNull();
  });

  it("names the browser and system", () => {
    const ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0 Safari/537.36";
    expect(deviceName(ua, "3f2a9bc1")).toBe("Chrome on Linux · 3f2a");
    expect(deviceName("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Gecko/20100101 Firefox/130.0", "x1y2")).toBe("Firefox on macOS · x1y2");
  });
});
