// @vitest-environment jsdom
// Issue 16's UI: approvals, reminders, the budget banner, the message tree, times in the
// user's locale, tasks by due time, one error shown once, dev sign-in asking for a name.
import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import type { ServerFrame, StateMessage, StateSnapshot } from "../src/api/types";
import { formatClock, formatDateTime, timePrefs } from "../src/format";
import { toRepository } from "../src/state/convert";
import { initialState, missingSiblings, reducer, sortTasks, visibleMessages, type ChatState } from "../src/state/reducer";
import { approval, snapshotOf, task, T0, wireMessage } from "./wire";

// --- pure -----------------------------------------------------------------------------

function wire(id: string, role: "user" | "assistant", parent: string | null, seq: number, extra: Partial<StateMessage> = {}): StateMessage {
  return wireMessage({ id, role, text: `${role} ${id}`, created_at: T0, seq, parent_id: parent, status: "completed", ...extra });
}

function snapshot(messages: StateMessage[], extra: Partial<StateSnapshot> = {}): StateSnapshot {
  return snapshotOf({
    user_id: "u",
    seq: messages.reduce((n, m) => Math.max(n, m.seq ?? 0), 0),
    messages,
    active_leaf: messages.at(-1)?.id ?? null,
    ...extra,
  });
}

let cur = 100;
function frame(f: Omit<ServerFrame, "cursor">): ServerFrame {
  return { cursor: ++cur, ...f } as ServerFrame;
}

function run(state: ChatState, ...frames: Omit<ServerFrame, "cursor">[]): ChatState {
  return frames.reduce((s, f) => reducer(s, frame(f)), state);
}

const ids = (s: ChatState) => visibleMessages(s).map((m) => m.id);

describe("times in the user's locale", () => {
  it("formats wall-clock flight times with the locale's hour cycle", () => {
    expect(formatClock("14:30", { locale: "en-US" })).toBe("2:30 PM");
    expect(formatClock("14:30", { locale: "de-DE" })).toBe("14:30");
    expect(formatClock("not a time", { locale: "en-US" })).toBe("not a time");
  });

  it("formats instants in the user's zone, dates without a shift", () => {
    const tp = { locale: "en-US", timeZone: "America/Los_Angeles" };
    expect(formatDateTime("2025-03-14T22:00:00Z", tp)).toBe("Mar 14, 2025, 3:00 PM");
    expect(formatDateTime("2025-03-14", tp)).toBe("Mar 14, 2025");
    expect(formatDateTime(null, tp)).toBeNull();
  });

  it("takes locale and zone from the preferences, ignoring bad values", () => {
    expect(timePrefs({ locale: "fr-FR", timezone: "Europe/Paris" })).toEqual({ locale: "fr-FR", timeZone: "Europe/Paris" });
    expect(timePrefs({ timezone: "Mars/Olympus" }).timeZone).toBeUndefined();
  });
});

describe("tasks", () => {
  it("orders open tasks by due time, undated last, done at the end", () => {
    const tasks = [
      task({ id: "a", title: "undated", status: "open" }),
      task({ id: "b", title: "late", status: "open", due: "2025-01-03T09:00:00Z" }),
      task({ id: "c", title: "done", status: "done", due: "2025-01-01T09:00:00Z" }),
      task({ id: "d", title: "soon", status: "open", due: "2025-01-02T09:00:00Z" }),
    ];
    expect(sortTasks(tasks).map((t) => t.title)).toEqual(["soon", "late", "undated", "done"]);
  });
});

