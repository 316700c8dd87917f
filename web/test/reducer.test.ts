import { describe, expect, it } from "vitest";
import type { ServerFrame, StateMessage, StateSnapshot } from "../src/api/types";
import { compareCursors, initialState, isRunning, reducer, type Action, type ChatState } from "../src/state/reducer";
import { errorBody, flightOption, flightSearch, historyMessage, memory, snapshotOf, task, wireMessage } from "./wire";

let cursor = 0;
const next = () => ++cursor;

function run(actions: Action[], state: ChatState = initialState): ChatState {
  return actions.reduce(reducer, state);
}

function frame<T extends ServerFrame["type"]>(
  type: T,
  data: Extract<ServerFrame, { type: T }>["data"],
  extra: Partial<ServerFrame> = {},
): ServerFrame {
  return { type, cursor: next(), ts: "2025-01-01T10:00:00Z", data, ...extra } as ServerFrame;
}

const userMsg = (over: Partial<StateMessage> = {}): StateMessage =>
  wireMessage({
    id: "msg_u1",
    role: "user",
    text: "hello",
    created_at: "2025-01-01T10:00:00Z",
    seq: 5,
    status: "completed",
    client_action_id: "ca-1",
    ...over,
  });

const assistantMsg = (over: Partial<StateMessage> = {}): StateMessage =>
  wireMessage({
    id: "msg_a1",
    role: "assistant",
    text: "Hi there",
    created_at: "2025-01-01T10:00:01Z",
    seq: 6,
    status: "completed",
    operation_id: "op_1",
    tokens_prompt: 10,
    tokens_completion: 3,
    cards: [],
    ...over,
  });

const token = (text: string, index: number, attempt = 1, operation_id = "op_1") =>
  frame("llm.token", { operation_id, attempt, index, text });

const snapshot = (over: Partial<StateSnapshot> = {}): StateSnapshot => snapshotOf({ seq: 4, ...over });

describe("optimistic user messages", () => {
  it("adds a sending message and reconciles it by client_action_id", () => {
    let s = run([{ type: "local.send", text: "hello", clientActionId: "ca-1", createdAt: "2025-01-01T10:00:00Z" }]);
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0]).toMatchObject({ status: "sending", role: "user", text: "hello" });
    expect(isRunning(s)).toBe(true);
    const uiId = s.messages[0].uiId;

    s = reducer(s, frame("message.created", userMsg(), { seq: 5 }));
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0]).toMatchObject({ id: "msg_u1", status: "sent", seq: 5, uiId });
  });

  it("does not reconcile a different client_action_id", () => {
    let s = run([{ type: "local.send", text: "hello", clientActionId: "ca-1", createdAt: "t" }]);
    s = reducer(s, frame("message.created", userMsg({ id: "msg_other", client_action_id: "ca-2", text: "from another tab" }), { seq: 5 }));
    expect(s.messages.map((m) => m.status)).toEqual(["sent", "sending"]);
  });

  it("marks a sending message failed on rate_limited and can retry", () => {
    let s = run([
      { type: "local.send", text: "hello", clientActionId: "ca-1", createdAt: "t" },
      frame(
        "rate_limited",
        errorBody("rate_limited", "Too many messages", {
          limit_type: "messages_per_minute",
          limit: 60,
          current: 61,
          reset_at: 1735725660,
          retry_after: 30,
        }),
      ),
    ]);
    expect(s.messages[0].status).toBe("failed");
    expect(s.rateLimit).toMatchObject({ limitType: "messages_per_minute", retryAt: 1735725660000, retryAfterSec: 30 });
    expect(isRunning(s)).toBe(false);
    s = reducer(s, { type: "local.retry", clientActionId: "ca-1" });
    expect(s.messages[0].status).toBe("sending");
  });

  it("keeps retry_after relative for frames and resolves it against the local clock for REST 429s", () => {
    const body = errorBody("rate_limited", "x", { retry_after: 10 });
    const s = reducer(initialState, frame("rate_limited", body, { ts: "2025-01-01T10:00:00Z" }));
    expect(s.rateLimit).toMatchObject({ retryAt: null, retryAfterSec: 10, n: 1 });
    const r = reducer(s, { type: "local.rate_limited", body, now: 1000 });
    expect(r.rateLimit).toMatchObject({ retryAt: 11000, n: 2 });
  });
});

