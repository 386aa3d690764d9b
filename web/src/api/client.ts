// The two API clients, both openapi-fetch typed by the generated schema: `open` for the calls
// that carry no access token (sign-up, sign-in, refresh, sign-out), and the signed-in client,
// whose middleware adds a fresh access token to every request.
import createClient, { type Client } from "openapi-fetch";
import type { paths } from "./schema";
import type { Problem } from "./types";

export type Api = Client<paths>;

export function makeClient(
  baseUrl: string,
  token?: () => Promise<string | null>,
  /** The session is over (ended from another device, signed out everywhere, deleted). */
  onEnded?: () => void,
): Api {
  const client = createClient<paths>({ baseUrl });
  if (token) {
    client.use({
      async onRequest({ request }) {
        const access = await token();
        if (access) request.headers.set("Authorization", `Bearer ${access}`);
        return request;
      },
      async onResponse({ response }) {
        // A 401 other than an expired token (refreshed ahead of time anyway) means the
        // session is gone: sign in again (docs/identity.md).
        if (response.status === 401 && onEnded) {
          const problem = (await response.clone().json().catch(() => null)) as Partial<Problem> | null;
          if (problem?.code !== "token_expired") onEnded();
        }
        return response;
      },
    });
  }
  return client;
}

/** A problem+json answer's one-line message for a person. */
export function problemText(error: unknown): string {
  const problem = error as Partial<Problem> | undefined;
  if (!problem || typeof problem !== "object") return "Something went wrong.";
  const fields = problem.errors
    ? Object.entries(problem.errors).map(([field, messages]) => `${field}: ${(messages as string[]).join(" ")}`)
    : [];
  return [problem.detail ?? problem.title ?? "Something went wrong.", ...fields].join(" ");
}

/** fetch threw: no network (offline, server unreachable), as opposed to an HTTP answer. */
export function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError;
}