describe("the message tree", () => {
  const base = reducer(initialState, { type: "local.snapshot", snapshot: snapshot([wire("msg_u1", "user", null, 1), wire("msg_a1", "assistant", "msg_u1", 2)]) });

  it("a regenerated reply replaces the one shown; both stay known as siblings", () => {
    let s = run(base, { type: "state.updated", seq: 3, data: { active_leaf: "msg_u1" } });
    expect(ids(s)).toEqual(["msg_u1"]);
    expect(s.needsResync).toBe(false);
    s = run(s, { type: "message.created", seq: 4, data: wire("msg_a2", "assistant", "msg_u1", 4, { branch: { index: 1, count: 2 } }) });
    expect(ids(s)).toEqual(["msg_u1", "msg_a2"]);
    const repo = toRepository(s);
    expect(repo.headId).toBe("msg_a2");
    // Siblings oldest first: the picker says 2 / 2 for the new one.
    expect(repo.messages.filter((i) => i.parentId === "msg_u1").map((i) => i.message.id)).toEqual(["msg_a1", "msg_a2"]);
    s = reducer(s, { type: "local.activate", messageId: "msg_a1" });
    expect(ids(s)).toEqual(["msg_u1", "msg_a1"]);
  });

  it("an edit is a sibling of the edited message and its answer follows it", () => {
    const s = run(
      base,
      { type: "message.created", seq: 3, data: wire("msg_u2", "user", null, 3) },
      { type: "message.created", seq: 4, data: wire("msg_a3", "assistant", "msg_u2", 4) },
    );
    expect(ids(s)).toEqual(["msg_u2", "msg_a3"]);
    expect(toRepository(s).messages.filter((i) => i.parentId === null).map((i) => i.message.id)).toEqual(["msg_u1", "msg_u2"]);
  });

  it("a reply goes right after what it answers; a message sent meanwhile follows it", () => {
    const s = run(
      base,
      { type: "message.created", seq: 3, data: wire("msg_u2", "user", "msg_a1", 3) },
      { type: "message.created", seq: 4, data: wire("msg_u3", "user", "msg_u2", 4) },
      { type: "message.created", seq: 5, data: wire("msg_a2", "assistant", "msg_u2", 5) },
    );
    expect(ids(s)).toEqual(["msg_u1", "msg_a1", "msg_u2", "msg_a2", "msg_u3"]);
  });

  it("a reply's frames without a seq still place it (once)", () => {
    const data = wire("msg_a2", "assistant", "msg_u2", 0);
    delete (data as Partial<StateMessage>).seq;
    const s = run(
      base,
      { type: "message.created", seq: 3, data: wire("msg_u2", "user", "msg_a1", 3) },
      { type: "llm.token", data: { operation_id: "op_1", attempt: 1, index: 0, text: "x" } },
      { type: "message.created", data: { ...data, operation_id: "op_1" } },
      { type: "message.completed", data: { ...data, operation_id: "op_1" } },
    );
    expect(ids(s)).toEqual(["msg_u1", "msg_a1", "msg_u2", "msg_a2"]);
  });

  it("a branch the client does not hold asks for a fresh snapshot", () => {
    const s = run(base, { type: "state.updated", seq: 3, data: { active_leaf: "msg_elsewhere" } });
    expect(s.needsResync).toBe(true);
  });

  it("knows when the snapshot's branch has siblings it has not loaded", () => {
    const snap = snapshot([wire("msg_u1", "user", null, 1), wire("msg_a2", "assistant", "msg_u1", 4, { branch: { index: 1, count: 2 } })]);
    expect(missingSiblings(snap, [])).toBe(true);
    const loaded = reducer(reducer(initialState, { type: "local.snapshot", snapshot: snap }), {
      type: "local.tree",
      messages: [wire("msg_a1", "assistant", "msg_u1", 2)],
    });
    expect(missingSiblings(snap, loaded.messages)).toBe(false);
    expect(ids(loaded)).toEqual(["msg_u1", "msg_a2"]); // the sibling is known, not shown
  });
});

describe("approvals, reminders, the budget", () => {
  const approval = { id: "apr_1", approval_id: "apr_1", tool: "select_flight", summary: "Book option 1", status: "pending" as const };

  it("tracks an approval from requested to resolved", () => {
    let s = run(initialState, { type: "approval.requested", seq: 1, data: approval });
    expect(s.approvals.apr_1.status).toBe("pending");
    s = run(s, { type: "approval.resolved", seq: 2, data: { ...approval, status: "rejected", decision: "reject" } });
    expect(s.approvals.apr_1.status).toBe("rejected");
  });

  it("lists a fired reminder until its task is done or snoozed", () => {
    const task = { id: "task_1", title: "Call John", status: "open", remind_at: T0, reminded_at: T0 };
    let s = run(initialState, { type: "reminder.due", seq: 1, data: task });
    expect(s.reminders.map((t) => t.id)).toEqual(["task_1"]);
    s = run(s, { type: "task.updated", seq: 2, data: { ...task, remind_at: "2025-01-01T10:10:00Z", reminded_at: null } });
    expect(s.reminders).toEqual([]);
    s = run(s, { type: "reminder.due", seq: 3, data: task }, { type: "task.updated", seq: 4, data: { ...task, status: "done" } });
    expect(s.reminders).toEqual([]);
  });

  it("keeps the budget warning until dismissed", () => {
    const data = { limit_type: "tokens_per_day", limit: 100, current: 81, ratio: 0.81, message: "You've used 81 of today's 100 assistant tokens." };
    let s = run(initialState, { type: "limit.warning", data });
    expect(s.limitWarning?.current).toBe(81);
    s = reducer(s, { type: "local.dismiss", what: "limitWarning" });
    expect(s.limitWarning).toBeNull();
  });
});

