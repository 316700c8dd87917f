import { AuiIf, ComposerPrimitive, MessagePrimitive, ThreadPrimitive, useAuiState } from "@assistant-ui/react";
import { useState } from "react";
import { useChatController } from "../context";
import type { MessageCustom } from "../state/convert";
import { FlightCardPart, FlightSelectedCardPart } from "./FlightCard";
import { TaskCardPart } from "./TaskCard";
import { TextPart } from "./TextPart";

const PART_COMPONENTS = {
  Text: TextPart,
  data: { by_name: { flights: FlightCardPart, task: TaskCardPart, flight_selected: FlightSelectedCardPart } },
};

const ACTION_LABELS: Record<string, string> = {
  search_flights: "Searching flights",
  create_task: "Creating a task",
  update_task: "Updating a task",
  set_preference: "Saving a preference",
  pin_memory: "Pinning a memory",
};

function useCustom(): MessageCustom | undefined {
  return useAuiState((s) => s.message.metadata?.custom) as unknown as MessageCustom | undefined;
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
      data-message-id={custom?.serverId}
    >
      <div className="bubble">
        <MessagePrimitive.Parts components={PART_COMPONENTS} />
      </div>
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
  const failedTools = (custom?.toolNotes ?? []).filter((n) => n.status === "error");
  return (
    <MessagePrimitive.Root
      className={`msg assistant ${status}`}
      data-testid={placeholder ? "message-assistant-pending" : "message-assistant"}
      data-status={status}
      data-message-id={custom?.serverId}
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
          {({ message }) => (message.role === "user" ? <UserMessage /> : <AssistantMessage />)}
        </ThreadPrimitive.Messages>
        <ThreadPrimitive.ViewportFooter className="thread-footer">
          <Composer />
        </ThreadPrimitive.ViewportFooter>
      </ThreadPrimitive.Viewport>
    </ThreadPrimitive.Root>
  );
}
