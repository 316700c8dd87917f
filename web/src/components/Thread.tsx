import {
  ActionBarPrimitive,
  AuiIf,
  BranchPickerPrimitive,
  ComposerPrimitive,
  MessagePrimitive,
  ThreadPrimitive,
  useAuiState,
} from "@assistant-ui/react";
import { useState } from "react";
import { useChatController } from "../context";
import { customOf, type MessageCustom } from "../state/convert";
import { ApprovalCardPart } from "./ApprovalCard";
import { FlightCardPart, FlightSelectedCardPart } from "./FlightCard";
import { TaskCardPart } from "./TaskCard";
import { TextPart } from "./TextPart";

const PART_COMPONENTS = {
  Text: TextPart,
  data: {
    by_name: {
      flights: FlightCardPart,
      task: TaskCardPart,
      flight_selected: FlightSelectedCardPart,
      approval: ApprovalCardPart,
    },
  },
};

const ACTION_LABELS: Record<string, string> = {
  search_flights: "Searching flights",
  create_task: "Creating a task",
  update_task: "Updating a task",
  set_preference: "Saving a preference",
  pin_memory: "Pinning a memory",
};

/** Our store's view of the message being rendered (looked up by its id: the store is the
 * source of truth; the runtime's copy of `metadata` can lag one update behind). */
function useCustom(): MessageCustom | undefined {
  const chat = useChatController();
  const uiId = useAuiState((s) => s.message.id);
  const fallback = useAuiState((s) => s.message.metadata?.custom) as unknown as MessageCustom | undefined;
  const m = chat.state.messages.find((x) => x.uiId === uiId);
  return m ? customOf(m) : Object.keys(fallback ?? {}).length ? fallback : undefined;
}

/** assistant-ui's branch picker over the server's message tree (siblings: regenerated
 * replies, edited messages); paging asks the server to show that branch. */
function BranchPicker() {
  return (
    <BranchPickerPrimitive.Root hideWhenSingleBranch className="branch-picker" data-testid="branch-picker">
      <BranchPickerPrimitive.Previous className="icon-btn" aria-label="Previous version" data-testid="branch-previous">
        ‹
      </BranchPickerPrimitive.Previous>
      <span className="branch-count" data-testid="branch-count">
        <BranchPickerPrimitive.Number /> / <BranchPickerPrimitive.Count />
      </span>
      <BranchPickerPrimitive.Next className="icon-btn" aria-label="Next version" data-testid="branch-next">
        ›
      </BranchPickerPrimitive.Next>
    </BranchPickerPrimitive.Root>
  );
}

function UserEditComposer() {
  return (
    <ComposerPrimitive.Root className="msg user editing" data-testid="edit-composer">
      <div className="edit-box">
        <ComposerPrimitive.Input className="edit-input" aria-label="Edit message" data-testid="edit-input" submitMode="enter" autoFocus />
        <div className="edit-actions">
          <ComposerPrimitive.Cancel className="btn small ghost" data-testid="edit-cancel">
            Cancel
          </ComposerPrimitive.Cancel>
          <ComposerPrimitive.Send className="btn small primary" data-testid="edit-send">
            Send
          </ComposerPrimitive.Send>
        </div>
      </div>
    </ComposerPrimitive.Root>
  );
}

function UserMessage() {
  const chat = useChatController();
  const custom = useCustom();
  const status = custom?.status ?? "sent";
  return (
    <MessagePrimitive.Root
      className={`msg user ${status}`}
      data-testid="message-user"
      data-status={status}
      data-server-id={custom?.serverId}
    >
      <div className="bubble">
        <MessagePrimitive.Parts components={PART_COMPONENTS} />
      </div>
      {status === "sent" && (
        <div className="msg-tools">
          <BranchPicker />
          <ActionBarPrimitive.Root hideWhenRunning autohide="never" className="action-bar">
            <ActionBarPrimitive.Edit className="link-btn" data-testid="message-edit" aria-label="Edit message">
              Edit
            </ActionBarPrimitive.Edit>
          </ActionBarPrimitive.Root>
        </div>
      )}
      {status === "sending" && <div className="msg-meta">Sending…</div>}
      {status === "failed" && (
        <div className="msg-meta error">
          Not sent.{" "}
          {custom?.clientActionId && (
            <button type="button" className="link-btn" onClick={() => chat.retry(custom.clientActionId!)}>
              Retry
            </button>
          )}
        </div>
      )}
    </MessagePrimitive.Root>
  );
}