// --- the app (jsdom) ------------------------------------------------------------------

class FakeSocket {
  static instances: FakeSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.instances.push(this);
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.();
    }, 0);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
}

function push(f: Record<string, unknown>) {
  act(() => {
    FakeSocket.instances.at(-1)!.onmessage?.({ data: JSON.stringify({ cursor: ++cur, ts: T0, ...f }) });
  });
}

function json(body: unknown, status = 200) {
  return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }));
}

const fetchMock = vi.fn();
const notified: string[] = [];
let appState: StateSnapshot;

beforeEach(() => {
  FakeSocket.instances = [];
  notified.length = 0;
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.stubGlobal("fetch", fetchMock);
  vi.stubGlobal(
    "ResizeObserver",
    class {
      observe() {}
      unobserve() {}
      disconnect() {}
    },
  );
  vi.stubGlobal(
    "Notification",
    class {
      static permission = "granted";
      constructor(title: string) {
        notified.push(title);
      }
    },
  );
  Element.prototype.scrollTo = function () {};
  appState = snapshot([], { preferences: { timezone: "America/Los_Angeles", locale: "en-US" } });
  fetchMock.mockReset();
  fetchMock.mockImplementation((url: string) => {
    if (url === "/api/v1/state") return json(appState);
    if (url === "/api/v1/auth/config") return json({ mode: "dev", provider: null });
    if (url.startsWith("/api/v1/approvals/")) return json({ status: "accepted", event_id: "e", seq: 9, request_id: "r" });
    if (url.endsWith("/snooze")) return json({ task: { id: "task_1", title: "Call John", status: "open", remind_at: "2025-01-01T10:10:00Z", reminded_at: null } });
    return json({ error: { code: "not_found", message: "nope" } }, 404);
  });
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

async function signedIn() {
  sessionStorage.setItem("mcos.token", "tok123");
  sessionStorage.setItem("mcos.user", "alice");
  render(<App />);
  // The first render imports assistant-ui: slow on a shared machine.
  await waitFor(() => expect(screen.getByTestId("connection-status").textContent).toContain("connected"), { timeout: 10_000 });
}

describe("the app", () => {
  it("in dev mode asks for a name instead of signing in on its own", async () => {
    render(<App />);
    const field = await screen.findByTestId("login-user", undefined, { timeout: 10_000 });
    expect((field as HTMLInputElement).value).toBe("");
    expect((screen.getByTestId("login-submit") as HTMLButtonElement).disabled).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(fetchMock.mock.calls.some(([url]) => String(url).includes("dev-token"))).toBe(false);
  });

  it("shows the approval card and sends Approve with always-allow", async () => {
    appState = snapshot(
      [
        wire("msg_u1", "user", null, 1, { text: "Book the first one" }),
        wire("msg_a1", "assistant", "msg_u1", 2, {
          text: "Shall I go ahead?",
          status: "awaiting_approval",
          cards: [{ type: "approval", approval_id: "apr_1", tool: "select_flight", summary: "Book option 1 SFO→BOS", arguments: { option_rank: 1 } }],
        }),
      ],
      { approvals: [approval({ id: "apr_1", tool: "select_flight", summary: "Book option 1 SFO→BOS", status: "pending", expires_at: "2025-01-02T10:00:00Z" })] },
    );
    await signedIn();
    const card = await screen.findByTestId("approval-card");
    expect(card.getAttribute("data-status")).toBe("pending");
    expect(card.textContent).toContain("Book option 1 SFO→BOS");
    expect(screen.queryByTestId("message-regenerate")).toBeNull(); // the question waits for an answer
    fireEvent.click(within(card).getByTestId("approval-always"));
    fireEvent.click(within(card).getByTestId("approval-approve"));
    await waitFor(() => {
      const call = fetchMock.mock.calls.find(([url]) => url === "/api/v1/approvals/apr_1");
      expect(call).toBeTruthy();
      expect(JSON.parse(call![1].body)).toEqual({ decision: "approve", always: true });
    });
    push({ type: "approval.resolved", seq: 3, data: { id: "apr_1", approval_id: "apr_1", tool: "select_flight", summary: "x", status: "approved", always: true } });
    await waitFor(() => expect(screen.getByTestId("approval-card").getAttribute("data-status")).toBe("approved"));
    expect(screen.queryByTestId("approval-approve")).toBeNull();
  });

  it("shows a refused answer on the card, not twice", async () => {
    appState = snapshot(
      [wire("msg_a1", "assistant", null, 2, { cards: [{ type: "approval", approval_id: "apr_1", tool: "delete_task", summary: "Delete" }] })],
      { approvals: [approval({ id: "apr_1", tool: "delete_task", summary: "Delete", status: "pending" })] },
    );
    fetchMock.mockImplementation((url: string) => {
      if (url === "/api/v1/state") return json(appState);
      return json({ error: { code: "conflict", message: "approval apr_1 is rejected" } }, 409);
    });
    await signedIn();
    fireEvent.click(await screen.findByTestId("approval-reject"));
    await waitFor(() => expect(screen.getAllByText("approval apr_1 is rejected")).toHaveLength(1));
    expect(screen.queryByTestId("error-banner")).toBeNull();
  });

  it("delivers a due reminder on connect as a toast and a browser notification; Snooze clears it", async () => {
    appState = snapshot([], {
      preferences: { timezone: "America/Los_Angeles", locale: "en-US" },
      due_reminders: [task({ id: "task_1", title: "Call John", status: "open", remind_at: "2025-03-14T22:00:00Z", reminded_at: "2025-03-14T22:00:00Z" })],
    });
    await signedIn();
    const toast = await screen.findByTestId("reminder-toast");
    expect(toast.textContent).toContain("Call John");
    expect(toast.textContent).toContain("Mar 14, 2025, 3:00 PM");
    expect(notified).toEqual(["Reminder: Call John"]);
    fireEvent.click(within(toast).getByTestId("reminder-snooze"));
    await waitFor(() => expect(screen.queryByTestId("reminder-toast")).toBeNull());
    const call = fetchMock.mock.calls.find(([url]) => url === "/api/v1/tasks/task_1/snooze");
    expect(JSON.parse(call![1].body)).toEqual({ minutes: 10 });
    // A live reminder.due frame shows again, announced once.
    push({ type: "reminder.due", seq: 5, data: { id: "task_1", title: "Call John", status: "open", remind_at: "2025-03-14T22:10:00Z", reminded_at: "2025-03-14T22:10:00Z" } });
    await screen.findByTestId("reminder-toast");
    expect(notified).toHaveLength(2);
  });

  it("shows the budget warning banner", async () => {
    await signedIn();
    push({ type: "limit.warning", data: { limit_type: "tokens_per_day", limit: 100000, current: 80500, ratio: 0.805, message: "You've used 80,500 of today's 100,000 assistant tokens." } });
    const banner = await screen.findByTestId("budget-warning-banner");
    expect(banner.textContent).toContain("80,500 of today's 100,000");
  });

  it("shows a failed tool once: the reply's text replaces the note", async () => {
    await signedIn();
    push({ type: "llm.action", data: { operation_id: "op_1", name: "search_flights" } });
    push({ type: "tool.result", data: { operation_id: "op_1", tool: "search_flights", status: "error", summary: "The flight search service isn't answering" } });
    await waitFor(() => expect(screen.getAllByText(/isn't answering/)).toHaveLength(1));
    push({ type: "llm.token", data: { operation_id: "op_1", attempt: 1, index: 0, text: "I couldn't search flights: The flight search service isn't answering" } });
    await waitFor(() => expect(screen.getByTestId("message-assistant").textContent).toContain("I couldn't search"));
    expect(screen.getAllByText(/isn't answering/)).toHaveLength(1);
  });

  it("orders the tasks panel by due time and shows 12-hour times for en-US", async () => {
    appState = snapshot([], {
      preferences: { timezone: "America/Los_Angeles", locale: "en-US" },
      tasks: [
        task({ id: "task_b", title: "Later", status: "open", due: "2025-03-15T22:00:00Z" }),
        task({ id: "task_a", title: "Sooner", status: "open", due: "2025-03-14T22:00:00Z" }),
      ],
    });
    await signedIn();
    const items = await screen.findAllByTestId("task-item");
    expect(items.map((i) => i.textContent)).toEqual([expect.stringContaining("Sooner"), expect.stringContaining("Later")]);
    expect(items[0].textContent).toContain("3:00 PM");
  });
});
