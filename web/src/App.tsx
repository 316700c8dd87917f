import {
  AssistantRuntimeProvider,
  useExternalStoreRuntime,
  type AppendMessage,
  type ThreadMessage,
} from "@assistant-ui/react";
import { useCallback, useMemo, useRef, useState } from "react";
import { clearSession, loadSession, saveSession, tokenSubject, type Session } from "./api/auth";
import { Login } from "./components/Login";
import { SidePanel } from "./components/SidePanel";
import { Banners, ConnectionBadge } from "./components/Status";
import { Thread } from "./components/Thread";
import { ChatContext } from "./context";
import { Reminders } from "./components/Reminders";
import { toRepository } from "./state/convert";
import { isRunning, visibleMessages } from "./state/reducer";
import { useChat } from "./state/useChat";

function textOf(message: AppendMessage): string {
  return message.content
    .map((part) => (part.type === "text" ? part.text : ""))
    .join("\n")
    .trim();
}

function focusComposer(): void {
  // After a click on Send the button disappears (Stop replaces it): put focus back in the input.
  setTimeout(() => {
    document.querySelector<HTMLTextAreaElement>('[data-testid="composer-input"]')?.focus();
  }, 0);
}

function ChatApp({ session, onSignOut, onExpired }: { session: Session; onSignOut: () => void; onExpired: () => void }) {
  const chat = useChat(session.token, onExpired);
  const { state } = chat;

  // The server owns the history and its tree: assistant-ui renders our store through the
  // external-store runtime, as a repository (the branch shown plus its siblings).
  const repository = useMemo(() => toRepository(state), [state.messages, state.activeLeaf]); // eslint-disable-line react-hooks/exhaustive-deps
  const serverIdRef = useRef(new Map<string, string>());
  serverIdRef.current = new Map(state.messages.map((m) => [m.uiId, m.id]));
  const serverId = (uiId: string | null | undefined) => (uiId ? serverIdRef.current.get(uiId) ?? uiId : null);

  const runtime = useExternalStoreRuntime<ThreadMessage>({
    messageRepository: repository,
    isRunning: isRunning(state),
    onNew: async (message) => {
      chat.send(textOf(message));
      focusComposer();
    },
    onCancel: async () => {
      chat.cancel();
      focusComposer();
    },
    // Edit: a sibling of the user message, answered anew.
    onEdit: async (message) => {
      const id = serverId(message.sourceId);
      const text = textOf(message);
      if (id && text) await chat.edit(id, text);
    },
    // Reload: a sibling of the assistant reply (the server answers the same message again).
    onReload: async (parentId) => {
      const visible = visibleMessages(state);
      const reply = visible[visible.findIndex((m) => m.uiId === parentId) + 1];
      if (reply?.role === "assistant" && reply.id.startsWith("msg_")) await chat.regenerate(reply.id);
    },
    // Branch picker: the runtime switched locally; the server makes it the branch shown.
    setMessages: () => undefined,
    unstable_onBranchChange: ({ headId }) => {
      const id = serverId(headId);
      if (id) void chat.activate(id).catch(() => undefined);
    },
    hasEarlier: state.history.hasEarlier,
    onLoadEarlier: chat.loadEarlier,
  });

  const user = session.userId ?? tokenSubject(session.token);
  // On a phone the side panel is a drawer: the chat keeps the screen, the composer its bottom.
  const [sideOpen, setSideOpen] = useState(false);
  const openTasks = state.tasks.filter((t) => t.status === "open").length;

  return (
    <ChatContext.Provider value={chat}>
      <AssistantRuntimeProvider runtime={runtime}>
        <div className="app">
          <header className="topbar">
            <h1>Micro Chief of Staff</h1>
            <div className="topbar-right">
              <ConnectionBadge status={chat.connection} />
              <button
                type="button"
                className="btn small ghost side-toggle"
                aria-expanded={sideOpen}
                aria-controls="side-panel"
                data-testid="side-toggle"
                onClick={() => setSideOpen((v) => !v)}
              >
                {sideOpen ? "Chat" : `Tasks${openTasks ? ` (${openTasks})` : ""}`}
              </button>
              {user && <span className="muted small" data-testid="current-user">{user}</span>}
              <button type="button" className="btn small ghost" onClick={onSignOut} data-testid="sign-out">
                Sign out
              </button>
            </div>
          </header>
          <Banners connection={chat.connection} />
          <Reminders />
          <div className="layout">
            <main className="chat" aria-label="Chat">
              <Thread />
            </main>
            <SidePanel open={sideOpen} />
          </div>
        </div>
      </AssistantRuntimeProvider>
    </ChatContext.Provider>
  );
}

export function App() {
  const [session, setSession] = useState<Session | null>(() => loadSession());

  const signIn = useCallback((s: Session) => {
    saveSession(s);
    setSession(s);
  }, []);
  const signOut = useCallback(() => {
    clearSession(true);
    setSession(null);
  }, []);
  const expired = useCallback(() => {
    clearSession(false);
    setSession(null);
  }, []);

  if (!session) return <Login onSession={signIn} />;
  return <ChatApp key={session.token} session={session} onSignOut={signOut} onExpired={expired} />;
}