describe("streaming", () => {
  it("accumulates tokens into one streaming assistant message", () => {
    const s = run([token("Hel", 0), token("lo", 1), token(" world", 2)]);
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0]).toMatchObject({ role: "assistant", status: "streaming", text: "Hello world", operationId: "op_1" });
    expect(s.activeOperationId).toBe("op_1");
    expect(isRunning(s)).toBe(true);
  });

  it("ignores a token whose index was already applied", () => {
    const dup = token("lo", 1);
    const s = run([token("Hel", 0), dup, { ...dup, cursor: next() } as ServerFrame]);
    expect(s.messages[0].text).toBe("Hello");
  });

  it("llm.restarted drops the partial text of that operation only", () => {
    let s = run([token("Other", 0, 1, "op_2"), token("Hel", 0), token("lo", 1)]);
    s = reducer(s, frame("llm.restarted", { operation_id: "op_1", attempt: 2 }));
    const op1 = () => s.messages.find((m) => m.operationId === "op_1")!;
    expect(op1().text).toBe("");
    expect(s.messages.find((m) => m.operationId === "op_2")!.text).toBe("Other");
    // The new attempt starts over at index 0.
    s = run([token("Fresh", 0, 2), token(" start", 1, 2)], s);
    expect(op1().text).toBe("Fresh start");
    expect(op1().attempt).toBe(2);
  });

  it("llm.restarted with from_index keeps the text of earlier LLM calls of the operation", () => {
    // First LLM call (indices 0-1), a tool ran, second call streams from index 2 and is retried.
    let s = run([token("Let me ", 0), token("check. ", 1), token("Found", 2), token(" it", 3)]);
    s = reducer(s, frame("llm.restarted", { operation_id: "op_1", attempt: 2, from_index: 2 }));
    expect(s.messages[0].text).toBe("Let me check. ");
    s = run([token("Here", 2, 2), token(" you go", 3, 2)], s);
    expect(s.messages[0].text).toBe("Let me check. Here you go");
  });

  it("a run of tokens in one frame (first_index…index) appends once and is cut at its start", () => {
    const runOf = (text: string, first: number, last: number, attempt = 1) =>
      frame("llm.token", { operation_id: "op_1", attempt, index: last, text, first_index: first, count: last - first + 1 });
    // The first LLM call's tokens 0-2 came as one frame; the second call (from 3) is retried.
    let s = run([runOf("Let me check. ", 0, 2), token("Found", 3), runOf(" it now", 4, 5)]);
    expect(s.messages[0].text).toBe("Let me check. Found it now");
    s = run([runOf("Let me check. ", 0, 2)], s); // the same run replayed: nothing added
    expect(s.messages[0].text).toBe("Let me check. Found it now");
    s = reducer(s, frame("llm.restarted", { operation_id: "op_1", attempt: 2, from_index: 3 }));
    expect(s.messages[0].text).toBe("Let me check. ");
    s = reducer(s, frame("llm.restarted", { operation_id: "op_1", attempt: 3, from_index: 0 }));
    expect(s.messages[0].text).toBe("");
  });

  it("a later LLM call of the same operation (attempt back to 1) keeps appending", () => {
    const s = run([
      token("A", 0),
      frame("llm.restarted", { operation_id: "op_1", attempt: 2, from_index: 0 }),
      token("B", 0, 2),
      token("C", 1, 1),
    ]);
    expect(s.messages[0].text).toBe("BC");
  });

  it("message.completed finalizes the streamed message in place", () => {
    let s = run([{ type: "local.send", text: "hello", clientActionId: "ca-1", createdAt: "t" }]);
    s = run([frame("message.created", userMsg(), { seq: 5 }), token("Hi ", 0), token("the", 1)], s);
    const uiId = s.messages[1].uiId;
    s = reducer(s, frame("message.completed", assistantMsg(), { seq: 6 }));
    expect(s.messages).toHaveLength(2);
    expect(s.messages[1]).toMatchObject({ id: "msg_a1", uiId, text: "Hi there", status: "completed", tokensCompletion: 3 });
    expect(s.activeOperationId).toBeNull();
    expect(isRunning(s)).toBe(false);
  });

  it("tokens after completion are ignored", () => {
    const s = run([token("Hi", 0), frame("message.completed", assistantMsg({ text: "Hi there" }), { seq: 6 }), token(" late", 5)]);
    expect(s.messages[0].text).toBe("Hi there");
  });

  it("llm.interrupted keeps the partial text and stops running", () => {
    let s = run([token("Par", 0), token("tial", 1)]);
    s = reducer(s, frame("llm.interrupted", assistantMsg({ text: "Partial", status: "interrupted" }), { seq: 6 }));
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0]).toMatchObject({ status: "interrupted", text: "Partial", id: "msg_a1" });
    expect(isRunning(s)).toBe(false);
  });

  it("llm.interrupted without text keeps what was streamed", () => {
    const s = run([token("Par", 0), frame("llm.interrupted", assistantMsg({ text: "", status: "interrupted" }), { seq: 6 })]);
    expect(s.messages[0]).toMatchObject({ status: "interrupted", text: "Par" });
  });

  it("tool.result attaches a card and clears the pending action", () => {
    const card = {
      type: "flights" as const,
      search_id: "fs_1",
      options: [],
      ranking: [],
    };
    let s = run([token("Looking", 0), frame("llm.action", { operation_id: "op_1", name: "search_flights", arguments: {} })]);
    expect(s.messages[0].pendingActions).toEqual(["search_flights"]);
    s = reducer(s, frame("tool.result", { operation_id: "op_1", tool: "search_flights", status: "success", card }));
    expect(s.messages[0].pendingActions).toEqual([]);
    expect(s.messages[0].cards).toEqual([card]);
    // The final message without cards keeps the card from tool.result.
    s = reducer(s, frame("message.completed", assistantMsg({ cards: [] }), { seq: 6 }));
    expect(s.messages[0].cards).toEqual([card]);
  });

  it("a flight_selected card records the choice; unknown or malformed cards are dropped, not fatal", () => {
    const flight = flightOption({ id: "off_2", airline_name: "Air", airline_code: "AA", flight_number: "AA2", total: 300 });
    let s = run([token("Booked", 0)]);
    s = reducer(s, frame("tool.result", { operation_id: "op_1", tool: "select_flight", status: "success", card: { type: "flight_selected", search_id: "fs_1", flight, tasks: [] } }));
    expect(s.flightSelections).toEqual({ fs_1: "off_2" });
    expect(s.messages[0].cards.map((c) => c.type)).toEqual(["flight_selected"]);
    const odd = [{ type: "weather", city: "Paris" }, { type: "task" }, null] as never[];
    for (const card of odd) {
      s = reducer(s, frame("tool.result", { operation_id: "op_1", tool: "x", status: "success", card }));
    }
    s = reducer(s, frame("message.completed", assistantMsg({ cards: odd }), { seq: 6 }));
    expect(s.messages[0].cards.map((c) => c.type)).toEqual(["flight_selected"]);
  });

  it("the snapshot restores flight choices and drops unknown cards from history", () => {
    const s = run([
      {
        type: "local.snapshot",
        snapshot: snapshot({
          messages: [assistantMsg({ cards: [{ type: "weather" }, { type: "flights", search_id: "fs_1", options: [], ranking: [] }] as never[] })],
          flight_searches: [flightSearch({ search_id: "fs_1", selected_flight_id: "off_3" }), flightSearch({ search_id: "fs_2" })],
        }),
      },
      { type: "local.flight_selected", searchId: "fs_2", flightId: "off_9" },
    ]);
    expect(s.messages[0].cards.map((c) => c.type)).toEqual(["flights"]);
    expect(s.flightSelections).toEqual({ fs_1: "off_3", fs_2: "off_9" });
  });

  it("records tool errors", () => {
    const s = run([frame("tool.result", { operation_id: "op_1", tool: "search_flights", status: "error" })]);
    expect(s.messages[0].toolNotes).toEqual([{ tool: "search_flights", status: "error", message: undefined }]);
  });
});

