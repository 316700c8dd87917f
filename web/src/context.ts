import { createContext, useContext } from "react";
import type { ChatController } from "./state/useChat";

export const ChatContext = createContext<ChatController | null>(null);

export function useChatController(): ChatController {
  const ctx = useContext(ChatContext);
  if (!ctx) throw new Error("ChatContext missing");
  return ctx;
}
