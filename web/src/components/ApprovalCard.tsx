import { useState } from "react";
import type { DataMessagePartProps } from "@assistant-ui/react";
import type { ApprovalCard as ApprovalCardData, ApprovalStatus } from "../api/types";
import { useChatController, useTimePrefs } from "../context";
import { formatDateTime } from "../format";

const TOOL_LABELS: Record<string, string> = {
  select_flight: "Book a flight",
  delete_task: "Delete a task",
  add_calendar_event: "Add a calendar event",
};

const STATUS_TEXT: Record<Exclude<ApprovalStatus, "pending"> | "answered", string> = {
  answered: "Answered",
  approved: "Approved",
  rejected: "Rejected",
  expired: "Expired: nothing was done",
};

/** The arguments worth showing (ids and empty values left out). */
export function argumentLines(args: Record<string, unknown> | undefined): [string, string][] {
  return Object.entries(args ?? {})
    .filter(([k, v]) => v !== null && v !== undefined && v !== "" && !/(^|_)id$/.test(k))
    .map(([k, v]) => [k.replace(/_/g, " "), typeof v === "string" ? v : JSON.stringify(v)]);
}

/**
 * The assistant's proposed action, waiting for the user: Approve / Reject, with "always
 * allow" for this tool. Its state comes from the approval frames (or /state's pending list);
 * an approval the client never saw pending was answered before this page loaded.
 */
export function ApprovalCard({ card }: { card: ApprovalCardData }) {
  const chat = useChatController();
  const tp = useTimePrefs();
  const approval = chat.state.approvals[card.approval_id];
  const [always, setAlways] = useState(false);
  const [busy, setBusy] = useState<"approve" | "reject" | null>(null);
  const [error, setError] = useState<string | null>(null);
  const status: ApprovalStatus | "answered" = approval?.status ?? (chat.state.loaded ? "answered" : "pending");
  const pending = status === "pending";

  const answer = async (decision: "approve" | "reject") => {
    setBusy(decision);
    setError(null);
    try {
      await chat.respondApproval(card.approval_id, decision, decision === "approve" && always);
    } catch (err) {
      setError((err as Error).message || "Could not send your answer");
    } finally {
      setBusy(null);
    }
  };

  return (
    <section
      className={`card approval-card ${status}`}
      data-testid="approval-card"
      data-approval-id={card.approval_id}
      data-status={status}
      aria-label="Approval needed"
    >
      <header className="card-header">
        <span className="card-kind">{pending ? "Approval needed" : "Approval"}</span>
        <span className="card-title">{TOOL_LABELS[card.tool] ?? card.tool}</span>
      </header>
      <p className="approval-summary" data-testid="approval-summary">
        {card.summary}
      </p>
      {argumentLines(card.arguments).length > 0 && (
        <dl className="approval-args">
          {argumentLines(card.arguments).map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          ))}
        </dl>
      )}
      {pending ? (
        <>
          <div className="approval-actions">
            <button
              type="button"
              className="btn primary small"
              data-testid="approval-approve"
              disabled={busy !== null}
              onClick={() => void answer("approve")}
            >
              {busy === "approve" ? "Approving…" : "Approve"}
            </button>
            <button
              type="button"
              className="btn small"
              data-testid="approval-reject"
              disabled={busy !== null}
              onClick={() => void answer("reject")}
            >
              {busy === "reject" ? "Rejecting…" : "Reject"}
            </button>
            <label className="approval-always small">
              <input
                type="checkbox"
                data-testid="approval-always"
                checked={always}
                onChange={(e) => setAlways(e.target.checked)}
              />
              Always allow this
            </label>
          </div>
          {approval?.expires_at && (
            <p className="muted small">Waiting for your answer until {formatDateTime(approval.expires_at, tp)}.</p>
          )}
        </>
      ) : (
        <p className="approval-status small" data-testid="approval-status">
          {STATUS_TEXT[status]}
          {approval?.always && status === "approved" ? " · always allowed from now on" : ""}
        </p>
      )}
      {error && (
        <p className="card-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

export function ApprovalCardPart({ data }: DataMessagePartProps<ApprovalCardData>) {
  return <ApprovalCard card={data} />;
}
