import { AssistantRuntimeProvider, useExternalStoreRuntime, type AppendMessage } from "@assistant-ui/react";
import { useCallback, useState } from "react";
import { clearSession, loadSession, saveSession, tokenSubject, type Session } from "./api/auth";
import { Login } from "./components/Login";
import { SidePanel } from "./components/SidePanel";
import { Banners, ConnectionBadge } from "./components/Status";
import { Thread } from "./components/Thread";
import { ChatContext } from "./context";
import { toThreadMessage } from "./state/convert";
import { isRunning, type ChatMessage } from "./state/reducer";
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

  // The server owns the history: assistant-ui renders our store through the external-store runtime.
  const runtime = useExternalStoreRuntime<ChatMessage>({
    messages: state.messages,
    convertMessage: toThreadMessage,
    isRunning: isRunning(state),
    onNew: async (message) => {
      chat.send(textOf(message));
      focusComposer();
    },
    onCancel: async () => {
      chat.cancel();
      focusComposer();
    },
    hasEarlier: state.history.hasEarlier,
    onLoadEarlier: chat.loadEarlier,
  });

  const user = session.userId ?? tokenSubject(session.token);

  return (
    <ChatContext.Provider value={chat}>
      <AssistantRuntimeProvider runtime={runtime}>
        <div className="app">
          <header className="topbar">
            <h1>Micro Chief of Staff</h1>
            <div className="topbar-right">
              <ConnectionBadge status={chat.connection} />
              {user && <span className="muted small" data-testid="current-user">{user}</span>}
              <button type="button" className="btn small ghost" onClick={onSignOut} data-testid="sign-out">
                Sign out
              </button>
            </div>
          </header>
          <Banners connection={chat.connection} />
          <div className="layout">
            <main className="chat" aria-label="Chat">
              <Thread />
            </main>
            <SidePanel />
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
