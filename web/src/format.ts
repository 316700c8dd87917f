// Dates and times in the user's locale and time zone, one way everywhere (cards, panels,
// banners, toasts): Intl with the `locale` preference (else the browser's language) and the
// `timezone` preference (else the browser's zone). The assistant's own text uses the same
// hour cycle: the offline model writes "3:00 PM" for an en-US user, and so do the cards.

import type { Preferences } from "./api/types";

export interface TimePrefs {
  locale?: string;
  timeZone?: string;
}

function validLocale(value: unknown): string | undefined {
  if (typeof value !== "string" || !value) return undefined;
  try {
    return Intl.DateTimeFormat.supportedLocalesOf([value]).length ? value : undefined;
  } catch {
    return undefined;
  }
}

function validZone(value: unknown): string | undefined {
  if (typeof value !== "string" || !value) return undefined;
  try {
    new Intl.DateTimeFormat("en", { timeZone: value });
    return value;
  } catch {
    return undefined;
  }
}

export function timePrefs(prefs: Preferences | undefined): TimePrefs {
  const browser = typeof navigator !== "undefined" ? navigator.language : undefined;
  return {
    locale: validLocale(prefs?.locale) ?? validLocale(browser),
    timeZone: validZone(prefs?.timezone),
  };
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const CLOCK = /^(\d{1,2}):(\d{2})(?::\d{2})?$/;

/** A calendar date ("2025-03-14") as a date: no time zone shift. */
export function formatDate(value: string, tp: TimePrefs, style: "medium" | "long" = "medium"): string {
  if (!DATE_ONLY.test(value)) return value;
  const at = Date.parse(`${value}T12:00:00Z`);
  return new Intl.DateTimeFormat(tp.locale, { dateStyle: style, timeZone: "UTC" }).format(at);
}

/** A wall-clock time ("14:30", local where it happens, e.g. at the airport) in the user's hour cycle. */
export function formatClock(value: string, tp: TimePrefs): string {
  const m = CLOCK.exec(value ?? "");
  if (!m) return value;
  const at = Date.UTC(2000, 0, 1, Number(m[1]), Number(m[2]));
  return new Intl.DateTimeFormat(tp.locale, { timeStyle: "short", timeZone: "UTC" }).format(at);
}

/** An instant (ISO with offset) in the user's zone; a bare date stays a date. */
export function formatDateTime(value: string | null | undefined, tp: TimePrefs): string | null {
  if (!value) return null;
  if (DATE_ONLY.test(value)) return formatDate(value, tp);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return value;
  return new Intl.DateTimeFormat(tp.locale, { dateStyle: "medium", timeStyle: "short", timeZone: tp.timeZone }).format(at);
}

/** An instant's time of day in the user's zone (epoch ms or ISO). */
export function formatTime(value: number | string, tp: TimePrefs): string {
  const at = typeof value === "number" ? value : Date.parse(value);
  if (Number.isNaN(at)) return String(value);
  return new Intl.DateTimeFormat(tp.locale, { timeStyle: "short", timeZone: tp.timeZone }).format(at);
}
