// WebSocket client: bearer subprotocol auth, heartbeat, reconnect with backoff, resume by cursor.

import { API_PREFIX } from "../api/client";
import type { ClientFrame, ServerFrame } from "../api/types";

export type ConnectionStatus = "connecting" | "connected" | "reconnecting" | "offline" | "unauthorized" | "closed";

export interface ConnectionOptions {
  token: string;
  url?: string;
  /** Last cursor seen; sent as `resume` on every (re)connect. */
  getCursor: () => string | number | null;
  onFrame: (frame: ServerFrame) => void;
  onStatus: (status: ConnectionStatus) => void;
  onUnauthorized?: () => void;
  WebSocketImpl?: typeof WebSocket;
  pingIntervalMs?: number;
  /** Close and reconnect when nothing arrives for this long. */
  idleTimeoutMs?: number;
  random?: () => number;
}

const AUTH_CLOSE_CODES = new Set([1008, 4001, 4003, 4401, 4403]);
/** The server is restarting or going away (a deploy drains its sockets): reconnect at once,
 * to another process behind the load balancer, with only a small jitter (no backoff). */
export const RESTART_CLOSE_CODES = new Set([1001, 1012]);
const RESTART_JITTER_MS = 250;

/** Exponential backoff with jitter: 0.5s, 1s, 2s … capped at 15s, each scaled by 50–100 %. */
export function backoffDelay(attempt: number, random: () => number = Math.random, baseMs = 500, maxMs = 15000): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(raw * (0.5 + random() * 0.5));
}

export function defaultWsUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === "https:" ? "wss" : "ws"}://${host}${API_PREFIX}/ws`;
}

export class RealtimeConnection {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastFrameAt = 0;
  private stopped = false;
  private readonly opts: ConnectionOptions;

  constructor(opts: ConnectionOptions) {
    this.opts = opts;
  }

  start(): void {
    this.stopped = false;
    this.open("connecting");
    if (typeof window !== "undefined") window.addEventListener("online", this.onOnline);
  }

  stop(): void {
    this.stopped = true;
    if (typeof window !== "undefined") window.removeEventListener("online", this.onOnline);
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= 1) ws.close(1000, "client closing");
    this.opts.onStatus("closed");
  }

  get isOpen(): boolean {
    return this.ws !== null && this.ws.readyState === 1;
  }

  /** Sends a frame; false when the socket is not open (the caller picks a fallback). */
  send(frame: ClientFrame): boolean {
    if (!this.isOpen) return false;
    this.ws!.send(JSON.stringify(frame));
    return true;
  }

  /** Reconnect now (e.g. the browser came back online). */
  reconnectNow(): void {
    if (this.stopped || this.isOpen) return;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.open("reconnecting");
  }

  private onOnline = () => this.reconnectNow();

  private open(status: ConnectionStatus): void {
    if (this.stopped) return;
    this.opts.onStatus(status);
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    let ws: WebSocket;
    try {
      // The cursor also rides on the URL so the server replays from it before any live frame
      // (no gap between accept and the `resume` frame); `resume` remains the protocol step.
      const base = this.opts.url ?? defaultWsUrl();
      const cursor = this.opts.getCursor();
      const url = cursor === null || cursor === undefined ? base : `${base}${base.includes("?") ? "&" : "?"}cursor=${encodeURIComponent(String(cursor))}`;
      ws = new Impl(url, ["bearer", this.opts.token]);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;

    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.lastFrameAt = Date.now();
      const cursor = this.opts.getCursor();
      if (cursor !== null && cursor !== undefined) this.send({ type: "resume", cursor: String(cursor) });
      this.opts.onStatus("connected");
      this.startHeartbeat();
    };

    ws.onmessage = (event: MessageEvent) => {
      if (this.ws !== ws) return;
      this.lastFrameAt = Date.now();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(String(event.data)) as ServerFrame;
      } catch {
        return;
      }
      if (frame && typeof frame.type === "string") this.opts.onFrame(frame);
    };

    ws.onclose = (event: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearTimers();
      if (this.stopped) return;
      if (AUTH_CLOSE_CODES.has(event.code)) {
        this.stopped = true;
        this.opts.onStatus("unauthorized");
        this.opts.onUnauthorized?.();
        return;
      }
      this.scheduleReconnect(RESTART_CLOSE_CODES.has(event.code));
    };

    ws.onerror = () => {
      // onclose follows and drives the reconnect.
    };
  }

  private scheduleReconnect(restart = false): void {
    if (this.stopped) return;
    const offline = typeof navigator !== "undefined" && navigator.onLine === false;
    this.opts.onStatus(offline ? "offline" : "reconnecting");
    const random = this.opts.random ?? Math.random;
    const delay = restart ? Math.round(random() * RESTART_JITTER_MS) : backoffDelay(this.attempt++, random);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.open("reconnecting");
    }, delay);
  }

  private startHeartbeat(): void {
    const every = this.opts.pingIntervalMs ?? 20000;
    const idle = this.opts.idleTimeoutMs ?? 3 * every;
    this.pingTimer = setInterval(() => {
      if (!this.ws) return;
      if (Date.now() - this.lastFrameAt > idle) {
        // Half-open socket: abandon it without waiting for the close handshake.
        const stale = this.ws;
        this.ws = null;
        this.clearTimers();
        stale.close(4000, "idle timeout");
        this.scheduleReconnect();
        return;
      }
      this.send({ type: "ping" });
    }, every);
  }

  private clearTimers(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }
}
