// @vitest-environment jsdom
import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "../src/App";
import { rateLimitText } from "../src/components/Status";
import { timeZoneToAdopt } from "../src/state/useChat";

class FakeSocket {
  static instances: FakeSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {
    FakeSocket.instances.push(this);
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.();
    }, 0);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.readyState = 3;
  }
}

let cursor = 0;
function push(frame: Record<string, unknown>) {
  const ws = FakeSocket.instances.at(-1)!;
  act(() => {
    ws.onmessage?.({ data: JSON.stringify({ cursor: ++cursor, ts: "2025-01-01T10:00:00Z", ...frame }) });
  });
}

const fetchMock = vi.fn();

function json(body: unknown, status = 200) {
  return Promise.resolve(new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } }));
}

beforeEach(() => {
  FakeSocket.instances = [];
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.stubGlobal("fetch", fetchMock);
  vi.stubGlobal(
    "ResizeObserver",
    class {
      observe() {}
      unobserve() {}
      disconnect() {}
    },
  );
  Element.prototype.scrollTo = function () {};
  sessionStorage.setItem("mcos.token", "tok123");
  sessionStorage.setItem("mcos.user", "alice");
  fetchMock.mockReset();
  fetchMock.mockImplementation((url: string, init?: RequestInit) => {
    if (url === "/api/v1/state") {
      return json({
        user_id: "alice",
        seq: 3,
        messages: [],
        tasks: [{ id: "task_1", title: "Call John", status: "open", due: null, priority: "high", tags: [] }],
        preferences: { home_airport: "SFO" },
        memories: [],
        calendar: [],
        travel: [],
        flight_searches: [],
      });
    }
    if (url.startsWith("/api/v1/travel/") || url.startsWith("/api/v1/tasks/") || url === "/api/v1/preferences") {
      return json({ status: "accepted" }, init?.method === "DELETE" ? 200 : 200);
    }
    return json({ error: { code: "not_found", message: "nope" } }, 404);
  });
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

async function ready() {
  render(<App />);
  await waitFor(() => expect(screen.getByTestId("connection-status").textContent).toContain("connected"));
}

describe("chat UI", () => {
  it("loads state, sends a message optimistically and streams the answer", async () => {
    await ready();
    const ws = FakeSocket.instances[0];
    expect(ws.protocols).toEqual(["bearer", "tok123"]);
    expect(fetchMock.mock.calls[0][1].headers.Authorization).toBe("Bearer tok123");
    expect(within(screen.getByTestId("tasks-panel")).getByText("Call John")).toBeTruthy();
    expect(within(screen.getByTestId("preferences-panel")).getByText("SFO")).toBeTruthy();

    const input = screen.getByTestId("composer-input") as HTMLTextAreaElement;
    expect(input.getAttribute("aria-label")).toBe("Message");
    fireEvent.change(input, { target: { value: "Find flights to Boston" } });
    fireEvent.keyDown(input, { key: "Enter" });

    await waitFor(() => expect(screen.getByTestId("message-user").textContent).toContain("Find flights to Boston"));
    expect(screen.getByTestId("message-user").getAttribute("data-status")).toBe("sending");
    const sent = ws.sent.find((f) => f.type === "message.send")!;
    expect(sent.text).toBe("Find flights to Boston");
    expect(typeof sent.client_action_id).toBe("string");
    await waitFor(() => expect(screen.getByTestId("stop-button")).toBeTruthy());
    await waitFor(() => expect(document.activeElement).toBe(input));

    push({
      type: "message.created",
      seq: 4,
      data: { id: "msg_u", role: "user", text: "Find flights to Boston", created_at: "2025-01-01T10:00:00Z", seq: 4, status: "completed", client_action_id: sent.client_action_id },
    });
    await waitFor(() => expect(screen.getByTestId("message-user").getAttribute("data-status")).toBe("sent"));
    expect(screen.getAllByTestId("message-user")).toHaveLength(1);

    push({ type: "llm.token", data: { operation_id: "op_1", attempt: 1, index: 0, text: "Here are " } });
    push({ type: "llm.token", data: { operation_id: "op_1", attempt: 1, index: 1, text: "options" } });
    await waitFor(() => expect(screen.getByTestId("message-assistant").textContent).toContain("Here are options"));

    const options = [1, 2, 3, 4].map((i) => ({
      id: `off_${i}`, airline_name: `Air ${i}`, airline_code: "AA", flight_number: `AA${i}`, origin_code: "SFO",
      destination_code: "BOS", departure_date: "2025-02-07", departure_time: "08:00", arrival_time: "16:30",
      duration_minutes: 330, stops: 0, total: "300.00", currency: "USD", cabin_class: "economy",
    }));
    const ranking = [
      { flight_id: "off_3", rank: 1, score: 0.9, reasoning: "Cheapest non-stop" },
      { flight_id: "off_1", rank: 2, score: 0.8, reasoning: "Good time" },
      { flight_id: "off_4", rank: 3, score: 0.7, reasoning: "Preferred airline" },
      { flight_id: "off_2", rank: 4, score: 0.1, reasoning: "Late" },
    ];
    push({ type: "tool.result", data: { operation_id: "op_1", tool: "search_flights", status: "success", card: { type: "flights", search_id: "fs_1", options, ranking } } });
    const card = await screen.findByTestId("flight-card");
    const rows = within(card).getAllByTestId("flight-option");
    expect(rows.map((r) => r.getAttribute("data-flight-id"))).toEqual(["off_3", "off_1", "off_4"]);
    expect(card.textContent).toContain("Cheapest non-stop");

    fireEvent.click(within(rows[0]).getByTestId("flight-select"));
    await waitFor(() =>
      expect(fetchMock.mock.calls.some(([u, i]) => u === "/api/v1/travel/fs_1/select/off_3" && i.method === "POST")).toBe(true),
    );

    fireEvent.click(screen.getByTestId("stop-button"));
    expect(ws.sent.at(-1)).toEqual({ type: "generation.cancel" });

    push({
      type: "llm.interrupted",
      seq: 5,
      data: { id: "msg_a", role: "assistant", text: "Here are options", created_at: "2025-01-01T10:00:02Z", seq: 5, status: "interrupted", operation_id: "op_1", cards: [] },
    });
    await waitFor(() => expect(screen.getByTestId("send-button")).toBeTruthy());
    expect(screen.getByTestId("message-assistant").getAttribute("data-status")).toBe("interrupted");
    expect(screen.getByTestId("flight-card")).toBeTruthy();
  });

  it("shows task cards, completes tasks and shows the rate-limit banner", async () => {
    await ready();
    push({
      type: "message.completed",
      seq: 4,
      data: {
        id: "msg_a", role: "assistant", text: "Done.", created_at: "2025-01-01T10:00:02Z", seq: 4, status: "completed",
        operation_id: "op_2", cards: [{ type: "task", task: { id: "task_1", title: "Call John", status: "open" } }],
      },
    });
    const card = await screen.findByTestId("task-card");
    expect(card.textContent).toContain("Call John");

    fireEvent.click(within(screen.getByTestId("tasks-panel")).getByTestId("task-complete"));
    await waitFor(() =>
      expect(fetchMock.mock.calls.some(([u, i]) => u === "/api/v1/tasks/task_1" && i.method === "PATCH" && i.body === '{"status":"done"}')).toBe(true),
    );
    push({ type: "task.updated", seq: 5, data: { id: "task_1", title: "Call John", status: "done" } });
    await waitFor(() => expect(screen.getByTestId("task-item").getAttribute("data-status")).toBe("done"));

    push({
      type: "rate_limited",
      data: { error: { code: "rate_limited", message: "Too many messages.", details: { limit_type: "messages_per_minute", limit: 60, current: 61, retry_after: 30 } } },
    });
    const banner = await screen.findByTestId("rate-limit-banner");
    expect(banner.textContent).toContain("Too many messages.");
    expect(screen.getByTestId("rate-limit-retry").textContent).toMatch(/^\d+s$/);
  });

  it("shows reconnecting and resumes with the last cursor", async () => {
    await ready();
    push({ type: "task.created", seq: 4, data: { id: "task_2", title: "Pack", status: "open" } });
    const ws = FakeSocket.instances[0];
    act(() => ws.onclose?.({ code: 1006 }));
    expect(screen.getByTestId("connection-status").textContent).toContain("reconnecting");
    expect(screen.getByTestId("reconnecting-banner")).toBeTruthy();
    await waitFor(() => expect(FakeSocket.instances).toHaveLength(2), { timeout: 3000 });
    await waitFor(() => expect(screen.getByTestId("connection-status").textContent).toContain("connected"));
    expect(FakeSocket.instances[1].sent[0]).toEqual({ type: "resume", cursor: String(cursor) });
  });

  it("refetches /state on resync", async () => {
    await ready();
    const before = fetchMock.mock.calls.filter(([u]) => u === "/api/v1/state").length;
    push({ type: "resync", data: {} });
    await waitFor(() => expect(fetchMock.mock.calls.filter(([u]) => u === "/api/v1/state").length).toBe(before + 1));
  });

  it("adopts the browser's time zone once when the user has none", async () => {
    await ready();
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const patches = () => fetchMock.mock.calls.filter(([u, init]) => u === "/api/v1/preferences" && init?.method === "PATCH");
    if (tz.includes("/")) {
      await waitFor(() => expect(patches()).toHaveLength(1));
      expect(JSON.parse(patches()[0][1].body)).toEqual({ timezone: tz });
      await waitFor(() => expect(within(screen.getByTestId("preferences-panel")).getByText(tz)).toBeTruthy());
    }
    // A resync refetches the state (how many fetches came before it depends on timing:
    // a fresh clone's run once saw a third); the zone is still adopted only once.
    const states = () => fetchMock.mock.calls.filter(([u]) => u === "/api/v1/state").length;
    const before = states();
    push({ type: "resync", data: {} });
    await waitFor(() => expect(states()).toBeGreaterThan(before));
    expect(patches().length).toBeLessThanOrEqual(1);
  });
});

describe("timeZoneToAdopt", () => {
  it("keeps the user's own zone and ignores non-IANA names", () => {
    expect(timeZoneToAdopt({}, "Europe/Paris")).toBe("Europe/Paris");
    expect(timeZoneToAdopt(undefined, "Europe/Paris")).toBe("Europe/Paris");
    expect(timeZoneToAdopt({ timezone: null }, "Europe/Paris")).toBe("Europe/Paris");
    expect(timeZoneToAdopt({ timezone: "Asia/Tokyo" }, "Europe/Paris")).toBeNull();
    expect(timeZoneToAdopt({}, null)).toBeNull();
  });
});

describe("rateLimitText", () => {
  it("names known limits and never repeats the server's retry time", () => {
    const msg = "rate limit exceeded (messages_per_minute); retry in 41 s";
    expect(rateLimitText({ limitType: "messages_per_minute", limit: 60, message: msg })).toBe("Too many messages. You can send 60 a minute.");
    expect(rateLimitText({ limitType: "something_new", message: msg })).toBe("Rate limit exceeded (messages_per_minute).");
    expect(rateLimitText({ message: "Slow down please." })).toBe("Slow down please.");
    expect(rateLimitText({ message: "retry in 3 s" })).toBe("Rate limit reached.");
  });
});
