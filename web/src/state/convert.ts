// ChatMessage (our store) → ThreadMessageLike (assistant-ui). Cards become `data-<type>` parts.

import { ExportedMessageRepository, type ThreadMessageLike } from "@assistant-ui/react";
import { cardKey, visibleMessages, type ChatMessage, type ChatState } from "./reducer";

export interface MessageCustom {
  serverId: string;
  status: ChatMessage["status"];
  clientActionId?: string;
  pendingActions: string[];
  toolNotes: ChatMessage["toolNotes"];
  tokensPrompt?: number;
  tokensCompletion?: number;
  awaitingApproval?: boolean;
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
  const custom = customOf(m);
  return {
    id: m.uiId,
    role: m.role,
    content,
    createdAt: Number.isNaN(created) ? undefined : new Date(created),
    status: m.role === "assistant" ? assistantStatus(m) : undefined,
    metadata: { custom: custom as unknown as Record<string, unknown> },
  };
}

export function customOf(m: ChatMessage): MessageCustom {
  return {
    serverId: m.id,
    status: m.status,
    clientActionId: m.clientActionId,
    pendingActions: m.pendingActions,
    toolNotes: m.toolNotes,
    tokensPrompt: m.tokensPrompt,
    tokensCompletion: m.tokensCompletion,
    awaitingApproval: m.awaitingApproval,
  };
}

/**
 * The message tree as assistant-ui's repository: the branch shown (head = its last message)
 * plus every known sibling under its parent, so BranchPicker counts and pages them.
 */
export function toRepository(state: Pick<ChatState, "messages" | "activeLeaf">): ExportedMessageRepository {
  const visible = visibleMessages(state);
  const uiIdOf = new Map(state.messages.map((m) => [m.id, m.uiId]));
  const items: { message: ThreadMessageLike; parentId: string | null }[] = [];
  const included = new Set<string>();
  visible.forEach((m, i) => {
    items.push({ message: toThreadMessage(m), parentId: i > 0 ? visible[i - 1].uiId : null });
    included.add(m.id);
  });
  // Off-branch messages join under a parent already included (or as another root).
  const rest = state.messages
    .filter((m) => !included.has(m.id) && m.parentId !== undefined && !m.id.startsWith("local:") && !m.id.startsWith("op:"))
    .sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  let grew = true;
  while (grew) {
    grew = false;
    for (const m of rest) {
      if (included.has(m.id) || (m.parentId !== null && !included.has(m.parentId as string))) continue;
      items.push({ message: toThreadMessage(m), parentId: m.parentId === null ? null : uiIdOf.get(m.parentId as string) ?? null });
      included.add(m.id);
      grew = true;
    }
  }
  // Parents first, siblings oldest first (the branch picker's "1 / 2" is the server's index).
  const seqOf = new Map(state.messages.map((m) => [m.uiId, m.seq ?? Number.MAX_SAFE_INTEGER]));
  const children = new Map<string | null, typeof items>();
  for (const item of items) {
    const list = children.get(item.parentId) ?? [];
    list.push(item);
    children.set(item.parentId, list);
  }
  const ordered: typeof items = [];
  const queue: (string | null)[] = [null];
  while (queue.length) {
    const parent = queue.shift() as string | null;
    const list = (children.get(parent) ?? []).sort(
      (a, b) => (seqOf.get(a.message.id as string) ?? 0) - (seqOf.get(b.message.id as string) ?? 0),
    );
    for (const item of list) {
      ordered.push(item);
      queue.push(item.message.id as string);
    }
  }
  return ExportedMessageRepository.fromBranchableArray(ordered, { headId: visible.at(-1)?.uiId ?? null });
}
