// Wires the pure reducer to the REST API and the realtime connection.

import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { ApiError, createApi, type TaskChanged } from "../api/client";
import type { Preferences } from "../api/types";
import { RealtimeConnection, type ConnectionStatus } from "../realtime/connection";
import { initialState, missingSiblings, reducer, type ChatState, type Dismissable } from "./reducer";

export interface ChatController {
  state: ChatState;
  connection: ConnectionStatus;
  send: (text: string) => void;
  retry: (clientActionId: string) => void;
  cancel: () => void;
  loadEarlier: () => Promise<void>;
  completeTask: (id: string) => Promise<void>;
  deleteTask: (id: string) => Promise<void>;
  setPreferences: (prefs: Preferences) => Promise<void>;
  selectFlight: (searchId: string, flightId: string) => Promise<void>;
  dismiss: (what: Dismissable) => void;
  respondApproval: (approvalId: string, decision: "approve" | "reject", always?: boolean) => Promise<void>;
  snoozeReminder: (taskId: string, minutes: number) => Promise<void>;
  finishReminder: (taskId: string) => Promise<void>;
  dismissReminder: (taskId: string) => Promise<void>;
  regenerate: (messageId: string) => Promise<void>;
  edit: (messageId: string, text: string) => Promise<void>;
  activate: (messageId: string) => Promise<void>;
}

