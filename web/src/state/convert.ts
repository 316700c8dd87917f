// ChatMessage (our store) → ThreadMessageLike (assistant-ui). Cards become `data-<type>` parts.

import type { ThreadMessageLike } from "@assistant-ui/react";
import { cardKey, type ChatMessage } from "./reducer";

export interface MessageCustom {
  serverId: string;
  status: ChatMessage["status"];
  clientActionId?: string;
  pendingActions: string[];
  toolNotes: ChatMessage["toolNotes"];
  tokensPrompt?: number;
  tokensCompletion?: number;
}

type Content = Exclude<ThreadMessageLike["content"], string>;

function assistantStatus(m: ChatMessage): ThreadMessageLike["status"] {
  switch (m.status) {
    case "streaming":
      return { type: "running" };
    case "interrupted":
      return { type: "incomplete", reason: "cancelled" };
    case "error":
      return { type: "incomplete", reason: "error" };
    default:
      return { type: "complete", reason: "stop" };
  }
}

export function toThreadMessage(m: ChatMessage): ThreadMessageLike {
  const content: Content[number][] = [];
  if (m.text || m.role === "user") content.push({ type: "text", text: m.text });
  for (const card of m.cards) {
    content.push({ type: `data-${card.type}`, id: cardKey(card), data: card });
  }
  const created = Date.parse(m.createdAt);
  const custom: MessageCustom = {
    serverId: m.id,
    status: m.status,
    clientActionId: m.clientActionId,
    pendingActions: m.pendingActions,
    toolNotes: m.toolNotes,
    tokensPrompt: m.tokensPrompt,
    tokensCompletion: m.tokensCompletion,
  };
  return {
    id: m.uiId,
    role: m.role,
    content,
    createdAt: Number.isNaN(created) ? undefined : new Date(created),
    status: m.role === "assistant" ? assistantStatus(m) : undefined,
    metadata: { custom: custom as unknown as Record<string, unknown> },
  };
}
