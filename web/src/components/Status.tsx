import { useCallback, useEffect, useState } from "react";
import type { ConnectionStatus } from "../realtime/connection";
import type { RateLimitNotice } from "../state/reducer";
import { useChatController, useTimePrefs } from "../context";
import { formatTime } from "../format";

const LABELS: Record<ConnectionStatus, string> = {
  connecting: "connecting",
  connected: "connected",
  reconnecting: "reconnecting",
  offline: "offline",
  unauthorized: "unauthorized",
  closed: "disconnected",
};

export function ConnectionBadge({ status }: { status: ConnectionStatus }) {
  return (
    <span className={`conn conn-${status}`} data-testid="connection-status" data-status={status} role="status" aria-live="polite">
      <span className="conn-dot" aria-hidden="true" />
      {LABELS[status]}
    </span>
  );
}

function useNow(active: boolean): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    const id = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, [active]);
  return now;
}

const LIMIT_TEXT: Record<string, (limit?: number) => string> = {
  messages_per_minute: (n) => `Too many messages.${n ? ` You can send ${n} a minute.` : ""}`,
  tokens_per_day: () => "You have used today's answer budget.",
  flight_searches_per_day: (n) => `That is today's last flight search${n ? ` (${n} a day)` : ""}.`,
  writes_per_day: () => "Too many changes today.",
  ws_frames_per_minute: () => "Too much traffic on the connection.",
};

/** A readable sentence for a limit; the retry time is shown next to it, so the server's own
 * "retry in N s" tail is dropped from unknown messages. */
export function rateLimitText(notice: Pick<RateLimitNotice, "limitType" | "limit" | "message">): string {
  const known = notice.limitType ? LIMIT_TEXT[notice.limitType] : undefined;
  if (known) return known(notice.limit);
  const text = notice.message.replace(/[;,.]?\s*retry (?:in|after) \d+\s*s(?:ec(?:onds?)?)?\.?\s*$/i, "").trim();
  return text ? `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? "" : "."}` : "Rate limit reached.";
}

function RateLimitBanner({ notice, onDismiss }: { notice: RateLimitNotice; onDismiss: () => void }) {
  // Without a server reset time, count from the moment the notice appeared.
  const [shownAt] = useState(() => Date.now());
  const retryAt = notice.retryAfterSec !== null ? shownAt + notice.retryAfterSec * 1000 : notice.retryAt;
  const now = useNow(retryAt !== null);
  const tp = useTimePrefs();
  const left = retryAt === null ? null : Math.max(0, Math.ceil((retryAt - now) / 1000));

  useEffect(() => {
    if (left === 0) onDismiss();
  }, [left, onDismiss]);

  return (
    <div className="banner warn" role="alert" data-testid="rate-limit-banner">
      <span>
        <strong>Slow down.</strong> {rateLimitText(notice)}
        {left !== null && (
          <>
            {" "}
            Try again in <span data-testid="rate-limit-retry">{left}s</span>
            {retryAt !== null && ` (at ${formatTime(retryAt, tp)})`}.
          </>
        )}
      </span>
      <button type="button" className="icon-btn" aria-label="Dismiss" onClick={onDismiss}>
        ✕
      </button>
    </div>
  );
}

export function Banners({ connection }: { connection: ConnectionStatus }) {
  const chat = useChatController();
  const { rateLimit, error, loaded, limitWarning } = chat.state;
  const { dismiss } = chat;
  const dismissRateLimit = useCallback(() => dismiss("rateLimit"), [dismiss]);
  return (
    <div className="banners">
      {(connection === "reconnecting" || connection === "offline") && (
        <div className="banner info" role="status" data-testid="reconnecting-banner">
          {connection === "offline" ? "You are offline. " : "Reconnecting… "}
          Messages you send now are delivered as soon as the connection is back.
        </div>
      )}
      {limitWarning && !rateLimit && (
        <div className="banner warn" role="status" data-testid="budget-warning-banner">
          <span>
            <strong>Heads up.</strong> {limitWarning.message} Past the limit the basic offline assistant
            answers until midnight UTC.
          </span>
          <button type="button" className="icon-btn" aria-label="Dismiss" onClick={() => chat.dismiss("limitWarning")}>
            ✕
          </button>
        </div>
      )}
      {rateLimit && <RateLimitBanner key={rateLimit.n} notice={rateLimit} onDismiss={dismissRateLimit} />}
      {error && (
        <div className="banner error" role="alert" data-testid="error-banner">
          <span>{error.message}</span>
          <button type="button" className="icon-btn" aria-label="Dismiss" onClick={() => chat.dismiss("error")}>
            ✕
          </button>
        </div>
      )}
      {!loaded && !error && <div className="banner info">Loading…</div>}
    </div>
  );
}