function newActionId(): string {
  if (typeof crypto !== "undefined" && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return `${Date.now().toString(16)}-${Math.random().toString(16).slice(2)}`;
}

/** The browser's IANA time zone ("America/Los_Angeles"), or null when it cannot tell. */
export function browserTimeZone(): string | null {
  try {
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    return typeof tz === "string" && tz.includes("/") ? tz : null;
  } catch {
    return null;
  }
}

/** The `timezone` preference to set on first load: the browser's, unless the user has one. */
export function timeZoneToAdopt(prefs: Preferences | undefined, browserTz: string | null): string | null {
  if (!browserTz || (prefs && prefs.timezone !== undefined && prefs.timezone !== null)) return null;
  return browserTz;
}

export function useChat(token: string, onUnauthorized: () => void): ChatController {
  const [state, dispatch] = useReducer(reducer, initialState);
  const [connection, setConnection] = useState<ConnectionStatus>("connecting");
  const stateRef = useRef(state);
  stateRef.current = state;
  const connRef = useRef<RealtimeConnection | null>(null);
  const api = useMemo(() => createApi(token), [token]);
  const unauthorizedRef = useRef(onUnauthorized);
  unauthorizedRef.current = onUnauthorized;

  /** Maps API failures to UI state; 401 signs out. Rethrows for callers that show inline errors. */
  const handleError = useCallback((err: unknown): never => {
    if (err instanceof ApiError) {
      if (err.status === 401) unauthorizedRef.current();
      else if (err.status === 429 || err.code === "rate_limited") {
        dispatch({ type: "local.rate_limited", body: err.body, now: Date.now() });
      } else dispatch({ type: "local.error", code: err.code, message: err.message });
    } else {
      dispatch({ type: "local.error", code: "network", message: String((err as Error)?.message ?? err) });
    }
    throw err;
  }, []);

  // "Tomorrow at 3pm" means 3pm where the user is: without a `timezone` preference the server
  // reads times in its default zone (UTC), so the first snapshot adopts the browser's zone.
  const tzCheckedRef = useRef(false);
  const adoptTimeZone = useCallback(
    (prefs: Preferences | undefined) => {
      if (tzCheckedRef.current) return;
      tzCheckedRef.current = true;
      const tz = timeZoneToAdopt(prefs, browserTimeZone());
      if (!tz) return;
      api
        .setPreferences({ timezone: tz })
        .then(() => dispatch({ type: "local.preferences", preferences: { timezone: tz } }))
        .catch(() => undefined); // best effort: the user can still set it in the side panel
    },
    [api],
  );

  const fetchState = useCallback(async () => {
    try {
      const snapshot = await api.getState();
      // The snapshot holds the branch shown; its siblings (other answers, edits) come from
      // the history, which lists every branch. Both land together, so the branch picker
      // numbers siblings oldest first from its first render.
      const siblings = missingSiblings(snapshot, stateRef.current.messages)
        ? await api.getHistory(null, 200).catch(() => null)
        : null;
      dispatch({ type: "local.snapshot", snapshot });
      if (siblings) dispatch({ type: "local.tree", messages: siblings.messages });
      adoptTimeZone(snapshot.preferences);
    } catch (err) {
      try {
        handleError(err);
      } catch {
        /* surfaced in the error banner */
      }
    }
  }, [api, handleError, adoptTimeZone]);

  // Snapshot first, then the realtime channel.
  useEffect(() => {
    let cancelled = false;
    const conn = new RealtimeConnection({
      token,
      getCursor: () => stateRef.current.lastCursor,
      onFrame: (frame) => dispatch(frame),
      onStatus: (status) => {
        if (cancelled) return;
        setConnection(status);
        // The first snapshot may have failed while the server was down.
        if (status === "connected" && !stateRef.current.loaded) void fetchState();
      },
      onUnauthorized: () => unauthorizedRef.current(),
    });
    connRef.current = conn;
    void fetchState().then(() => {
      if (!cancelled) conn.start();
    });
    return () => {
      cancelled = true;
      conn.stop();
      connRef.current = null;
    };
  }, [token, fetchState]);

  // The server lost our position: refetch the snapshot.
  useEffect(() => {
    if (state.needsResync) void fetchState();
  }, [state.needsResync, fetchState]);

  const deliver = useCallback(
    (text: string, clientActionId: string) => {
      const sent = connRef.current?.send({ type: "message.send", text, client_action_id: clientActionId });
      if (sent) return;
      // Socket down: the REST endpoint accepts the same message (deduplicated by client_action_id).
      api.postMessage(text, clientActionId).catch((err: unknown) => {
        dispatch({ type: "local.send_failed", clientActionId });
        try {
          handleError(err);
        } catch {
          /* banner */
        }
      });
    },
    [api, handleError],
  );

  const send = useCallback(
    (text: string) => {
      const trimmed = text.trim();
      if (!trimmed) return;
      const clientActionId = newActionId();
      dispatch({ type: "local.send", text: trimmed, clientActionId, createdAt: new Date().toISOString() });
      deliver(trimmed, clientActionId);
    },
    [deliver],
  );

  const retry = useCallback(
    (clientActionId: string) => {
      const msg = stateRef.current.messages.find((m) => m.clientActionId === clientActionId);
      if (!msg) return;
      dispatch({ type: "local.retry", clientActionId });
      deliver(msg.text, clientActionId);
    },
    [deliver],
  );

  const cancel = useCallback(() => {
    const sent = connRef.current?.send({ type: "generation.cancel" });
    if (!sent) {
      api.cancelGeneration().catch((err: unknown) => {
        try {
          handleError(err);
        } catch {
          /* banner */
        }
      });
    }
    dispatch({ type: "local.cancel" });
  }, [api, handleError]);

  const loadEarlier = useCallback(async () => {
    const before = stateRef.current.history.nextBefore;
    if (!before) return;
    try {
      const page = await api.getHistory(before, 50);
      dispatch({ type: "local.history", page });
    } catch (err) {
      handleError(err);
    }
  }, [api, handleError]);

  const completeTask = useCallback(
    async (id: string) => {
      try {
        const res = await api.updateTask(id, { status: "done" });
        if (res.task) dispatch({ type: "local.task_upsert", task: res.task });
      } catch (err) {
        handleError(err);
      }
    },
    [api, handleError],
  );

  const deleteTask = useCallback(
    async (id: string) => {
      try {
        await api.deleteTask(id);
        dispatch({ type: "local.task_remove", id });
      } catch (err) {
        handleError(err);
      }
    },
    [api, handleError],
  );

  const setPreferences = useCallback(
    async (prefs: Preferences) => {
      try {
        await api.setPreferences(prefs);
        dispatch({ type: "local.preferences", preferences: prefs });
      } catch (err) {
        handleError(err);
      }
    },
    [api, handleError],
  );

  const selectFlight = useCallback(
    async (searchId: string, flightId: string) => {
      try {
        await api.selectFlight(searchId, flightId);
        dispatch({ type: "local.flight_selected", searchId, flightId });
      } catch (err) {
        handleError(err);
      }
    },
    [api, handleError],
  );

  const dismiss = useCallback((what: Dismissable) => dispatch({ type: "local.dismiss", what }), []);

  /** A refusal (409: answered elsewhere, expired) is shown where the user acted, not twice. */
  const quiet = useCallback((err: unknown): never => {
    if (err instanceof ApiError && err.status === 401) unauthorizedRef.current();
    throw err;
  }, []);

  const respondApproval = useCallback(
    async (approvalId: string, decision: "approve" | "reject", always = false) => {
      try {
        await api.respondApproval(approvalId, decision, always);
      } catch (err) {
        quiet(err);
      }
    },
    [api, quiet],
  );

  const reminderCall = useCallback(
    async (taskId: string, call: () => Promise<TaskChanged>) => {
      try {
        const { task } = await call();
        if (task) dispatch({ type: "local.task_upsert", task });
        dispatch({ type: "local.reminder_clear", taskId });
      } catch (err) {
        handleError(err);
      }
    },
    [handleError],
  );

  const snoozeReminder = useCallback(
    (taskId: string, minutes: number) => reminderCall(taskId, () => api.snoozeTask(taskId, minutes)),
    [api, reminderCall],
  );
  const finishReminder = useCallback(
    (taskId: string) => reminderCall(taskId, () => api.updateTask(taskId, { status: "done" })),
    [api, reminderCall],
  );
  const dismissReminder = useCallback(
    (taskId: string) => reminderCall(taskId, () => api.dismissReminder(taskId)),
    [api, reminderCall],
  );

  const regenerate = useCallback(
    async (messageId: string) => {
      try {
        await api.regenerate(messageId);
        dispatch({ type: "local.send_started" });
      } catch (err) {
        handleError(err);
      }
    },
    [api, handleError],
  );

  const edit = useCallback(
    async (messageId: string, text: string) => {
      try {
        await api.editMessage(messageId, text);
        dispatch({ type: "local.send_started" });
      } catch (err) {
        handleError(err);
      }
    },
    [api, handleError],
  );

  const activate = useCallback(
    async (messageId: string) => {
      dispatch({ type: "local.activate", messageId });
      try {
        await api.activateBranch(messageId);
      } catch (err) {
        void fetchState(); // back to what the server shows
        handleError(err);
      }
    },
    [api, handleError, fetchState],
  );

  return {
    state,
    connection,
    send,
    retry,
    cancel,
    loadEarlier,
    completeTask,
    deleteTask,
    setPreferences,
    selectFlight,
    dismiss,
    respondApproval,
    snoozeReminder,
    finishReminder,
    dismissReminder,
    regenerate,
    edit,
    activate,
  };
}
