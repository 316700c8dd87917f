import { useState } from "react";
import type { DataMessagePartProps } from "@assistant-ui/react";
import type { Task, TaskCard as TaskCardData } from "../api/types";
import { useChatController, useTimePrefs } from "../context";
import { formatDateTime, type TimePrefs } from "../format";

export function formatDue(due: string | null | undefined, tp: TimePrefs): string | null {
  return formatDateTime(due, tp);
}

export function isDone(task: Task): boolean {
  return task.status === "done";
}

export function TaskCard({ task: initial }: { task: Task }) {
  const chat = useChatController();
  const live = chat.state.tasks.find((t) => t.id === initial.id);
  const task = live ?? initial;
  const [busy, setBusy] = useState(false);
  const tp = useTimePrefs();
  const due = formatDue(task.due, tp);

  const complete = async () => {
    setBusy(true);
    try {
      await chat.completeTask(task.id);
    } catch {
      /* banner */
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card task-card" data-testid="task-card" data-task-id={task.id} aria-label="Task">
      <header className="card-header">
        <span className="card-kind">Task</span>
        {task.priority !== undefined && task.priority !== null && <span className="pill">{String(task.priority)}</span>}
      </header>
      <div className={isDone(task) ? "task-title done" : "task-title"}>{task.title}</div>
      <div className="muted small">
        {due ? `Due ${due} · ` : ""}
        {task.status}
      </div>
      {!isDone(task) && live && (
        <button type="button" className="btn small" disabled={busy} onClick={() => void complete()}>
          Mark done
        </button>
      )}
    </section>
  );
}

export function TaskCardPart({ data }: DataMessagePartProps<TaskCardData>) {
  return data?.task ? <TaskCard task={data.task} /> : null;
}