describe("ordering", () => {
  it("orders settled messages by seq and keeps local ones last", () => {
    const s = run([
      { type: "local.send", text: "pending", clientActionId: "ca-9", createdAt: "t" },
      frame("message.created", userMsg({ id: "m7", seq: 7, client_action_id: "x7", text: "seven" }), { seq: 7 }),
      frame("message.created", assistantMsg({ id: "m8", seq: 8, operation_id: "op_8", text: "eight" }), { seq: 8 }),
    ]);
    expect(s.messages.map((m) => m.text)).toEqual(["seven", "eight", "pending"]);
  });

  it("drops a frame whose seq is older than one already applied", () => {
    const s = run([
      { type: "local.snapshot", snapshot: snapshot({ seq: 10, messages: [userMsg({ id: "m1", seq: 1 }), userMsg({ id: "m9", seq: 9, client_action_id: "c9" })] }) },
      frame("message.created", assistantMsg({ id: "m12", seq: 12, operation_id: "op_12" }), { seq: 12 }),
      frame("message.created", userMsg({ id: "m11", seq: 11, client_action_id: "c11" }), { seq: 11 }),
    ]);
    // seq 11 arrives after 12: it is older than the newest applied seq, so it is a stale duplicate.
    expect(s.messages.map((m) => m.id)).toEqual(["m1", "m9", "m12"]);
  });
});

