// Wire objects as the server sends them, for tests: each builder takes the fields a test
// cares about and fills in the rest with the API models' defaults. The types come from the
// generated OpenAPI schema, so a changed response model shows up here too.
import type {
  Approval,
  ErrorBody,
  FlightOption,
  HistoryPage,
  Memory,
  StateMessage,
  StateSnapshot,
  Task,
} from "../src/api/types";

export const T0 = "2025-01-01T10:00:00Z";

type Needs<T, K extends keyof T> = Partial<T> & Pick<T, K>;

export function wireMessage(over: Needs<StateMessage, "id" | "role">): StateMessage {
  return {
    text: "",
    created_at: T0,
    seq: 0,
    parent_id: null,
    reply_to: null,
    channel: "chat",
    status: "completed",
    operation_id: null,
    client_action_id: null,
    tokens_prompt: 0,
    tokens_completion: 0,
    cards: [],
    branch: { index: 0, count: 1 },
    ...over,
  };
}

/** A `/history` message (no `branch`; `archived` when read from the SQL archive). */
export function historyMessage(over: Needs<StateMessage, "id" | "role">, archived = false): HistoryPage["messages"][number] {
  const { branch: _branch, ...rest } = wireMessage(over);
  return { ...rest, archived };
}

export function task(over: Needs<Task, "id">): Task {
  return {
    title: "a task",
    due: null,
    remind_at: null,
    reminded_at: null,
    duration_minutes: null,
    priority: "normal",
    status: "open",
    tags: [],
    notes: null,
    source: "api",
    created_at: null,
    updated_at: null,
    completed_at: null,
    ...over,
  };
}

export function memory(over: Needs<Memory, "id" | "key" | "value">): Memory {
  return { type: "fact", created_at: null, ...over };
}

export function approval(over: Needs<Approval, "id">): Approval {
  return {
    operation_id: "op_1",
    tool: "select_flight",
    arguments: {},
    summary: "",
    reply_to: "msg_u1",
    message_id: null,
    requested_at: null,
    expires_at: "2025-01-02T10:00:00Z",
    status: "pending",
    resolved_at: null,
    decided_by: null,
    always: false,
    ...over,
  };
}

export function flightOption(over: Needs<FlightOption, "id">): FlightOption {
  return {
    airline_code: "UA",
    airline_name: "United",
    flight_number: "UA100",
    origin_code: "SFO",
    origin_name: "San Francisco",
    destination_code: "JFK",
    destination_name: "New York JFK",
    departure_date: "2025-03-14",
    departure_time: "08:00",
    departure_at: "2025-03-14T08:00:00",
    arrival_date: "2025-03-14",
    arrival_time: "16:30",
    arrival_at: "2025-03-14T16:30:00",
    duration_minutes: 330,
    stops: 0,
    baggage: null,
    price: null,
    tax: null,
    total: 320,
    currency: "USD",
    emissions_kg: null,
    cabin_class: "economy",
    expires_at: null,
    connections: [],
    return_departure_at: null,
    return_arrival_at: null,
    ...over,
  };
}

export function flightSearch(
  over: Needs<StateSnapshot["flight_searches"][number], "search_id">,
): StateSnapshot["flight_searches"][number] {
  return {
    request: {},
    options: [],
    ranking: [],
    tool_invocation_id: null,
    created_at: null,
    selected_flight_id: null,
    ...over,
  };
}

export function snapshotOf(over: Partial<StateSnapshot> = {}): StateSnapshot {
  return {
    user_id: "alice",
    seq: 0,
    messages: [],
    active_leaf: null,
    tasks: [],
    due_reminders: [],
    approvals: [],
    preferences: {},
    memories: [],
    calendar: [],
    calendar_window: null,
    travel: [],
    flight_searches: [],
    counters: {
      events_applied: 0,
      duplicates_dropped: 0,
      invalid_dropped: 0,
      messages_total: 0,
      messages_archived: 0,
      turns: 0,
      usage: { day: "", tokens: 0, flight_searches: 0, writes: 0 },
    },
    ...over,
  };
}

export function errorBody(code: string, message: string, details: Record<string, unknown> = {}): ErrorBody {
  return { error: { code, message, details }, request_id: "req_test" };
}
