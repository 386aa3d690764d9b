// The shell: signed out -> the sign-in screen; signed in -> the local store, the sync engine and
// the screens (hash routes: #/todos, #/notes, #/notes/<id>, #/library, #/read/<file id>, #/sessions).
import { useEffect, useMemo, useState } from "preact/hooks";
import { makeClient } from "../api/client";
import { Auth, type StoredSession } from "../auth";
import { getMeta, openLocal, setMeta } from "../db";
import { forgetAll } from "../library/cache";
import { SyncEngine } from "../sync/engine";
import { LiveSync } from "../sync/live";
import { AuthScreen } from "./AuthScreen";
import { go, useRoute } from "./hooks";
import { LibraryScreen } from "./Library";
import { NotesScreen } from "./Notes";
import { ReaderScreen } from "../readers/Reader";
import { SessionsScreen } from "./Sessions";
import { SyncBar, SyncEvents } from "./SyncStatus";
import { TodosScreen } from "./Todos";

const auth = new Auth(location.origin);

export function App() {
  const [session, setSession] = useState<StoredSession | null | undefined>(undefined);
  useEffect(() => {
    auth.onChange = setSession;
    void auth.load().then(setSession);
  }, []);
  if (session === undefined) return <p class="loading">Loading…</p>;
  if (session === null) return <AuthScreen auth={auth} />;
  return <SignedIn key={session.user.id} session={session} />;
}

function SignedIn({ session }: { session: StoredSession }) {
  const route = useRoute();
  const [engine, setEngine] = useState<SyncEngine | null>(null);
  const api = useMemo(() => makeClient(location.origin, () => auth.accessToken(), () => void auth.forget()), []);

  useEffect(() => {
    const db = openLocal(session.user.id);
    let stop = () => {};
    void (async () => {
      let device = await getMeta<string>(db, "device", "");
      if (!device) {
        device = crypto.randomUUID().slice(0, 8);
        await setMeta(db, "device", device);
      }
      const sync = new SyncEngine(db, api, device);
      setEngine(sync);
      void sync.sync();
      // Changes from elsewhere: the live stream says when to pull; it polls only while the
      // stream is not there (live.ts).
      const live = new LiveSync(api, {
        changed: () => void sync.sync(),
        mode: (mode, seconds) => sync.setLive(mode, seconds),
      });
      live.start();
      const online = () => void sync.sync();
      addEventListener("online", online);
      stop = () => {
        live.stop();
        removeEventListener("online", online);
      };
    })();
    return () => {
      stop();
      db.close();
    };
  }, [session.user.id]);

  useEffect(() => {
    if (route.length === 0) go("/todos");
  }, [route.length]);

  const signOut = async () => {
    if (engine) {
      await engine.sync(); // what can still reach the server goes first
      const left = await engine.db.ops.count();
      const lose = `${left} change${left === 1 ? " has" : "s have"} not reached the server yet and will be lost. Sign out anyway?`;
      if (left && !confirm(lose)) return;
    }
    await auth.signOut();
    // The local copy goes with the session: the next person on this browser starts empty.
    await engine?.db.delete();
    await forgetAll(); // the books kept for offline reading, too
  };

  const screen = route[0] ?? "todos";
  return (
    <div class="app">
      <a class="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">ExampleApp</span>
        <nav aria-label="Main">
          <a href="#/todos" aria-current={screen === "todos" ? "page" : undefined}>Todos</a>
          <a href="#/notes" aria-current={screen === "notes" ? "page" : undefined}>Notes</a>
          <a href="#/library" aria-current={screen === "library" ? "page" : undefined}>Library</a>
          <a href="#/sessions" aria-current={screen === "sessions" ? "page" : undefined}>Sessions</a>
        </nav>
        {engine && <SyncBar engine={engine} />}
        <span class="who">{session.user.email}</span>
        <button type="button" onClick={signOut}>Sign out</button>
      </header>
      {engine && <SyncEvents engine={engine} />}
      <main id="main" tabIndex={-1}>
        {!engine ? (
          <p>Opening your data…</p>
        ) : screen === "notes" ? (
          <NotesScreen engine={engine} api={api} route={route.slice(1)} />
        ) : screen === "library" ? (
          <LibraryScreen engine={engine} api={api} token={() => auth.accessToken()} />
        ) : screen === "read" && route[1] ? (
          <ReaderScreen key={route[1]} engine={engine} api={api} fileId={route[1]} />
        ) : screen === "sessions" ? (
          <SessionsScreen api={api} auth={auth} />
        ) : (
          <TodosScreen engine={engine} route={route.slice(1)} />
        )}
      </main>
    </div>
  );
}
