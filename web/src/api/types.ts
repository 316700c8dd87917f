// Wire types shared with the backend (see /work/shared/spec/events-and-api.md).
// Field names are snake_case on the wire and kept as-is here.
//
// REST answers are the API's own models, generated from its OpenAPI schema into schema.d.ts
// (scripts/openapi-types; scripts/check fails when that file is stale), so a changed
// response model breaks tsc here. WebSocket frames are no HTTP answers: the schema has the
// server's `Frame` model (its type names; `data` is untyped there), so the frame union
// below is written here, its type names checked against the server's, and its data reuses
// the REST models where the server sends the same ones (a task frame carries the task
// /state lists, a message frame the message). Chat cards travel as untyped dicts in
// messages and frames: written here, and checked at runtime before use (knownCards).

import type { components } from "./schema";

type Schemas = components["schemas"];

export type FlightOption = Schemas["FlightOption"];
export type FlightRanking = Schemas["RankedFlight"];
export type Task = Schemas["Task"];
export type Memory = Schemas["Memory"];
export type Preferences = Schemas["PreferencesView"]["preferences"];
export type StateSnapshot = Schemas["StateSnapshot"];
export type HistoryPage = Schemas["HistoryPage"];
export type ErrorBody = Schemas["ErrorBody"];
export type RateLimitDetails = Schemas["RateLimitDetails"];

/** A message of the active branch as `/state` and the message frames carry it. */
export type StateMessage = Schemas["StateMessage"];
/** A message as `/state`, the message frames (with `branch`) or `/history` (`archived`) carry it. */
export type WireMessage = StateMessage | Schemas["HistoryMessage"];
export type Role = WireMessage["role"];

/** An approval as `GET /state` (`approvals`, pending ones) lists it; the approval frames add
 * `approval_id` and, once answered, `decision`. */
export type Approval = Schemas["Approval"] & { approval_id?: string; decision?: "approve" | "reject" | string };
export type ApprovalStatus = Approval["status"];

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

/** The 80 % budget warning (`limit.warning`). */
export interface LimitWarning {
  limit_type: string;
  limit: number;
  current: number;
  ratio: number;
  message: string;
}

/** The frame types the server sends (its `Frame` model, exported into the schema). */
export type FrameType = Schemas["Frame"]["type"];

interface FrameBase<T extends FrameType, D> {
  type: T;
  cursor?: string | number;
  seq?: number;
  ts?: string | number;
  request_id?: string;
  operation_id?: string;
  data: D;
}

export type ServerFrame =
  | FrameBase<"message.created", StateMessage>
  // One token, or a run of consecutive ones (first_index…index, count) when they came faster
  // than a display frame or the client lagged.
  | FrameBase<
      "llm.token",
      {
        operation_id: string;
        attempt: number;
        index: number;
        text: string;
        first_index?: number;
        count?: number;
      }
    >
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
  | FrameBase<"message.completed", StateMessage>
  | FrameBase<"llm.interrupted", StateMessage>
  | FrameBase<"task.created", Task>
  | FrameBase<"task.updated", Task>
  | FrameBase<"task.deleted", Partial<Task> & { id: string }>
  | FrameBase<
      "state.updated",
      Partial<Pick<StateSnapshot, "preferences" | "memories" | "calendar" | "tasks" | "travel" | "active_leaf">>
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
