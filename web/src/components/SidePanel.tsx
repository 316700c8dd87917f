import { useState, type FormEvent } from "react";
import { useChatController, useTimePrefs } from "../context";
import { sortTasks } from "../state/reducer";
import { formatDue, isDone } from "./TaskCard";

function TasksPanel() {
  const chat = useChatController();
  const [busy, setBusy] = useState<string | null>(null);
  const tp = useTimePrefs();
  const tasks = sortTasks(chat.state.tasks);

  const run = async (id: string, fn: (id: string) => Promise<void>) => {
    setBusy(id);
    try {
      await fn(id);
    } catch {
      /* banner */
    } finally {
      setBusy(null);
    }
  };

  return (
    <section className="panel" data-testid="tasks-panel" aria-labelledby="tasks-heading">
      <h2 id="tasks-heading">
        Tasks <span className="count">{tasks.filter((t) => !isDone(t)).length}</span>
      </h2>
      {tasks.length === 0 && <p className="muted small">No tasks yet. Try “Remind me to call John tomorrow at 3pm”.</p>}
      <ul className="task-list">
        {tasks.map((t) => {
          const due = formatDue(t.due, tp);
          return (
            <li key={t.id} className="task-item" data-testid="task-item" data-task-id={t.id} data-status={t.status}>
              <button
                type="button"
                className={isDone(t) ? "check checked" : "check"}
                aria-label={isDone(t) ? `${t.title} is done` : `Complete ${t.title}`}
                data-testid="task-complete"
                disabled={isDone(t) || busy === t.id}
                onClick={() => void run(t.id, chat.completeTask)}
              >
                {isDone(t) ? "✓" : ""}
              </button>
              <div className="task-body">
                <div className={isDone(t) ? "task-title done" : "task-title"}>{t.title}</div>
                {(due || t.priority) && (
                  <div className="muted small">
                    {due}
                    {due && t.priority ? " · " : ""}
                    {t.priority ? String(t.priority) : ""}
                  </div>
                )}
              </div>
              <button
                type="button"
                className="icon-btn"
                aria-label={`Delete ${t.title}`}
                data-testid="task-delete"
                disabled={busy === t.id}
                onClick={() => void run(t.id, chat.deleteTask)}
              >
                ✕
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function show(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Inputs are strings; keep numbers, booleans, arrays and objects typed when they parse as JSON. */
function parseValue(raw: string): unknown {
  const trimmed = raw.trim();
  if (/^(-?\d+(\.\d+)?|true|false|null|\[.*\]|\{.*\})$/s.test(trimmed)) {
    try {
      return JSON.parse(trimmed);
    } catch {
      return raw;
    }
  }
  return raw;
}

function PreferencesPanel() {
  const chat = useChatController();
  const entries = Object.entries(chat.state.preferences).sort(([a], [b]) => a.localeCompare(b));
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState("");
  const [newKey, setNewKey] = useState("");
  const [newValue, setNewValue] = useState("");

  const save = async (key: string, raw: string) => {
    try {
      await chat.setPreferences({ [key]: parseValue(raw) });
      setEditing(null);
    } catch {
      /* banner */
    }
  };

  const add = async (e: FormEvent) => {
    e.preventDefault();
    const key = newKey.trim();
    if (!key) return;
    try {
      await chat.setPreferences({ [key]: parseValue(newValue) });
      setNewKey("");
      setNewValue("");
    } catch {
      /* banner */
    }
  };

  return (
    <section className="panel" data-testid="preferences-panel" aria-labelledby="prefs-heading">
      <h2 id="prefs-heading">Preferences</h2>
      {entries.length === 0 && <p className="muted small">None yet. Try “My home airport is SFO”.</p>}
      <dl className="prefs">
        {entries.map(([key, value]) => (
          <div key={key} className="pref-row" data-testid="preference-item" data-key={key}>
            <dt>{key}</dt>
            {editing === key ? (
              <dd>
                <form
                  className="pref-edit"
                  onSubmit={(e) => {
                    e.preventDefault();
                    void save(key, draft);
                  }}
                >
                  <input aria-label={`Value for ${key}`} value={draft} onChange={(e) => setDraft(e.target.value)} autoFocus />
                  <button type="submit" className="btn small">
                    Save
                  </button>
                  <button type="button" className="btn small ghost" onClick={() => setEditing(null)}>
                    Cancel
                  </button>
                </form>
              </dd>
            ) : (
              <dd>
                <span className="pref-value">{show(value)}</span>
                <button
                  type="button"
                  className="link-btn"
                  aria-label={`Edit ${key}`}
                  onClick={() => {
                    setEditing(key);
                    setDraft(show(value));
                  }}
                >
                  Edit
                </button>
              </dd>
            )}
          </div>
        ))}
      </dl>
      <form className="pref-add" onSubmit={(e) => void add(e)}>
        <input aria-label="Preference key" placeholder="key" value={newKey} onChange={(e) => setNewKey(e.target.value)} />
        <input aria-label="Preference value" placeholder="value" value={newValue} onChange={(e) => setNewValue(e.target.value)} />
        <button type="submit" className="btn small" disabled={!newKey.trim()}>
          Add
        </button>
      </form>
    </section>
  );
}

function MemoriesPanel() {
  const chat = useChatController();
  const memories = chat.state.memories;
  if (memories.length === 0) return null;
  return (
    <section className="panel" data-testid="memories-panel" aria-labelledby="memories-heading">
      <h2 id="memories-heading">Pinned memories</h2>
      <ul className="memory-list">
        {memories.map((m) => (
          <li key={m.id}>
            <span className="muted small">{m.key}</span> {show(m.value)}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function SidePanel({ open = false }: { open?: boolean }) {
  return (
    <aside className={open ? "side open" : "side"} id="side-panel" aria-label="Tasks and preferences" data-testid="side-panel">
      <TasksPanel />
      <PreferencesPanel />
      <MemoriesPanel />
    </aside>
  );
}
