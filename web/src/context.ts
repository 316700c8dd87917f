import { createContext, useContext, useMemo } from "react";
import { timePrefs, type TimePrefs } from "./format";
import type { ChatController } from "./state/useChat";

export const ChatContext = createContext<ChatController | null>(null);

export function useChatController(): ChatController {
  const ctx = useContext(ChatContext);
  if (!ctx) throw new Error("ChatContext missing");
  return ctx;
}

/** The user's locale and time zone (preferences, else the browser's). */
export function useTimePrefs(): TimePrefs {
  const prefs = useChatController().state.preferences;
  return useMemo(() => timePrefs(prefs), [prefs]);
}
