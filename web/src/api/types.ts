// Wire types shared with the backend (see /work/shared/spec/events-and-api.md).
// Field names are snake_case on the wire and kept as-is here.

export type Role = "user" | "assistant";

export interface FlightOption {
  id: string;
  airline_name: string;
  airline_code: string;
  flight_number: string;
  origin_code: string;
  destination_code: string;
  departure_date: string;
  departure_time: string;
  arrival_time: string;
  duration_minutes: number;
  stops: number;
  total: string | number;
  currency: string;
  cabin_class: string;
}

export interface FlightRanking {
  flight_id: string;
  rank: number;
  score: number;
  reasoning: string;
}

export interface Task {
  id: string;
  title: string;
  due?: string | null;
  priority?: string | number | null;
  status: string;
  tags?: string[];
  source?: string;
  remind_at?: string | null;
  reminded_at?: string | null;
}

export interface FlightsCard {
  type: "flights";
  search_id: string;
  options: FlightOption[];
  ranking: FlightRanking[];
}

export interface TaskCard {
  type: "task";
  task: Task;
}

/** A flight chosen in chat ("book the first one"): the choice and its follow-up tasks. */
export interface FlightSelectedCard {
  type: "flight_selected";
  search_id: string;
  flight: FlightOption;
  tasks?: Task[];
}

/** The assistant asks before a tool with side effects runs (booking, deleting, calendar). */
export interface ApprovalCard {
  type: "approval";
  approval_id: string;
  tool: string;
  arguments?: Record<string, unknown>;
  summary: string;
}

export type Card = FlightsCard | TaskCard | FlightSelectedCard | ApprovalCard;

/** Card types the UI renders; others (from a newer server) are dropped, never fatal. */
export const KNOWN_CARD_TYPES: ReadonlySet<string> = new Set(["flights", "task", "flight_selected", "approval"]);

export type ApprovalStatus = "pending" | "approved" | "rejected" | "expired";

/** An approval as `GET /state` (`approvals`, pending ones) and the approval frames show it. */
export interface Approval {
  id: string;
  approval_id?: string;
  operation_id?: string;
  tool: string;
  arguments?: Record<string, unknown>;
  summary: string;
  status: ApprovalStatus;
  expires_at?: string;
  decided_by?: string | null;
  always?: boolean;
  decision?: "approve" | "reject" | string;
}

/** The 80 % budget warning (`limit.warning`). */
export interface LimitWarning {
  limit_type: string;
  limit: number;
  current: number;
  ratio: number;
  message: string;
}

export interface WireMessage {
  id: string;
  role: Role;
  text: string;
  created_at: string;
  seq?: number;
  status?: string;
  client_action_id?: string | null;
  operation_id?: string | null;
  tokens_prompt?: number;
  tokens_completion?: number;
  cards?: Card[] | null;
  /** The message before it on its branch (the message tree). */
  parent_id?: string | null;
  reply_to?: string | null;
  /** Position among its siblings (regenerated replies, edited messages). */
  branch?: { index: number; count: number };
  archived?: boolean;
}

export interface Memory {
  id: string;
  type: string;
  key: string;
  value: unknown;
}

export type Preferences = Record<string, unknown>;

export interface StateSnapshot {
  user_id: string;
  seq: number;
  messages: WireMessage[];
  tasks: Task[];
  preferences: Preferences;
  memories: Memory[];
  calendar: unknown[];
  travel: unknown[];
  flight_searches: { search_id?: string; selected_flight_id?: string | null }[];
  active_leaf?: string | null;
  due_reminders?: Task[];
  approvals?: Approval[];
}

export interface HistoryPage {
  messages: WireMessage[];
  next_before: string | null;
}

export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> | null };
  request_id?: string;
}

export interface RateLimitDetails {
  limit_type?: string;
  limit?: number;
  current?: number;
  reset_at?: number | string;
  retry_after?: number;
}

interface FrameBase<T extends string, D> {
  type: T;
  cursor?: string | number;
  seq?: number;
  ts?: string | number;
  request_id?: string;
  operation_id?: string;
  data: D;
}

export type ServerFrame =
  | FrameBase<"message.created", WireMessage>
  | FrameBase<"llm.token", { operation_id: string; attempt: number; index: number; text: string }>
  | FrameBase<"llm.restarted", { operation_id: string; attempt: number; from_index?: number }>
  | FrameBase<"llm.action", { operation_id: string; name: string; arguments?: unknown }>
  | FrameBase<
      "tool.result",
      {
        operation_id: string;
        tool: string;
        status: "success" | "error";
        card?: Card | null;
        summary?: string | null;
        message?: string;
      }
    >
  | FrameBase<"message.completed", WireMessage>
  | FrameBase<"llm.interrupted", WireMessage>
  | FrameBase<"task.created", Task>
  | FrameBase<"task.updated", Task>
  | FrameBase<"task.deleted", Partial<Task> & { id: string }>
  | FrameBase<
      "state.updated",
      {
        preferences?: Preferences;
        memories?: Memory[];
        calendar?: unknown[];
        tasks?: Task[];
        travel?: unknown[];
        active_leaf?: string | null;
      }
    >
  | FrameBase<"reminder.due", Task>
  | FrameBase<"approval.requested", Approval>
  | FrameBase<"approval.resolved", Approval>
  | FrameBase<"limit.warning", LimitWarning>
  | FrameBase<"busy", { client_action_id?: string | null; message: string }>
  | FrameBase<"rate_limited", ErrorBody>
  | FrameBase<"error", { code: string; message: string }>
  | FrameBase<"resync", Record<string, never>>
  | FrameBase<"pong", unknown>;

export type ClientFrame =
  | { type: "message.send"; text: string; client_action_id: string }
  | { type: "generation.cancel" }
  | { type: "resume"; cursor: string | number }
  | { type: "ping" };
