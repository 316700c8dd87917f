// Thin REST client for /api/v1. Every call carries the bearer token.

import type { ErrorBody, HistoryPage, Preferences, StateSnapshot, Task } from "./types";

export const API_PREFIX = "/api/v1";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(body.error?.message ?? `HTTP ${status}`);
  }
  get code(): string {
    return this.body.error?.code ?? "http_error";
  }
}

async function parseError(res: Response): Promise<ApiError> {
  let body: ErrorBody;
  try {
    body = (await res.json()) as ErrorBody;
    if (!body || typeof body !== "object" || !("error" in body)) throw new Error("not an error body");
  } catch {
    body = { error: { code: `http_${res.status}`, message: res.statusText || `HTTP ${res.status}` } };
  }
  return new ApiError(res.status, body);
}

async function request<T>(method: string, path: string, token: string | null, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`${API_PREFIX}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await parseError(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export interface AuthConfig {
  mode: "dev" | "production";
  provider: null | "clerk" | "auth0" | "cloudflare";
}

export const getAuthConfig = () => request<AuthConfig>("GET", "/auth/config", null);

export const getDevToken = (userId: string) =>
  request<{ token: string; user_id: string }>("POST", "/auth/dev-token", null, { user_id: userId });

export function createApi(token: string) {
  return {
    getState: () => request<StateSnapshot>("GET", "/state", token),
    getHistory: (before: string | null, limit = 50) =>
      request<HistoryPage>(
        "GET",
        before ? `/history?before=${encodeURIComponent(before)}&limit=${limit}` : `/history?limit=${limit}`,
        token,
      ),
    postMessage: (text: string, clientActionId: string) =>
      request<unknown>("POST", "/message", token, { text, client_action_id: clientActionId }),
    cancelGeneration: () => request<unknown>("POST", "/generation/cancel", token),
    updateTask: (id: string, patch: Partial<Task>) =>
      request<Task | unknown>("PATCH", `/tasks/${encodeURIComponent(id)}`, token, patch),
    snoozeTask: (id: string, minutes: number) =>
      request<{ task: Task | null }>("POST", `/tasks/${encodeURIComponent(id)}/snooze`, token, { minutes }),
    dismissReminder: (id: string) =>
      request<{ task: Task | null }>("PATCH", `/tasks/${encodeURIComponent(id)}`, token, { clear_remind_at: true }),
    respondApproval: (id: string, decision: "approve" | "reject", always = false) =>
      request<unknown>("POST", `/approvals/${encodeURIComponent(id)}`, token, { decision, always }),
    regenerate: (messageId: string) =>
      request<unknown>("POST", `/messages/${encodeURIComponent(messageId)}/regenerate`, token),
    editMessage: (messageId: string, text: string) =>
      request<unknown>("POST", `/messages/${encodeURIComponent(messageId)}/edit`, token, { text }),
    activateBranch: (messageId: string) =>
      request<unknown>("POST", `/messages/${encodeURIComponent(messageId)}/activate`, token),
    deleteTask: (id: string) => request<unknown>("DELETE", `/tasks/${encodeURIComponent(id)}`, token),
    setPreferences: (prefs: Preferences) => request<unknown>("PATCH", "/preferences", token, prefs),
    selectFlight: (searchId: string, flightId: string) =>
      request<unknown>(
        "POST",
        `/travel/${encodeURIComponent(searchId)}/select/${encodeURIComponent(flightId)}`,
        token,
      ),
  };
}

export type Api = ReturnType<typeof createApi>;
