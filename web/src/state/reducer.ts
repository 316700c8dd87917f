// Pure protocol state: (state, frame | local action) -> state.
// No I/O, no clocks, no randomness: everything the reducer needs arrives in the action.

import type {
  Approval,
  Card,
  LimitWarning,
  ErrorBody,
  HistoryPage,
  Memory,
  Preferences,
  RateLimitDetails,
  Role,
  ServerFrame,
  StateMessage,
  StateSnapshot,
  Task,
  WireMessage,
} from "../api/types";

export type MessageStatus =
  | "sending" // optimistic user message, not yet echoed by the server
  | "failed" // user message the server refused (or could not be sent)
  | "sent" // user message confirmed by message.created
  | "streaming" // assistant message receiving tokens
  | "completed"
  | "interrupted"
  | "error";

export interface ToolNote {
  tool: string;
  status: "success" | "error";
  message?: string;
}

export interface ChatMessage {
  /** Stable key for rendering: survives optimistic → confirmed and streaming → completed. */
  uiId: string;
  /** Server message id once known (otherwise a local placeholder). */
  id: string;
  role: Role;
  text: string;
  createdAt: string;
  seq?: number;
  status: MessageStatus;
  clientActionId?: string;
  operationId?: string;
  /** Latest LLM attempt seen for this operation (informational). */
  attempt?: number;
  /** Highest token index applied (indices continue across the LLM calls of one operation). */
  lastIndex?: number;
  /** [token index, char offset in text] for each applied token: lets a restart drop text from an index on. */
  marks?: [number, number][];
  cards: Card[];
  /** Actions the model requested that have no tool.result yet. */
  pendingActions: string[];
  toolNotes: ToolNote[];
  tokensPrompt?: number;
  tokensCompletion?: number;
  /** Server id of the message before it on its branch (the message tree); null: a root. */
  parentId?: string | null;
  /** The assistant asked for approval in this message (it waits for the user's answer). */
  awaitingApproval?: boolean;
}

export interface RateLimitNotice {
  code: string;
  message: string;
  limitType?: string;
  limit?: number;
  /** Epoch milliseconds when the limit resets, when known. */
  retryAt: number | null;
  retryAfterSec: number | null;
  /** Bumped on every notice so the banner restarts its countdown. */
  n: number;
}

export interface ChatState {
  loaded: boolean;
  /** Every message the client knows: the branch shown and its siblings (see visibleMessages). */
  messages: ChatMessage[];
  /** Newest message of the branch the user sees (server `active_leaf`); null: one line. */
  activeLeaf: string | null;
  /** Approvals by id: pending ones from /state, answered ones as frames tell. */
  approvals: Record<string, Approval>;
  /** Reminders that fired and wait for snooze/done/dismiss (newest last). */
  reminders: Task[];
  /** Today's token budget crossed its warning threshold. */
  limitWarning: LimitWarning | null;
  tasks: Task[];
  preferences: Preferences;
  memories: Memory[];
  calendar: StateSnapshot["calendar"];
  /** Chosen flight per flight search (from /state, chat choices and the Select button). */
  flightSelections: Record<string, string>;
  /** Last realtime cursor applied (sent back in `resume`). */
  lastCursor: string | number | null;
  /** Recently seen cursors, for cursors that do not compare numerically. */
  recentCursors: string[];
  /** Domain seq covered by the last /state snapshot. */
  snapshotSeq: number;
  /** Highest domain seq applied from frames, and the frame types applied at that seq. */
  maxSeq: number;
  maxSeqTypes: string[];
  /** Assistant operation currently streaming. */
  activeOperationId: string | null;
  /** A message was sent and its answer has not started yet. */
  pendingReply: boolean;
  /** The server asked for a resync: the app must refetch /state. */
  needsResync: boolean;
  rateLimit: RateLimitNotice | null;
  error: { code: string; message: string } | null;
  history: { hasEarlier: boolean; nextBefore: string | null };
}

