// Token storage (sessionStorage: gone when the tab closes).

const TOKEN_KEY = "mcos.token";
const USER_KEY = "mcos.user";
const SIGNED_OUT_KEY = "mcos.signed_out";

function storage(): Storage | null {
  try {
    return typeof sessionStorage === "undefined" ? null : sessionStorage;
  } catch {
    return null;
  }
}

export interface Session {
  token: string;
  userId: string | null;
}

export function loadSession(): Session | null {
  const s = storage();
  const token = s?.getItem(TOKEN_KEY);
  return token ? { token, userId: s?.getItem(USER_KEY) ?? null } : null;
}

export function saveSession(session: Session): void {
  const s = storage();
  s?.setItem(TOKEN_KEY, session.token);
  if (session.userId) s?.setItem(USER_KEY, session.userId);
  else s?.removeItem(USER_KEY);
  s?.removeItem(SIGNED_OUT_KEY);
}

/** Forget the token; `explicit` (the user signed out) also stops dev auto-sign-in. */
export function clearSession(explicit: boolean): void {
  const s = storage();
  s?.removeItem(TOKEN_KEY);
  if (explicit) s?.setItem(SIGNED_OUT_KEY, "1");
}

export function wasSignedOut(): boolean {
  return storage()?.getItem(SIGNED_OUT_KEY) === "1";
}

export function lastUserId(): string | null {
  return storage()?.getItem(USER_KEY) ?? null;
}

/** Best-effort read of the `sub` claim, for display only (never trusted). */
export function tokenSubject(token: string): string | null {
  try {
    const payload = token.split(".")[1];
    const json = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    return typeof json.sub === "string" ? json.sub : null;
  } catch {
    return null;
  }
}