describe("dedup", () => {
  it("drops a frame whose cursor was already seen", () => {
    const f = frame("task.created", task({ id: "task_1", title: "A", status: "open" }), { seq: 5 });
    const s1 = reducer(initialState, f);
    const s2 = reducer(s1, f);
    expect(s2).toBe(s1);
  });

  it("drops frames with an older numeric cursor", () => {
    const s = run([token("A", 0, 1, "op_x")]);
    const old = { ...token("B", 1, 1, "op_x"), cursor: 0 } as ServerFrame;
    expect(reducer(s, old)).toBe(s);
  });

  it("compares redis-style cursors", () => {
    expect(compareCursors("1700-2", "1700-10")).toBe(-1);
    expect(compareCursors("1701-0", "1700-10")).toBe(1);
    expect(compareCursors("abc", "abd")).toBeNull();
    const s = run([{ ...frame("pong", {}), cursor: "1700-10" } as ServerFrame]);
    expect(reducer(s, { ...frame("task.created", task({ id: "t", title: "x", status: "open" })), cursor: "1700-2" } as ServerFrame)).toBe(s);
  });

  it("drops opaque cursors seen before", () => {
    const s = run([{ ...frame("task.created", task({ id: "t1", title: "x", status: "open" })), cursor: "c-abc" } as ServerFrame]);
    const again = { ...frame("task.deleted", { id: "t1" }), cursor: "c-abc" } as ServerFrame;
    expect(reducer(s, again).tasks).toHaveLength(1);
  });

  it("drops a domain frame replayed with a new cursor but the same seq and type", () => {
    const created = frame("task.created", task({ id: "task_1", title: "A", status: "open" }), { seq: 5 });
    let s = reducer(initialState, created);
    s = reducer(s, frame("task.deleted", { id: "task_1" }, { seq: 6 }));
    s = reducer(s, { ...created, cursor: next() } as ServerFrame);
    expect(s.tasks).toEqual([]);
  });

  it("accepts different frame types sharing one seq", () => {
    const s = run([
      frame("message.created", assistantMsg({ status: "completed" }), { seq: 6 }),
      frame("message.completed", assistantMsg({ text: "Hi there!" }), { seq: 6 }),
    ]);
    expect(s.messages).toHaveLength(1);
    expect(s.messages[0].text).toBe("Hi there!");
  });

  it("ignores domain frames already covered by the snapshot", () => {
    const s = run([
      { type: "local.snapshot", snapshot: snapshot({ seq: 10, tasks: [task({ id: "task_1", title: "A", status: "open" })] }) },
      frame("task.deleted", { id: "task_1" }, { seq: 9 }),
    ]);
    expect(s.tasks).toHaveLength(1);
  });
});