export type LocalAction =
  | { type: "local.snapshot"; snapshot: StateSnapshot }
  | { type: "local.history"; page: HistoryPage }
  | { type: "local.send"; text: string; clientActionId: string; createdAt: string }
  | { type: "local.send_failed"; clientActionId: string; error?: { code: string; message: string } }
  | { type: "local.retry"; clientActionId: string }
  | { type: "local.cancel" }
  | { type: "local.rate_limited"; body: ErrorBody; now: number }
  | { type: "local.error"; code: string; message: string }
  | { type: "local.dismiss"; what: Dismissable }
  | { type: "local.task_upsert"; task: Task }
  | { type: "local.task_remove"; id: string }
  | { type: "local.preferences"; preferences: Preferences }
  | { type: "local.flight_selected"; searchId: string; flightId: string }
  | { type: "local.tree"; messages: WireMessage[] }
  | { type: "local.send_started" }
  | { type: "local.activate"; messageId: string }
  | { type: "local.approval"; approval: Approval }
  | { type: "local.reminder_clear"; taskId: string }
  | { type: "local.reset" };

export type Action = ServerFrame | LocalAction;
export type Dismissable = "rateLimit" | "error" | "limitWarning";

export const initialState: ChatState = {
  loaded: false,
  messages: [],
  activeLeaf: null,
  approvals: {},
  reminders: [],
  limitWarning: null,
  tasks: [],
  preferences: {},
  memories: [],
  calendar: [],
  flightSelections: {},
  lastCursor: null,
  recentCursors: [],
  snapshotSeq: 0,
  maxSeq: 0,
  maxSeqTypes: [],
  activeOperationId: null,
  pendingReply: false,
  needsResync: false,
  rateLimit: null,
  error: null,
  history: { hasEarlier: false, nextBefore: null },
};

const RECENT_CURSORS = 256;
const CONNECTION_FRAMES: ReadonlySet<string> = new Set(["pong", "error", "rate_limited"]);
const LOCAL_STATUSES: ReadonlySet<MessageStatus> = new Set(["sending", "failed", "streaming"]);

// ---------------------------------------------------------------------------
// Cursors and seq

