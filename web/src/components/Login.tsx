import { useCallback, useEffect, useState, type FormEvent } from "react";
import { getAuthConfig, getDevToken, type AuthConfig } from "../api/client";
import { lastUserId, tokenSubject, type Session } from "../api/auth";

/** The characters a dev user id may use (the server's `DevTokenIn` pattern). */
export const DEV_USER_PATTERN = "[A-Za-z0-9_.@:\\-]{1,128}";

function initialUser(): string {
  const fromUrl = new URLSearchParams(window.location.search).get("user");
  return fromUrl || lastUserId() || "";
}

export function Login({ onSession }: { onSession: (s: Session) => void }) {
  const [config, setConfig] = useState<AuthConfig | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [userId, setUserId] = useState(initialUser);
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);

  const devSignIn = useCallback(
    async (id: string) => {
      setBusy(true);
      setError(null);
      try {
        const res = await getDevToken(id);
        onSession({ token: res.token, userId: res.user_id });
      } catch (err) {
        setError((err as Error).message || "Sign-in failed");
      } finally {
        setBusy(false);
      }
    },
    [onSession],
  );

  const loadConfig = useCallback(async () => {
    setError(null);
    try {
      const cfg = await getAuthConfig();
      // Dev mode asks who you are (every visitor used to become the same user).
      setConfig(cfg);
    } catch (err) {
      setError(`Cannot reach the server: ${(err as Error).message}`);
    }
  }, []);

  useEffect(() => {
    void loadConfig();
  }, [loadConfig]);

  const submitDev = (e: FormEvent) => {
    e.preventDefault();
    if (userId.trim()) void devSignIn(userId.trim());
  };

  const submitToken = (e: FormEvent) => {
    e.preventDefault();
    const t = token.trim().replace(/^Bearer\s+/i, "");
    if (t) onSession({ token: t, userId: tokenSubject(t) });
  };

  return (
    <main className="login">
      <div className="login-box">
        <h1>Micro Chief of Staff</h1>
        {error && (
          <p className="banner error" role="alert">
            {error}{" "}
            {!config && (
              <button type="button" className="link-btn" onClick={() => void loadConfig()}>
                Retry
              </button>
            )}
          </p>
        )}
        {!config && !error && <p className="muted">Loading…</p>}
        {config?.mode === "dev" && (
          <form onSubmit={submitDev} className="login-form">
            <label htmlFor="user-id">Your name (development sign-in)</label>
            <input
              id="user-id"
              data-testid="login-user"
              value={userId}
              onChange={(e) => setUserId(e.target.value)}
              placeholder="e.g. jane"
              pattern={DEV_USER_PATTERN}
              title="Letters, digits and . _ @ : - (no spaces)"
              autoComplete="username"
              required
              autoFocus
            />
            <p className="muted small">Each name is its own user with its own tasks and chat. No password in dev mode.</p>
            <button type="submit" className="btn primary" data-testid="login-submit" disabled={busy || !userId.trim()}>
              {busy ? "Signing in…" : "Sign in"}
            </button>
          </form>
        )}
        {(config?.mode === "production" || (!config && error)) && (
          <form onSubmit={submitToken} className="login-form">
            <label htmlFor="token">
              Paste a token from {config?.provider ? config.provider : "your identity provider"}
            </label>
            <textarea id="token" data-testid="login-token" rows={4} value={token} onChange={(e) => setToken(e.target.value)} />
            <button type="submit" className="btn primary" data-testid="login-submit" disabled={!token.trim()}>
              Sign in
            </button>
          </form>
        )}
      </div>
    </main>
  );
}
