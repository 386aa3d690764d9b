// The account's signed-in devices: see them, end one, or sign out everywhere (online only).
import { useEffect, useState } from "preact/hooks";
import { problemText, type Api } from "../api/client";
import type { Session } from "../api/types";
import type { Auth } from "../auth";

export function SessionsScreen({ api, auth }: { api: Api; auth: Auth }) {
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [message, setMessage] = useState("");
  const load = async () => {
    try {
      const { data, error } = await api.GET("/v1/users/me/sessions", { params: { query: { limit: 100 } } });
      if (data) setSessions(data.results);
      else setMessage(problemText(error));
    } catch {
      setMessage("Sessions are listed by the server: this needs a connection.");
    }
  };
  useEffect(() => void load(), []);

  const end = async (session: Session) => {
    const { error, response } = await api.DELETE("/v1/users/me/sessions/{session_id}", { params: { path: { session_id: session.id } } });
    if (response.status !== 204) return setMessage(problemText(error));
    if (session.current) return auth.forget();
    setMessage(`Ended the session of ${session.device_name || "a device"}.`);
    await load();
  };
  const everywhere = async () => {
    const { error, response } = await api.DELETE("/v1/users/me/sessions");
    if (response.status !== 204) return setMessage(problemText(error));
    await auth.forget();
  };

  return (
    <section class="sessions" aria-labelledby="sessions-title">
      <h1 id="sessions-title">Sessions</h1>
      <p>Every device signed in to your account. End a session you do not recognise.</p>
      {message && <p role="status">{message}</p>}
      <table>
        <caption class="visually-hidden">Signed-in devices</caption>
        <thead>
          <tr><th scope="col">Device</th><th scope="col">Signed in</th><th scope="col">Last used</th><th scope="col">Address</th><th scope="col"><span class="visually-hidden">Action</span></th></tr>
        </thead>
        <tbody>
          {(sessions ?? []).map((s) => (
            <tr key={s.id}>
              <td>{s.device_name || "Unnamed device"}{s.current && <strong> (this device)</strong>}<div class="ua">{s.user_agent}</div></td>
              <td>{new Date(s.created_at).toLocaleString()}</td>
              <td>{new Date(s.last_used_at).toLocaleString()}</td>
              <td>{s.ip_address}</td>
              <td><button type="button" onClick={() => void end(s)}>{s.current ? "Sign out" : "End session"}</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" class="danger" onClick={everywhere}>Sign out everywhere</button>
    </section>
  );
}