function parseCursor(cursor: string | number): number[] | null {
  if (typeof cursor === "number") return Number.isFinite(cursor) ? [cursor] : null;
  if (/^\d+$/.test(cursor)) return [Number(cursor)];
  const m = /^(\d+)-(\d+)$/.exec(cursor); // Redis stream ids
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** -1 / 0 / 1, or null when the two cursors cannot be ordered. */
export function compareCursors(a: string | number, b: string | number): number | null {
  const pa = parseCursor(a);
  const pb = parseCursor(b);
  if (!pa || !pb || pa.length !== pb.length) return null;
  for (let i = 0; i < pa.length; i++) {
    if (pa[i] !== pb[i]) return pa[i] < pb[i] ? -1 : 1;
  }
  return 0;
}

function isDuplicateCursor(state: ChatState, cursor: string | number): boolean {
  if (state.recentCursors.includes(String(cursor))) return true;
  if (state.lastCursor === null) return false;
  const cmp = compareCursors(cursor, state.lastCursor);
  return cmp !== null && cmp <= 0;
}

function rememberCursor(state: ChatState, cursor: string | number): ChatState {
  const recent = [...state.recentCursors, String(cursor)];
  if (recent.length > RECENT_CURSORS) recent.splice(0, recent.length - RECENT_CURSORS);
  return { ...state, lastCursor: cursor, recentCursors: recent };
}

function isDuplicateSeq(state: ChatState, seq: number, type: string): boolean {
  if (seq <= state.snapshotSeq) return true;
  if (seq < state.maxSeq) return true;
  return seq === state.maxSeq && state.maxSeqTypes.includes(type);
}

function rememberSeq(state: ChatState, seq: number, type: string): ChatState {
  if (seq > state.maxSeq) return { ...state, maxSeq: seq, maxSeqTypes: [type] };
  return { ...state, maxSeqTypes: [...state.maxSeqTypes, type] };
}

// ---------------------------------------------------------------------------
// Messages

function isLocal(m: ChatMessage): boolean {
  return LOCAL_STATUSES.has(m.status) && m.seq === undefined;
}

/** Settled messages ordered by seq (created_at as fallback), then local ones in arrival order. */
export function orderMessages(messages: ChatMessage[]): ChatMessage[] {
  const settled = messages.filter((m) => !isLocal(m));
  const local = messages.filter(isLocal);
  settled.sort((a, b) => {
    if (a.seq !== undefined && b.seq !== undefined) return a.seq - b.seq;
    return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0;
  });
  return [...settled, ...local];
}

function wireStatus(wire: WireMessage, fallback: MessageStatus): MessageStatus {
  if (wire.role === "user") return "sent";
  switch (wire.status) {
    case "completed":
    case "awaiting_approval":
    case "truncated":
      return "completed";
    case "interrupted":
      return "interrupted";
    case "failed":
    case "error":
      return "error";
    case "streaming":
    case "running":
    case "pending":
      return "streaming";
    default:
      return fallback;
  }
}

function fromWire(wire: WireMessage, status: MessageStatus): ChatMessage {
  return {
    uiId: wire.id,
    id: wire.id,
    role: wire.role,
    text: wire.text ?? "",
    createdAt: wire.created_at ?? "",
    seq: wire.seq,
    status,
    clientActionId: wire.client_action_id ?? undefined,
    operationId: wire.operation_id ?? undefined,
    cards: knownCards(wire.cards),
    pendingActions: [],
    toolNotes: [],
    tokensPrompt: wire.tokens_prompt,
    tokensCompletion: wire.tokens_completion,
    parentId: wire.parent_id,
    awaitingApproval: wire.status === "awaiting_approval" || undefined,
  };
}

function findMessage(messages: ChatMessage[], wire: WireMessage): number {
  let idx = messages.findIndex((m) => m.id === wire.id);
  if (idx < 0 && wire.client_action_id) {
    idx = messages.findIndex((m) => m.role === wire.role && m.clientActionId === wire.client_action_id);
  }
  if (idx < 0 && wire.operation_id) {
    idx = messages.findIndex((m) => m.role === "assistant" && m.operationId === wire.operation_id);
  }
  return idx;
}

function mergeCards(existing: Card[], incoming: readonly unknown[] | null | undefined): Card[] {
  const known = knownCards(incoming);
  if (known.length === 0) return existing;
  return known;
}

function snapshotSelections(searches: StateSnapshot["flight_searches"] | undefined, messages: ChatMessage[]): Record<string, string> {
  let out: Record<string, string> = {};
  for (const m of messages) out = selectionsFromCards(out, m.cards);
  for (const s of searches ?? []) {
    if (s && typeof s.search_id === "string" && typeof s.selected_flight_id === "string") {
      out[s.search_id] = s.selected_flight_id;
    }
  }
  return out;
}

function upsertWire(state: ChatState, wire: WireMessage, fallbackStatus: MessageStatus): ChatState {
  const messages = [...state.messages];
  const idx = findMessage(messages, wire);
  const status = wireStatus(wire, fallbackStatus);
  let merged: ChatMessage;
  if (idx < 0) {
    merged = fromWire(wire, status);
    messages.push(merged);
  } else {
    const prev = messages[idx];
    const final = status !== "streaming";
    merged = {
      ...prev,
      id: wire.id,
      role: wire.role,
      text: wire.text ? wire.text : prev.text,
      createdAt: wire.created_at ?? prev.createdAt,
      seq: wire.seq ?? prev.seq,
      status,
      clientActionId: wire.client_action_id ?? prev.clientActionId,
      operationId: wire.operation_id ?? prev.operationId,
      cards: mergeCards(prev.cards, wire.cards),
      pendingActions: final ? [] : prev.pendingActions,
      tokensPrompt: wire.tokens_prompt ?? prev.tokensPrompt,
      tokensCompletion: wire.tokens_completion ?? prev.tokensCompletion,
      parentId: wire.parent_id !== undefined ? wire.parent_id : prev.parentId,
      awaitingApproval: wire.status ? wire.status === "awaiting_approval" || undefined : prev.awaitingApproval,
    };
    messages[idx] = merged;
  }
  // First time the server names this message (a reply's frames may carry no seq yet).
  const isNew = idx < 0 || state.messages[idx].id !== wire.id;
  let next: ChatState = { ...state, messages: orderMessages(messages) };
  if (isNew) next = placeInTree(next, merged);
  if (merged.role === "assistant" && merged.status !== "streaming") {
    next = {
      ...next,
      pendingReply: false,
      activeOperationId:
        next.activeOperationId && next.activeOperationId === merged.operationId ? null : next.activeOperationId,
    };
    if (next.activeOperationId && !next.messages.some((m) => m.status === "streaming")) {
      next = { ...next, activeOperationId: null };
    }
  }
  return next;
}

/** Index of the assistant message for `operationId`, creating a streaming placeholder if needed. */
function ensureOperationMessage(
  state: ChatState,
  operationId: string,
  ts: string | number | undefined,
): { messages: ChatMessage[]; idx: number } {
  const messages = [...state.messages];
  let idx = messages.findIndex((m) => m.role === "assistant" && m.operationId === operationId);
  if (idx < 0) {
    const localId = `op:${operationId}`;
    messages.push({
      uiId: localId,
      id: localId,
      role: "assistant",
      text: "",
      createdAt: ts === undefined ? "" : String(ts),
      status: "streaming",
      operationId,
      attempt: 1,
      lastIndex: -1,
      marks: [],
      cards: [],
      pendingActions: [],
      toolNotes: [],
    });
    idx = messages.length - 1;
  }
  return { messages, idx };
}

function streaming(state: ChatState, operationId: string): ChatState {
  return { ...state, activeOperationId: operationId, pendingReply: false };
}

export function cardKey(card: Card): string {
  switch (card.type) {
    case "flights":
      return `flights:${card.search_id}`;
    case "task":
      return `task:${card.task?.id}`;
    case "flight_selected":
      return `flight_selected:${card.search_id}`;
    case "approval":
      return `approval:${card.approval_id}`;
    default:
      return `${String((card as { type?: unknown }).type)}:${JSON.stringify(card).length}`;
  }
}

/** Cards the UI knows how to show; anything else (or malformed) is dropped, never fatal.
 * Messages carry their cards as untyped objects (the API's schema has no card models). */
export function knownCards(cards: readonly unknown[] | null | undefined): Card[] {
  return (cards ?? []).filter(isKnownCard);
}

function isKnownCard(card: unknown): card is Card {
  if (!card || typeof card !== "object") return false;
  const c = card as Partial<Record<string, unknown>> & { task?: { id?: unknown } | null };
  if (c.type === "flights") return typeof c.search_id === "string";
  if (c.type === "task") return !!c.task && typeof c.task.id === "string";
  if (c.type === "flight_selected") return typeof c.search_id === "string" && !!c.flight;
  if (c.type === "approval") return typeof c.approval_id === "string";
  return false;
}

function selectionsFromCards(selections: Record<string, string>, cards: Card[]): Record<string, string> {
  let out = selections;
  for (const c of cards) {
    if (c.type === "flight_selected" && c.flight?.id && out[c.search_id] !== c.flight.id) {
      out = { ...out, [c.search_id]: c.flight.id };
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Rate limits

function rateLimitNotice(body: ErrorBody, nowMs: number | null, prev: RateLimitNotice | null): RateLimitNotice {
  const details = (body?.error?.details ?? {}) as RateLimitDetails;
  let retryAt: number | null = null;
  if (typeof details.reset_at === "number") {
    retryAt = details.reset_at < 1e12 ? details.reset_at * 1000 : details.reset_at;
  } else if (typeof details.reset_at === "string") {
    const parsed = Date.parse(details.reset_at);
    retryAt = Number.isNaN(parsed) ? null : parsed;
  }
  const retryAfterSec = typeof details.retry_after === "number" ? details.retry_after : null;
  if (retryAt === null && retryAfterSec !== null && nowMs !== null) retryAt = nowMs + retryAfterSec * 1000;
  return {
    code: body?.error?.code ?? "rate_limited",
    message: body?.error?.message ?? "Rate limit reached",
    limitType: details.limit_type,
    limit: typeof details.limit === "number" ? details.limit : undefined,
    retryAt,
    retryAfterSec,
    n: (prev?.n ?? 0) + 1,
  };
}

function failSending(messages: ChatMessage[]): ChatMessage[] {
  return messages.some((m) => m.status === "sending")
    ? messages.map((m) => (m.status === "sending" ? { ...m, status: "failed" as const } : m))
    : messages;
}

// ---------------------------------------------------------------------------
// Tasks

function upsertTask(tasks: Task[], task: Task): Task[] {
  const idx = tasks.findIndex((t) => t.id === task.id);
  if (idx < 0) return [...tasks, task];
  const next = [...tasks];
  next[idx] = { ...next[idx], ...task };
  return next;
}

/** Open tasks first, then by due time (earliest first; no due time last), then title. */
export function sortTasks(tasks: Task[]): Task[] {
  const done = (t: Task) => t.status === "done";
  const due = (t: Task) => {
    const at = t.due ? Date.parse(t.due) : NaN;
    return Number.isNaN(at) ? Infinity : at;
  };
  return [...tasks].sort(
    (a, b) => Number(done(a)) - Number(done(b)) || due(a) - due(b) || a.title.localeCompare(b.title),
  );
}

function upsertReminder(reminders: Task[], task: Task): Task[] {
  return [...reminders.filter((t) => t.id !== task.id), task];
}

/** A reminder leaves the list once its task is done, re-armed (snoozed) or cleared. */
function stillDue(reminders: Task[], task: Task): Task[] {
  const at = reminders.findIndex((t) => t.id === task.id);
  if (at < 0) return reminders;
  const keep = task.status === "open" && !!task.remind_at && !!task.reminded_at;
  if (keep) {
    const next = [...reminders];
    next[at] = { ...next[at], ...task };
    return next;
  }
  return reminders.filter((t) => t.id !== task.id);
}

// ---------------------------------------------------------------------------
// Message tree (regenerate, edit): the server keeps every branch and the active leaf; the
// client mirrors what the brain's reducer does when a message is recorded.

/** Named by the server (not an optimistic send or a stream's placeholder). */
function fromServer(m: ChatMessage): boolean {
  return !m.id.startsWith("local:") && !m.id.startsWith("op:");
}

function pathTo(messages: ChatMessage[], leafId: string | null): ChatMessage[] | null {
  if (!leafId) return null;
  const byId = new Map(messages.filter(fromServer).map((m) => [m.id, m]));
  let current = byId.get(leafId);
  if (!current) return null;
  const path: ChatMessage[] = [];
  const seen = new Set<string>();
  while (current && !seen.has(current.id)) {
    seen.add(current.id);
    path.push(current);
    current = current.parentId ? byId.get(current.parentId) : undefined;
  }
  return path.reverse();
}

/** What the user sees: the active branch (oldest first), then unconfirmed sends and streams. */
export function visibleMessages(state: Pick<ChatState, "messages" | "activeLeaf">): ChatMessage[] {
  const path = pathTo(state.messages, state.activeLeaf);
  if (!path) return orderMessages(state.messages);
  const onPath = new Set(path.map((m) => m.id));
  return [...path, ...state.messages.filter((m) => isLocal(m) && !onPath.has(m.id))];
}

/** A just-recorded message joins the tree as the server's reducer puts it there. */
function placeInTree(state: ChatState, msg: ChatMessage): ChatState {
  if (msg.parentId === undefined) return state; // a server without the tree: one line
  if (msg.role === "user") return { ...state, activeLeaf: msg.id };
  const anchor = msg.parentId;
  const path = pathTo(state.messages, state.activeLeaf);
  if (!path || anchor === null) return state.activeLeaf === null ? { ...state, activeLeaf: msg.id } : state;
  const at = path.findIndex((m) => m.id === anchor);
  if (at < 0) return state; // the user moved to another branch meanwhile: out of sight
  // Messages sent while the reply was written now follow it.
  if (path.some((m) => m.id === msg.id)) return state; // already in place
  const follower = path[at + 1];
  const messages = follower
    ? state.messages.map((m) => (m.id === follower.id ? { ...m, parentId: msg.id } : m))
    : state.messages;
  return { ...state, messages, activeLeaf: state.activeLeaf === anchor ? msg.id : state.activeLeaf };
}

/** Whether the branch shown has siblings the client has not loaded (after a reload). */
export function missingSiblings(snapshot: { messages?: StateMessage[] }, known: ChatMessage[]): boolean {
  const counts = new Map<string, number>();
  for (const m of known) {
    if (m.parentId === undefined || !fromServer(m)) continue;
    const key = `${m.parentId}|${m.role}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return (snapshot.messages ?? []).some(
    (w) => (w.branch?.count ?? 1) > (counts.get(`${w.parent_id ?? null}|${w.role}`) ?? 1),
  );
}

// ---------------------------------------------------------------------------
// Reducer

export function reducer(state: ChatState, action: Action): ChatState {
  if (action.type.startsWith("local.")) return reduceLocal(state, action as LocalAction);
  return reduceFrame(state, action as ServerFrame);
}

export function reduceFrame(state: ChatState, frame: ServerFrame): ChatState {
  if (frame.type === "resync") {
    // The server no longer has our position: everything after the snapshot restarts here.
    return {
      ...state,
      needsResync: true,
      lastCursor: frame.cursor ?? null,
      recentCursors: frame.cursor === undefined ? [] : [String(frame.cursor)],
    };
  }

  if (CONNECTION_FRAMES.has(frame.type)) {
    // pong/error/rate_limited answer this connection and repeat the last cursor: never dedup them.
    if (frame.cursor !== undefined && frame.cursor !== null && !isDuplicateCursor(state, frame.cursor)) {
      state = rememberCursor(state, frame.cursor);
    }
  } else if (frame.cursor !== undefined && frame.cursor !== null) {
    if (isDuplicateCursor(state, frame.cursor)) return state;
    state = rememberCursor(state, frame.cursor);
  }
  if (typeof frame.seq === "number") {
    if (isDuplicateSeq(state, frame.seq, frame.type)) return state;
    state = rememberSeq(state, frame.seq, frame.type);
  }

  switch (frame.type) {
    case "message.created": {
      const wire = frame.data;
      if (wire.role === "user") return upsertWire(state, wire, "sent");
      // Without a final status, an assistant message is still streaming only if we are streaming it.
      const idx = findMessage(state.messages, wire);
      const stillStreaming = idx >= 0 && state.messages[idx].status === "streaming";
      return upsertWire(state, wire, stillStreaming ? "streaming" : "completed");
    }

    case "llm.token": {
      const { operation_id: op, text, index, attempt, first_index: firstIndex } = frame.data;
      const { messages, idx } = ensureOperationMessage(state, op, frame.ts);
      const msg = messages[idx];
      if (msg.status !== "streaming") return state; // late token after completion/interruption
      const lastIndex = msg.lastIndex ?? -1;
      if (typeof index === "number" && index <= lastIndex) return state; // replayed token
      const at = typeof index === "number" ? index : lastIndex + 1;
      // A run of tokens marks where its first one starts (a restart cuts at a token's start).
      const from = typeof firstIndex === "number" ? firstIndex : at;
      messages[idx] = {
        ...msg,
        text: msg.text + (text ?? ""),
        attempt: Math.max(msg.attempt ?? 1, attempt ?? 1),
        lastIndex: at,
        marks: [...(msg.marks ?? []), [from, msg.text.length]],
      };
      return streaming({ ...state, messages }, op);
    }

    case "llm.restarted": {
      // The LLM call is retried: drop what it streamed (from `from_index` on; all of it when absent).
      const { operation_id: op, attempt, from_index: fromIndex } = frame.data;
      const { messages, idx } = ensureOperationMessage(state, op, frame.ts);
      const msg = messages[idx];
      if (msg.status !== "streaming") return state;
      const from = typeof fromIndex === "number" ? fromIndex : 0;
      const marks = msg.marks ?? [];
      const cut = marks.findIndex(([i]) => i >= from);
      const keep = cut < 0 ? marks : marks.slice(0, cut);
      const textEnd = cut < 0 ? (typeof fromIndex === "number" ? msg.text.length : 0) : marks[cut][1];
      messages[idx] = {
        ...msg,
        text: msg.text.slice(0, textEnd),
        attempt: attempt ?? (msg.attempt ?? 1) + 1,
        lastIndex: from - 1,
        marks: typeof fromIndex === "number" ? keep : [],
      };
      return streaming({ ...state, messages }, op);
    }

    case "llm.action": {
      const { operation_id: op, name } = frame.data;
      const { messages, idx } = ensureOperationMessage(state, op, frame.ts);
      const msg = messages[idx];
      if (msg.status !== "streaming") return state;
      messages[idx] = { ...msg, pendingActions: [...msg.pendingActions, name] };
      return streaming({ ...state, messages }, op);
    }

    case "tool.result": {
      const { operation_id: op, tool, status, card } = frame.data;
      const { messages, idx } = ensureOperationMessage(state, op, frame.ts);
      const msg = messages[idx];
      const pending = [...msg.pendingActions];
      const at = pending.indexOf(tool);
      pending.splice(at >= 0 ? at : 0, pending.length ? 1 : 0);
      const incoming = knownCards(card ? [card] : []);
      const cards = incoming.length
        ? [...msg.cards.filter((c) => cardKey(c) !== cardKey(incoming[0])), incoming[0]]
        : msg.cards;
      const flightSelections = selectionsFromCards(state.flightSelections, incoming);
      const toolNotes =
        status === "error"
          ? [...msg.toolNotes, { tool, status, message: frame.data.summary ?? frame.data.message ?? undefined }]
          : msg.toolNotes;
      messages[idx] = { ...msg, pendingActions: pending, cards, toolNotes };
      const next = { ...state, messages, flightSelections };
      return msg.status === "streaming" ? streaming(next, op) : next;
    }

    case "message.completed":
      return upsertWire(state, frame.data, "completed");

    case "llm.interrupted":
      return upsertWire(state, { ...frame.data, status: frame.data.status ?? "interrupted" }, "interrupted");

    case "task.created":
    case "task.updated":
      return {
        ...state,
        tasks: upsertTask(state.tasks, frame.data),
        reminders: stillDue(state.reminders, frame.data),
      };

    case "task.deleted":
      return {
        ...state,
        tasks: state.tasks.filter((t) => t.id !== frame.data.id),
        reminders: state.reminders.filter((t) => t.id !== frame.data.id),
      };

    case "state.updated": {
      const { preferences, memories, calendar, tasks, active_leaf: leaf } = frame.data;
      const next = {
        ...state,
        tasks: tasks ?? state.tasks,
        preferences: preferences ?? state.preferences,
        memories: memories ?? state.memories,
        calendar: calendar ?? state.calendar,
      };
      if (typeof leaf !== "string") return next;
      // Another branch is shown (regenerate, a branch picker here or in another tab): a leaf
      // the client does not hold yet comes with a fresh snapshot.
      const known = state.messages.some((m) => m.id === leaf && fromServer(m));
      return { ...next, activeLeaf: leaf, needsResync: next.needsResync || !known };
    }

    case "approval.requested":
    case "approval.resolved": {
      const a = frame.data;
      const id = a.approval_id ?? a.id;
      if (typeof id !== "string") return state;
      return { ...state, approvals: { ...state.approvals, [id]: { ...state.approvals[id], ...a, id } } };
    }

    case "reminder.due":
      return {
        ...state,
        tasks: upsertTask(state.tasks, frame.data),
        reminders: upsertReminder(state.reminders, frame.data),
      };

    case "limit.warning":
      return { ...state, limitWarning: frame.data };

    case "busy": {
      const cid = frame.data?.client_action_id;
      return {
        ...state,
        pendingReply: false,
        error: { code: "busy", message: frame.data?.message ?? "Still answering your previous message." },
        messages: state.messages.map((m) =>
          m.role === "user" && m.clientActionId === cid && m.status === "sending" ? { ...m, status: "failed" as const } : m,
        ),
      };
    }

    case "rate_limited":
      return {
        ...state,
        // Relative retry_after is counted from when the UI shows it (no clock skew).
        rateLimit: rateLimitNotice(frame.data, null, state.rateLimit),
        pendingReply: false,
        messages: failSending(state.messages),
      };

    case "error":
      return {
        ...state,
        error: { code: frame.data?.code ?? "error", message: frame.data?.message ?? "Request refused" },
        pendingReply: false,
        messages: failSending(state.messages),
      };

    case "pong":
    default:
      return state;
  }
}

function reduceLocal(state: ChatState, action: LocalAction): ChatState {
  switch (action.type) {
    case "local.snapshot": {
      const snap = action.snapshot;
      const server = (snap.messages ?? []).map((w) => fromWire(w, wireStatus(w, "completed")));
      const serverIds = new Set(server.map((m) => m.id));
      const serverActions = new Set(server.map((m) => m.clientActionId).filter(Boolean));
      const serverOps = new Set(server.map((m) => m.operationId).filter(Boolean));
      // Keep what the snapshot cannot know yet: unconfirmed sends, running streams, newer frames.
      const tree = snap.active_leaf !== undefined && snap.active_leaf !== null;
      const kept = state.messages.filter((m) => {
        if (serverIds.has(m.id)) return false;
        if (m.clientActionId && serverActions.has(m.clientActionId)) return false;
        if (m.operationId && serverOps.has(m.operationId)) return false;
        if (isLocal(m)) return true;
        if (m.seq !== undefined && m.seq > snap.seq) return true;
        // Siblings off the branch shown stay known (the branch picker pages to them).
        return tree && m.parentId !== undefined;
      });
      const messages = orderMessages([...server, ...kept]);
      const oldest = server.length ? server[0].id : null;
      const streamingLeft = messages.some((m) => m.status === "streaming");
      return {
        ...state,
        loaded: true,
        needsResync: false,
        messages,
        tasks: snap.tasks ?? [],
        flightSelections: snapshotSelections(snap.flight_searches, server),
        preferences: snap.preferences ?? {},
        memories: snap.memories ?? [],
        calendar: snap.calendar ?? [],
        activeLeaf: snap.active_leaf ?? null,
        approvals: {
          ...Object.fromEntries(Object.entries(state.approvals).filter(([, a]) => a.status !== "pending")),
          ...Object.fromEntries((snap.approvals ?? []).map((a) => [a.id, a])),
        },
        reminders: snap.due_reminders ?? state.reminders,
        snapshotSeq: snap.seq ?? 0,
        maxSeq: Math.max(state.maxSeq, snap.seq ?? 0),
        maxSeqTypes: (snap.seq ?? 0) >= state.maxSeq ? [] : state.maxSeqTypes,
        activeOperationId: streamingLeft ? state.activeOperationId : null,
        history: { hasEarlier: oldest !== null, nextBefore: oldest },
      };
    }

    case "local.history": {
      const known = new Set(state.messages.map((m) => m.id));
      const older = [...action.page.messages]
        .reverse()
        .filter((w) => !known.has(w.id))
        .map((w) => fromWire(w, wireStatus(w, "completed")));
      return {
        ...state,
        messages: [...older, ...state.messages],
        history: { hasEarlier: action.page.next_before !== null, nextBefore: action.page.next_before },
      };
    }

    case "local.send": {
      const localId = `local:${action.clientActionId}`;
      const message: ChatMessage = {
        uiId: localId,
        id: localId,
        role: "user",
        text: action.text,
        createdAt: action.createdAt,
        status: "sending",
        clientActionId: action.clientActionId,
        cards: [],
        pendingActions: [],
        toolNotes: [],
      };
      return { ...state, messages: [...state.messages, message], pendingReply: true, rateLimit: null, error: null };
    }

    case "local.send_failed":
      return {
        ...state,
        pendingReply: false,
        error: action.error ?? state.error,
        messages: state.messages.map((m) =>
          m.clientActionId === action.clientActionId && m.status === "sending" ? { ...m, status: "failed" } : m,
        ),
      };

    case "local.retry":
      return {
        ...state,
        pendingReply: true,
        messages: state.messages.map((m) =>
          m.clientActionId === action.clientActionId && m.status === "failed" ? { ...m, status: "sending" } : m,
        ),
      };

    case "local.cancel":
      return { ...state, pendingReply: false };

    case "local.send_started":
      // A regenerate or edit was accepted: its answer is on the way.
      return { ...state, pendingReply: true, error: null, rateLimit: null };

    case "local.rate_limited":
      return {
        ...state,
        rateLimit: rateLimitNotice(action.body, action.now, state.rateLimit),
        pendingReply: false,
      };

    case "local.error":
      return { ...state, error: { code: action.code, message: action.message } };

    case "local.dismiss":
      return { ...state, [action.what]: null };

    case "local.task_upsert":
      return {
        ...state,
        tasks: upsertTask(state.tasks, action.task),
        reminders: stillDue(state.reminders, action.task),
      };

    case "local.tree": {
      // Siblings from /history: known, shown only when the user pages to them.
      const known = new Set(state.messages.map((m) => m.id));
      const more = action.messages
        .filter((w) => !known.has(w.id) && w.parent_id !== undefined)
        .map((w) => fromWire(w, wireStatus(w, "completed")));
      return more.length ? { ...state, messages: [...state.messages, ...more] } : state;
    }

    case "local.activate":
      return state.messages.some((m) => m.id === action.messageId && fromServer(m))
        ? { ...state, activeLeaf: action.messageId }
        : state;

    case "local.approval":
      return {
        ...state,
        approvals: { ...state.approvals, [action.approval.id]: { ...state.approvals[action.approval.id], ...action.approval } },
      };

    case "local.reminder_clear":
      return { ...state, reminders: state.reminders.filter((t) => t.id !== action.taskId) };

    case "local.task_remove":
      return {
        ...state,
        tasks: state.tasks.filter((t) => t.id !== action.id),
        reminders: state.reminders.filter((t) => t.id !== action.id),
      };

    case "local.preferences":
      return { ...state, preferences: { ...state.preferences, ...action.preferences } };

    case "local.flight_selected":
      return { ...state, flightSelections: { ...state.flightSelections, [action.searchId]: action.flightId } };

    case "local.reset":
      return initialState;
  }
}

/** True while the assistant is working on an answer (drives the Stop button). */
export function isRunning(state: ChatState): boolean {
  return state.pendingReply || state.messages.some((m) => m.status === "streaming");
}
