import type { TextMessagePartProps } from "@assistant-ui/react";

export function TextPart({ text, status }: TextMessagePartProps) {
  return (
    <div className={status?.type === "running" ? "msg-text streaming" : "msg-text"}>
      {status?.type === "running" ? text : text.trimStart()}
    </div>
  );
}
