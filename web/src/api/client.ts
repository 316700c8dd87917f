// Thin REST client for /api/v1. Every call carries the bearer token. Bodies and answers are
// the API's models (generated from its OpenAPI schema, see types.ts).

import type { components } from "./schema";
import type { ErrorBody, HistoryPage, Preferences, StateSnapshot } from "./types";

type Schemas = components["schemas"];
export type AuthConfig = Schemas["AuthConfig"];
export type TaskChanged = Schemas["TaskChanged"];

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
    body = {
      error: { code: `http_${res.status}`, message: res.statusText || `HTTP ${res.status}`, details: {} },
      request_id: null,
    };
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

export const getAuthConfig = () => request<AuthConfig>("GET", "/auth/config", null);

export const getDevToken = (userId: string) =>
  request<Schemas["DevToken"]>("POST", "/auth/dev-token", null, { user_id: userId } satisfies Schemas["DevTokenIn"]);

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
      request<Schemas["MessageAccepted"]>("POST", "/message", token, {
        text,
        client_action_id: clientActionId,
      } satisfies Schemas["MessageIn"]),
    cancelGeneration: () => request<Schemas["CancelAccepted"]>("POST", "/generation/cancel", token),
    updateTask: (id: string, patch: Schemas["TaskPatch"]) =>
      request<TaskChanged>("PATCH", `/tasks/${encodeURIComponent(id)}`, token, patch),
    snoozeTask: (id: string, minutes: number) =>
      request<TaskChanged>("POST", `/tasks/${encodeURIComponent(id)}/snooze`, token, {
        minutes,
      } satisfies Schemas["SnoozeIn"]),
    dismissReminder: (id: string) =>
      request<TaskChanged>("PATCH", `/tasks/${encodeURIComponent(id)}`, token, {
        clear_remind_at: true,
      } satisfies Schemas["TaskPatch"]),
    respondApproval: (id: string, decision: "approve" | "reject", always = false) =>
      request<Schemas["CommandAccepted"]>("POST", `/approvals/${encodeURIComponent(id)}`, token, {
        decision,
        always,
      } satisfies Schemas["ApprovalAnswer"]),
    regenerate: (messageId: string) =>
      request<Schemas["CommandAccepted"]>("POST", `/messages/${encodeURIComponent(messageId)}/regenerate`, token),
    editMessage: (messageId: string, text: string) =>
      request<Schemas["CommandAccepted"]>("POST", `/messages/${encodeURIComponent(messageId)}/edit`, token, {
        text,
      } satisfies Schemas["EditIn"]),
    activateBranch: (messageId: string) =>
      request<Schemas["CommandAccepted"]>("POST", `/messages/${encodeURIComponent(messageId)}/activate`, token),
    deleteTask: (id: string) => request<Schemas["Deleted"]>("DELETE", `/tasks/${encodeURIComponent(id)}`, token),
    setPreferences: (prefs: Preferences) =>
      request<Schemas["PreferencesView"]>("PATCH", "/preferences", token, prefs satisfies Schemas["PreferencesPatch"]),
    selectFlight: (searchId: string, flightId: string) =>
      request<Schemas["FlightChosen"]>(
        "POST",
        `/travel/${encodeURIComponent(searchId)}/select/${encodeURIComponent(flightId)}`,
        token,
      ),
  };
}

export type Api = ReturnType<typeof createApi>;