function AssistantMessage() {
  const custom = useCustom();
  const isEmpty = useAuiState((s) => s.message.parts.length === 0);
  // The runtime shows its own placeholder while a reply is expected but nothing streamed yet.
  const placeholder = custom === undefined;
  const status = custom?.status ?? "streaming";
  const pending = custom?.pendingActions ?? [];
  // A failed tool is shown once: as a note until the reply's own text explains it.
  const hasText = useAuiState((s) => s.message.parts.some((p) => p.type === "text" && !!p.text.trim()));
  const failedTools = hasText ? [] : (custom?.toolNotes ?? []).filter((n) => n.status === "error");
  const settled = status === "completed" || status === "interrupted" || status === "error";
  return (
    <MessagePrimitive.Root
      className={`msg assistant ${status}`}
      data-testid={placeholder ? "message-assistant-pending" : "message-assistant"}
      data-status={status}
      data-server-id={custom?.serverId}
      aria-busy={status === "streaming"}
    >
      <div className="bubble">
        <MessagePrimitive.Parts components={PART_COMPONENTS} />
        {status === "streaming" && isEmpty && pending.length === 0 && (
          <div className="typing" aria-label="Assistant is typing">
            <span />
            <span />
            <span />
          </div>
        )}
        {pending.map((name, i) => (
          <div key={`${name}-${i}`} className="tool-pending" data-testid="tool-pending">
            {ACTION_LABELS[name] ?? `Running ${name}`}…
          </div>
        ))}
        {failedTools.map((n, i) => (
          <div key={`${n.tool}-${i}`} className="tool-error" role="note">
            {n.tool} failed{n.message ? `: ${n.message}` : ""}
          </div>
        ))}
        {status === "interrupted" && <div className="msg-meta">Stopped</div>}
        {status === "error" && <div className="msg-meta error">Something went wrong with this answer.</div>}
      </div>
      {settled && !placeholder && (
        <div className="msg-tools">
          <BranchPicker />
          {!custom?.awaitingApproval && (
            <ActionBarPrimitive.Root hideWhenRunning autohide="never" className="action-bar">
              <ActionBarPrimitive.Reload className="link-btn" data-testid="message-regenerate" aria-label="Regenerate answer">
                Regenerate
              </ActionBarPrimitive.Reload>
            </ActionBarPrimitive.Root>
          )}
        </div>
      )}
    </MessagePrimitive.Root>
  );
}

function LoadEarlier() {
  const chat = useChatController();
  const [loading, setLoading] = useState(false);
  if (!chat.state.history.hasEarlier) return null;
  return (
    <div className="load-earlier">
      <button
        type="button"
        className="btn small ghost"
        data-testid="load-earlier"
        disabled={loading}
        onClick={() => {
          setLoading(true);
          chat
            .loadEarlier()
            .catch(() => undefined)
            .finally(() => setLoading(false));
        }}
      >
        {loading ? "Loading…" : "Load earlier messages"}
      </button>
    </div>
  );
}

function Composer() {
  return (
    <ComposerPrimitive.Root className="composer">
      <ComposerPrimitive.Input
        className="composer-input"
        data-testid="composer-input"
        aria-label="Message"
        placeholder="Ask me to plan, remind or find flights…"
        submitMode="enter"
        rows={1}
        maxRows={8}
        autoFocus
      />
      <AuiIf condition={(s) => !s.thread.isRunning}>
        <ComposerPrimitive.Send className="btn primary" data-testid="send-button" aria-label="Send">
          Send
        </ComposerPrimitive.Send>
      </AuiIf>
      <AuiIf condition={(s) => s.thread.isRunning}>
        <ComposerPrimitive.Cancel className="btn danger" data-testid="stop-button" aria-label="Stop generating">
          Stop
        </ComposerPrimitive.Cancel>
      </AuiIf>
    </ComposerPrimitive.Root>
  );
}

export function Thread() {
  return (
    <ThreadPrimitive.Root className="thread">
      <ThreadPrimitive.Viewport className="thread-viewport" aria-live="polite">
        <LoadEarlier />
        <AuiIf condition={(s) => s.thread.isEmpty}>
          <div className="empty">
            <h2>What can I take off your plate?</h2>
            <p className="muted">“Remind me to call John tomorrow at 3pm” · “Find flights to Boston next Friday”</p>
          </div>
        </AuiIf>
        <ThreadPrimitive.Messages>
          {({ message }) =>
            message.role === "user" ? message.composer.isEditing ? <UserEditComposer /> : <UserMessage /> : <AssistantMessage />
          }
        </ThreadPrimitive.Messages>
        <ThreadPrimitive.ViewportFooter className="thread-footer">
          <ThreadPrimitive.ScrollToBottom className="scroll-bottom btn small" data-testid="scroll-to-bottom" aria-label="Scroll to the latest message">
            ↓ Latest
          </ThreadPrimitive.ScrollToBottom>
          <Composer />
        </ThreadPrimitive.ViewportFooter>
      </ThreadPrimitive.Viewport>
    </ThreadPrimitive.Root>
  );
}
