import { useState } from "react";
import type { DataMessagePartProps } from "@assistant-ui/react";
import type { FlightOption, FlightRanking, FlightSelectedCard, FlightsCard } from "../api/types";
import { useChatController, useTimePrefs } from "../context";
import { formatClock, formatDate, type TimePrefs } from "../format";

interface Ranked {
  option: FlightOption;
  ranking: FlightRanking | null;
}

/** Top 3 options in rank order (options order when the ranking is missing). */
export function topFlights(card: FlightsCard, n = 3): Ranked[] {
  const byId = new Map((card.options ?? []).map((o) => [o.id, o]));
  const ranked = [...(card.ranking ?? [])]
    .sort((a, b) => a.rank - b.rank)
    .flatMap((r) => {
      const option = byId.get(r.flight_id);
      return option ? [{ option, ranking: r }] : [];
    });
  const list = ranked.length ? ranked : (card.options ?? []).map((option) => ({ option, ranking: null }));
  return list.slice(0, n);
}

function duration(minutes: number): string {
  if (!Number.isFinite(minutes)) return "";
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h ? `${h}h ${m.toString().padStart(2, "0")}m` : `${m}m`;
}

function price(total: string | number, currency: string, tp: TimePrefs): string {
  const n = typeof total === "number" ? total : Number(total);
  if (!Number.isFinite(n)) return `${total} ${currency}`;
  try {
    return new Intl.NumberFormat(tp.locale, { style: "currency", currency }).format(n);
  } catch {
    return `${n.toFixed(2)} ${currency}`;
  }
}

export function FlightCard({ card }: { card: FlightsCard }) {
  const chat = useChatController();
  const [busy, setBusy] = useState<string | null>(null);
  const [picked, setPicked] = useState<string | null>(null);
  // The server's record wins (chat choice, another tab, after a reload); else this tab's click.
  const selected = chat.state.flightSelections[card.search_id] ?? picked;
  const [error, setError] = useState<string | null>(null);
  const top = topFlights(card);
  const tp = useTimePrefs();
  const first = top[0]?.option;

  const select = async (flightId: string) => {
    setBusy(flightId);
    setError(null);
    try {
      await chat.selectFlight(card.search_id, flightId);
      setPicked(flightId);
    } catch (err) {
      setError((err as Error).message || "Could not select this flight");
    } finally {
      setBusy(null);
    }
  };

  return (
    <section className="card flight-card" data-testid="flight-card" data-search-id={card.search_id} aria-label="Flight options">
      <header className="card-header">
        <span className="card-kind">Flights</span>
        {first && (
          <span className="card-title">
            {first.origin_code} → {first.destination_code} · {formatDate(first.departure_date, tp)}
          </span>
        )}
      </header>
      {top.length === 0 && <p className="muted">No flights found.</p>}
      <ol className="flight-list">
        {top.map(({ option: o, ranking: r }, i) => (
          <li
            key={o.id}
            className={selected === o.id ? "flight selected" : "flight"}
            data-testid="flight-option"
            data-flight-id={o.id}
          >
            <div className="flight-rank" aria-label={`Rank ${r?.rank ?? i + 1}`}>
              {r?.rank ?? i + 1}
            </div>
            <div className="flight-main">
              <div className="flight-line">
                <strong>
                  {o.airline_name} {o.flight_number}
                </strong>
                <span className="flight-price">{price(o.total, o.currency, tp)}</span>
              </div>
              <div className="flight-line muted">
                {formatClock(o.departure_time, tp)} → {formatClock(o.arrival_time, tp)} · {duration(o.duration_minutes)} ·{" "}
                {o.stops === 0 ? "non-stop" : `${o.stops} stop${o.stops > 1 ? "s" : ""}`} · {o.cabin_class}
              </div>
              {r?.reasoning && <p className="flight-reason">{r.reasoning}</p>}
            </div>
            <button
              type="button"
              className="btn small"
              data-testid="flight-select"
              disabled={busy !== null || selected !== null}
              onClick={() => void select(o.id)}
              aria-label={`Select ${o.airline_name} ${o.flight_number}`}
            >
              {selected === o.id ? "Selected ✓" : busy === o.id ? "Selecting…" : "Select"}
            </button>
          </li>
        ))}
      </ol>
      {error && (
        <p className="card-error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}

export function FlightCardPart({ data }: DataMessagePartProps<FlightsCard>) {
  return <FlightCard card={data} />;
}

export function FlightSelectedCardPart({ data }: DataMessagePartProps<FlightSelectedCard>) {
  const o = data.flight;
  const tasks = data.tasks ?? [];
  const tp = useTimePrefs();
  return (
    <section className="card flight-card" data-testid="flight-selected-card" data-search-id={data.search_id} aria-label="Chosen flight">
      <header className="card-header">
        <span className="card-kind">Flight chosen</span>
        <span className="card-title">
          {o.origin_code} → {o.destination_code} · {formatDate(o.departure_date, tp)}
        </span>
      </header>
      <div className="flight-line">
        <strong>
          {o.airline_name} {o.flight_number}
        </strong>
        <span className="flight-price">{price(o.total, o.currency, tp)}</span>
      </div>
      <div className="flight-line muted">
        {formatClock(o.departure_time, tp)} → {formatClock(o.arrival_time, tp)} · {duration(o.duration_minutes)}
      </div>
      {tasks.length > 0 && (
        <p className="muted small">
          Follow-up tasks: {tasks.map((t: { title: string }) => t.title).join(" · ")}
        </p>
      )}
    </section>
  );
}