describe("tasks and state", () => {
  it("creates, updates and deletes tasks", () => {
    let s = run([
      frame("task.created", task({ id: "t1", title: "Call John", status: "open", priority: "high" }), { seq: 1 }),
      frame("task.created", task({ id: "t2", title: "Pack", status: "open" }), { seq: 2 }),
      frame("task.updated", task({ id: "t1", title: "Call John", status: "done", priority: "high" }), { seq: 3 }),
    ]);
    expect(s.tasks.map((t) => [t.id, t.status])).toEqual([
      ["t1", "done"],
      ["t2", "open"],
    ]);
    expect(s.tasks[0].priority).toBe("high");
    s = reducer(s, frame("task.deleted", { id: "t2" }, { seq: 4 }));
    expect(s.tasks.map((t) => t.id)).toEqual(["t1"]);
  });

  it("state.updated replaces only the parts it carries", () => {
    const s = run([
      { type: "local.snapshot", snapshot: snapshot({ preferences: { home_airport: "SFO" }, memories: [memory({ id: "mem_1", key: "k", value: "v" })] }) },
      frame("state.updated", { preferences: { home_airport: "BOS", seat: "aisle" } }, { seq: 5 }),
    ]);
    expect(s.preferences).toEqual({ home_airport: "BOS", seat: "aisle" });
    expect(s.memories).toHaveLength(1);
  });

  it("error frames are surfaced", () => {
    const s = reducer(initialState, frame("error", { code: "too_large", message: "Frame too large" }));
    expect(s.error).toEqual({ code: "too_large", message: "Frame too large" });
  });

  it("connection frames repeating the last cursor are not dropped", () => {
    let s = run([{ ...frame("pong", {}), cursor: "7" } as ServerFrame]);
    s = reducer(s, { type: "error", cursor: "7", ts: 1, data: { code: "bad_json", message: "bad" } } as ServerFrame);
    expect(s.error?.code).toBe("bad_json");
    s = reducer(s, { type: "rate_limited", cursor: null, ts: 1, data: { error: { code: "rate_limited", message: "slow" } } } as unknown as ServerFrame);
    expect(s.rateLimit?.message).toBe("slow");
    expect(s.lastCursor).toBe("7");
  });

  it("state.updated can carry the task list", () => {
    const s = reducer(initialState, frame("state.updated", { tasks: [task({ id: "t9", title: "Book flight", status: "open" })] }, { seq: 3 }));
    expect(s.tasks.map((t) => t.id)).toEqual(["t9"]);
  });
});

describe("resync", () => {
  it("flags a resync and resets the cursor baseline", () => {
    let s = run([{ ...frame("pong", {}), cursor: 500 } as ServerFrame]);
    s = reducer(s, { type: "resync", cursor: 3, data: {} } as ServerFrame);
    expect(s.needsResync).toBe(true);
    expect(s.lastCursor).toBe(3);
    // Frames after the resync point are accepted even though the cursor went backwards.
    s = reducer(s, { type: "task.created", cursor: 4, seq: 20, data: { id: "t", title: "x", status: "open" } } as ServerFrame);
    expect(s.tasks).toHaveLength(1);
  });

  it("the snapshot replaces server state but keeps unconfirmed and newer messages", () => {
    let s = run([
      frame("message.created", userMsg({ id: "m_old", seq: 2, client_action_id: "c-old" }), { seq: 2 }),
      { type: "local.send", text: "not yet echoed", clientActionId: "ca-new", createdAt: "t" },
      { type: "local.send", text: "echoed in snapshot", clientActionId: "ca-snap", createdAt: "t" },
      frame("message.created", userMsg({ id: "m_new", seq: 30, client_action_id: "c-30", text: "newer" }), { seq: 30 }),
      { type: "resync", cursor: next(), data: {} } as ServerFrame,
    ]);
    s = reducer(s, {
      type: "local.snapshot",
      snapshot: snapshot({
        seq: 20,
        messages: [
          userMsg({ id: "m_a", seq: 10, client_action_id: "c-a", text: "a" }),
          userMsg({ id: "m_snap", seq: 11, client_action_id: "ca-snap", text: "echoed in snapshot" }),
        ],
        tasks: [task({ id: "task_9", title: "From snapshot", status: "open" })],
      }),
    });
    expect(s.needsResync).toBe(false);
    expect(s.messages.map((m) => m.text)).toEqual(["a", "echoed in snapshot", "newer", "not yet echoed"]);
    expect(s.tasks.map((t) => t.id)).toEqual(["task_9"]);
    expect(s.snapshotSeq).toBe(20);
    expect(s.history).toEqual({ hasEarlier: true, nextBefore: "m_a" });
  });

  it("prepends history pages without duplicates", () => {
    let s = run([{ type: "local.snapshot", snapshot: snapshot({ seq: 10, messages: [userMsg({ id: "m5", seq: 5 })] }) }]);
    s = reducer(s, {
      type: "local.history",
      page: { messages: [5, 4, 3].map((n) => historyMessage({ ...userMsg({ id: `m${n}`, seq: n }) })), next_before: null },
    });
    expect(s.messages.map((m) => m.id)).toEqual(["m3", "m4", "m5"]);
    expect(s.history.hasEarlier).toBe(false);
  });
});
