import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ServerFrame } from "../src/api/types";
import { backoffDelay, RealtimeConnection, type ConnectionStatus } from "../src/realtime/connection";

class FakeSocket {
  static instances: FakeSocket[] = [];
  readyState = 0;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.instances.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
  // test helpers
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  receive(frame: object) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

function setup(cursor: () => string | number | null = () => null) {
  const statuses: ConnectionStatus[] = [];
  const frames: ServerFrame[] = [];
  const unauthorized = vi.fn();
  const conn = new RealtimeConnection({
    token: "tok123",
    url: "ws://test/api/v1/ws",
    getCursor: cursor,
    onFrame: (f) => frames.push(f),
    onStatus: (s) => statuses.push(s),
    onUnauthorized: unauthorized,
    WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    random: () => 1,
    pingIntervalMs: 1000,
  });
  return { conn, statuses, frames, unauthorized };
}

beforeEach(() => {
  FakeSocket.instances = [];
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

describe("backoffDelay", () => {
  it("grows exponentially with jitter and a cap", () => {
    expect(backoffDelay(0, () => 1)).toBe(500);
    expect(backoffDelay(1, () => 1)).toBe(1000);
    expect(backoffDelay(3, () => 1)).toBe(4000);
    expect(backoffDelay(20, () => 1)).toBe(15000);
    expect(backoffDelay(1, () => 0)).toBe(500);
  });
});

describe("RealtimeConnection", () => {
  it("authenticates with the bearer subprotocol and reports connected", () => {
    const { conn, statuses } = setup();
    conn.start();
    const ws = FakeSocket.instances[0];
    expect(ws.protocols).toEqual(["bearer", "tok123"]);
    ws.open();
    expect(statuses).toEqual(["connecting", "connected"]);
    expect(ws.sent).toEqual([]); // no cursor yet: nothing to resume
  });

  it("parses frames and ignores garbage", () => {
    const { conn, frames } = setup();
    conn.start();
    const ws = FakeSocket.instances[0];
    ws.open();
    ws.receive({ type: "pong", cursor: 1, data: {} });
    ws.onmessage?.({ data: "not json" });
    expect(frames.map((f) => f.type)).toEqual(["pong"]);
  });

  it("reconnects with backoff and resumes from the last cursor", () => {
    let cursor: number | null = null;
    const { conn, statuses } = setup(() => cursor);
    conn.start();
    FakeSocket.instances[0].open();
    cursor = 42;
    FakeSocket.instances[0].drop();
    expect(statuses.at(-1)).toBe("reconnecting");
    vi.advanceTimersByTime(499);
    expect(FakeSocket.instances).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.instances).toHaveLength(2);
    // Fails again: the next delay doubles.
    FakeSocket.instances[1].drop();
    vi.advanceTimersByTime(999);
    expect(FakeSocket.instances).toHaveLength(2);
    vi.advanceTimersByTime(1);
    const ws = FakeSocket.instances[2];
    ws.open();
    expect(ws.url).toBe("ws://test/api/v1/ws?cursor=42");
    expect(ws.sent).toEqual([{ type: "resume", cursor: "42" }]);
    expect(statuses.at(-1)).toBe("connected");
  });

  it("reconnects at once (jitter only, no backoff) when the server drains for a restart", () => {
    let cursor: number | null = null;
    const { conn, statuses } = setup(() => cursor);
    conn.start();
    FakeSocket.instances[0].open();
    cursor = 7;
    FakeSocket.instances[0].drop(1012); // uvicorn's close code on shutdown ("service restart")
    expect(statuses.at(-1)).toBe("reconnecting");
    vi.advanceTimersByTime(250); // random() = 1: the whole 250 ms jitter, not 500 ms backoff
    expect(FakeSocket.instances).toHaveLength(2);
    // a second drain (rolling deploy reaches this process too) is again immediate
    FakeSocket.instances[1].open();
    FakeSocket.instances[1].drop(1001);
    vi.advanceTimersByTime(250);
    expect(FakeSocket.instances).toHaveLength(3);
    FakeSocket.instances[2].open();
    expect(FakeSocket.instances[2].sent).toEqual([{ type: "resume", cursor: "7" }]);
  });

  it("stops on an authentication close code", () => {
    const { conn, statuses, unauthorized } = setup();
    conn.start();
    FakeSocket.instances[0].drop(4401);
    expect(statuses.at(-1)).toBe("unauthorized");
    expect(unauthorized).toHaveBeenCalled();
    vi.advanceTimersByTime(60000);
    expect(FakeSocket.instances).toHaveLength(1);
  });

  it("sends pings and replaces a silent socket", () => {
    const { conn } = setup();
    conn.start();
    const ws = FakeSocket.instances[0];
    ws.open();
    vi.advanceTimersByTime(1000);
    expect(ws.sent).toEqual([{ type: "ping" }]);
    vi.advanceTimersByTime(3500); // nothing received for longer than the idle timeout
    vi.advanceTimersByTime(1000); // backoff
    expect(FakeSocket.instances.length).toBeGreaterThan(1);
  });

  it("send() reports false while disconnected", () => {
    const { conn } = setup();
    conn.start();
    expect(conn.send({ type: "generation.cancel" })).toBe(false);
    FakeSocket.instances[0].open();
    expect(conn.send({ type: "generation.cancel" })).toBe(true);
    expect(FakeSocket.instances[0].sent).toEqual([{ type: "generation.cancel" }]);
  });

  it("stop() closes without reconnecting", () => {
    const { conn, statuses } = setup();
    conn.start();
    FakeSocket.instances[0].open();
    conn.stop();
    expect(statuses.at(-1)).toBe("closed");
    vi.advanceTimersByTime(60000);
    expect(FakeSocket.instances).toHaveLength(1);
  });
});
