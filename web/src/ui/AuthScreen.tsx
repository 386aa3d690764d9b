import { useState } from "preact/hooks";
import type { Auth } from "../auth";

export function AuthScreen({ auth }: { auth: Auth }) {
  const [mode, setMode] = useState<"in" | "up">("in");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const email = String(form.get("email"));
    const password = String(form.get("password"));
    setBusy(true);
    setError("");
    try {
      if (mode === "up") await auth.signUp(email, password, String(form.get("display_name") ?? ""));
      else await auth.signIn(email, password);
    } catch (e) {
      setError(e instanceof TypeError ? "The server cannot be reached. Check your connection." : (e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="auth" id="main">
      <h1>ExampleApp</h1>
      <p>Your todos and notes, on every device, online or not.</p>
      <div class="tabs" role="group" aria-label="Account">
        <button type="button" aria-pressed={mode === "in"} onClick={() => setMode("in")}>Sign in</button>
        <button type="button" aria-pressed={mode === "up"} onClick={() => setMode("up")}>Create account</button>
      </div>
      <form onSubmit={submit} aria-labelledby="auth-title">
        <h2 id="auth-title">{mode === "in" ? "Sign in" : "Create an account"}</h2>
        {mode === "up" && (
          <label>
            Name <input name="display_name" autoComplete="name" />
          </label>
        )}
        <label>
          E-mail <input name="email" type="email" required autoComplete="email" />
        </label>
        <label>
          Password{" "}
          <input
            name="password"
            type="password"
            required
            minLength={mode === "up" ? 10 : undefined}
            autoComplete={mode === "up" ? "new-password" : "current-password"}
          />
        </label>
        {mode === "up" && <p class="hint">At least 10 characters, not a common password.</p>}
        {error && <p class="error" role="alert">{error}</p>}
        <button type="submit" class="primary" disabled={busy}>
          {mode === "in" ? "Sign in" : "Create account"}
        </button>
      </form>
    </main>
  );
}
