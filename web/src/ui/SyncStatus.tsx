// Whether this device is online, what waits to be pushed, and what sync did with the user's
// changes (merged, conflict, refused), with a link to the note's history when text lost.
import { useEffect, useState } from "preact/hooks";
import { explain } from "../sync/display";
import type { SyncEngine } from "../sync/engine";
import { useLive } from "./hooks";

export function SyncBar({ engine }: { engine: SyncEngine }) {
  const [status, setStatus] = useState(engine.status);
  const [online, setOnline] = useState(navigator.onLine);
  useEffect(() => engine.subscribe(() => setStatus(engine.status)), [engine]);
  useEffect(() => {
    const on = () => setOnline(true);
    const off = () => setOnline(false);
    addEventListener("online", on);
    addEventListener("offline", off);
    return () => {
      removeEventListener("online", on);
      removeEventListener("offline", off);
    };
  }, []);
  const offline = !online || !status.online;
  const text = offline
    ? `Offline — ${status.pending} change${status.pending === 1 ? "" : "s"} waiting`
    : status.syncing
      ? "Syncing…"
      : status.pending
        ? `${status.pending} change${status.pending === 1 ? "" : "s"} to send`
        : "All changes synced";
  return (
    <div class="syncbar">
      <span role="status" data-testid="sync-status" class={offline ? "offline" : ""}>{text}</span>
      {!offline && (
        <span class="live" data-testid="live-status" data-mode={status.live}
          title={status.live === "live" ? "Changes from your other devices arrive as they happen" : undefined}>
          {status.live === "live" ? "Live" : status.live === "polling" ? `Checking every ${status.pollSeconds} s` : "Connecting…"}
        </span>
      )}
      <button type="button" onClick={() => void engine.sync()}>Sync now</button>
    </div>
  );
}

export function SyncEvents({ engine }: { engine: SyncEngine }) {
  const events = useLive(() => engine.db.events.where("seen").equals(0).reverse().sortBy("at"), [engine], []);
  if (events.length === 0) return null;
  return (
    <section class="events" aria-labelledby="events-title">
      <h2 id="events-title">Sync results</h2>
      <ul>
        {events.map((event) => {
          const said = explain(event);
          return (
            <li key={event.n} class={`event ${event.status}`}>
              <strong>{said.headline}</strong>
              {said.lines.map((line) => (
                <div>{line}</div>
              ))}
              {said.link && <a href={said.link.href}>{said.link.text}</a>}
              <button type="button" onClick={() => void engine.db.events.update(event.n!, { seen: 1 })}>
                Dismiss
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
