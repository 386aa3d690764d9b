// Signing in and staying signed in (docs/web.md, "Tokens").
//
// The access token (5 minutes) and the refresh token (30 days, rotated on each use) are kept in
// IndexedDB, so the client opens signed in — offline too — after a reload. That store is readable
// by any script running on this origin: an XSS hole would hand both tokens over. What limits it:
// the page's strict Content-Security-Policy (no inline or third-party script), Markdown rendered
// through DOMPurify, refresh-token rotation (a copied refresh token used by a thief makes the
// server end the whole session on its next use by either side: `token_reused`), and the
// sessions screen, where a session can be ended. HttpOnly cookies would keep the refresh token
// from scripts, but the API authenticates with bearer tokens only, and a cookie would bring CSRF
// to every write; see docs/web.md for the trade-off.
//
// Refreshing is serialised across tabs with the Web Locks API and re-reads the stored pair
// inside the lock: two tabs refreshing with the same refresh token would look like reuse and
// end the session.
import Dexie, { type Table } from "dexie";
import { isNetworkError, makeClient, problemText, type Api } from "./api/client";
import type { TokenPair, User } from "./api/types";

export interface StoredSession {
  key: "current";
  user: User;
  access: string;
  refresh: string;
  /** ms since the epoch when the access token stops working */
  expiresAt: number;
}

class AuthDb extends Dexie {
  session!: Table<StoredSession, string>;
  constructor() {
    super("exampleapp-auth");
    this.version(1).stores({ session: "key" });
  }
}

const EARLY_MS = 30_000; // refresh this long before the access token expires

export class AuthError extends Error {}

export class Auth {
  private db = new AuthDb();
  private open: Api;
  session: StoredSession | null = null;
  onChange: (session: StoredSession | null) => void = () => {};

  constructor(private baseUrl: string) {
    this.open = makeClient(baseUrl);
  }

  async load(): Promise<StoredSession | null> {
    this.session = (await this.db.session.get("current")) ?? null;
    return this.session;
  }

  async signUp(email: string, password: string, displayName: string): Promise<void> {
    const { error } = await this.open.POST("/v1/auth/register", {
      body: { email, password, display_name: displayName },
    });
    if (error) throw new AuthError(problemText(error));
    await this.signIn(email, password);
  }

  async signIn(email: string, password: string): Promise<void> {
    const { data, error } = await this.open.POST("/v1/auth/token", {
      body: { email, password, device_name: deviceName() },
    });
    if (error || !data) throw new AuthError(problemText(error));
    const me = await makeClient(this.baseUrl, async () => data.access).GET("/v1/users/me");
    if (!me.data) throw new AuthError(problemText(me.error));
    await this.store(data, me.data);
  }

  private async store(pair: TokenPair, user: User): Promise<void> {
    this.session = {
      key: "current",
      user,
      access: pair.access,
      refresh: pair.refresh,
      expiresAt: Date.now() + pair.expires_in * 1000,
    };
    await this.db.session.put(this.session);
    this.onChange(this.session);
  }

  /** A valid access token, refreshed first when needed; null offline (the caller retries later). */
  async accessToken(): Promise<string | null> {
    if (!this.session) return null;
    if (this.session.expiresAt - EARLY_MS > Date.now()) return this.session.access;
    return withLock("exampleapp-refresh", async () => {
      const stored = await this.db.session.get("current");
      if (!stored) return this.ended();
      this.session = stored;
      if (stored.expiresAt - EARLY_MS > Date.now()) return stored.access; // another tab did it
      let answer;
      try {
        answer = await this.open.POST("/v1/auth/token/refresh", { body: { refresh: stored.refresh } });
      } catch (error) {
        if (isNetworkError(error)) return null;
        throw error;
      }
      if (answer.data) {
        await this.store(answer.data, stored.user);
        return answer.data.access;
      }
      if (answer.response.status === 401) return this.ended(); // expired, revoked or reused
      return null; // 429/5xx: try again later
    });
  }

  private async ended(): Promise<null> {
    await this.forget();
    return null;
  }

  /** Forget the session on this device (the server's session may already be gone). */
  async forget(): Promise<void> {
    this.session = null;
    await this.db.session.delete("current");
    this.onChange(null);
  }

  /** Sign out: end the server's session (when reachable), then forget it here. */
  async signOut(): Promise<void> {
    const refresh = this.session?.refresh;
    if (refresh) {
      try {
        await this.open.POST("/v1/auth/logout", { body: { refresh } });
      } catch {
        // Offline: the session ends on the server when its refresh token expires, or from the
        // sessions screen of another device.
      }
    }
    await this.forget();
  }
}

function deviceName(): string {
  const agent = navigator.userAgent;
  const browser = /Firefox\//.test(agent) ? "Firefox" : /Edg\//.test(agent) ? "Edge" : /Chrom/.test(agent) ? "Chrome" : /Safari\//.test(agent) ? "Safari" : "Browser";
  return `Web (${browser})`;
}

async function withLock<T>(name: string, work: () => Promise<T>): Promise<T> {
  if (typeof navigator !== "undefined" && navigator.locks) {
    return navigator.locks.request(name, work) as Promise<T>;
  }
  return work();
}
