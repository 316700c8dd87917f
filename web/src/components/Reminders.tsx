import { useEffect, useRef, useState } from "react";
import type { Task } from "../api/types";
import { useChatController, useTimePrefs } from "../context";
import { formatDateTime } from "../format";

export const SNOOZE_MINUTES = 10;

type Permission = "default" | "granted" | "denied" | "unsupported";

function notificationPermission(): Permission {
  if (typeof window === "undefined" || typeof window.Notification === "undefined") return "unsupported";
  return window.Notification.permission as Permission;
}

/** Which reminders to announce now: each fired reminder (task + time) once per page. */
export function toAnnounce(reminders: Task[], seen: Set<string>): Task[] {
  return reminders.filter((t) => !seen.has(`${t.id}@${t.remind_at ?? ""}`));
}

function announce(task: Task, body: string): void {
  if (notificationPermission() !== "granted") return;
  try {
    const n = new window.Notification(`Reminder: ${task.title}`, { body, tag: `mcos-${task.id}` });
    n.onclick = () => window.focus();
  } catch {
    /* some browsers only allow notifications from a service worker */
  }
}

function ReminderToast({ task }: { task: Task }) {
  const chat = useChatController();
  const tp = useTimePrefs();
  const [busy, setBusy] = useState(false);
  const run = async (fn: (id: string) => Promise<void>) => {
    setBusy(true);
    try {
      await fn(task.id);
    } catch {
      /* banner */
    } finally {
      setBusy(false);
    }
  };
  const when = formatDateTime(task.remind_at ?? null, tp);
  return (
    <div className="toast" role="alert" data-testid="reminder-toast" data-task-id={task.id}>
      <div className="toast-body">
        <strong>Reminder:</strong> <span data-testid="reminder-title">{task.title}</span>
        {when && <div className="muted small">{when}</div>}
      </div>
      <div className="toast-actions">
        <button
          type="button"
          className="btn small"
          data-testid="reminder-snooze"
          disabled={busy}
          onClick={() => void run((id) => chat.snoozeReminder(id, SNOOZE_MINUTES))}
        >
          Snooze {SNOOZE_MINUTES} min
        </button>
        <button type="button" className="btn small primary" data-testid="reminder-done" disabled={busy} onClick={() => void run(chat.finishReminder)}>
          Done
        </button>
        <button
          type="button"
          className="icon-btn"
          aria-label={`Dismiss reminder ${task.title}`}
          data-testid="reminder-dismiss"
          disabled={busy}
          onClick={() => void run(chat.dismissReminder)}
        >
          ✕
        </button>
      </div>
    </div>
  );
}

/**
 * Reminders that fired (the `reminder.due` frame, or `due_reminders` on connect): an in-app
 * toast with snooze / done, and a browser notification when the user allowed them.
 */
export function Reminders() {
  const chat = useChatController();
  const tp = useTimePrefs();
  const { reminders } = chat.state;
  const seen = useRef(new Set<string>());
  const [permission, setPermission] = useState<Permission>(notificationPermission);

  useEffect(() => {
    for (const task of toAnnounce(reminders, seen.current)) {
      seen.current.add(`${task.id}@${task.remind_at ?? ""}`);
      announce(task, formatDateTime(task.remind_at ?? null, tp) ?? "");
    }
  }, [reminders, tp]);

  const ask = () => {
    void window.Notification.requestPermission().then((p) => setPermission(p as Permission));
  };

  if (reminders.length === 0) return null;
  return (
    <div className="toasts" aria-live="assertive" data-testid="reminders">
      {reminders.map((t) => (
        <ReminderToast key={t.id} task={t} />
      ))}
      {permission === "default" && (
        <button type="button" className="link-btn small" data-testid="notifications-enable" onClick={ask}>
          Also notify me outside this tab
        </button>
      )}
    </div>
  );
}
