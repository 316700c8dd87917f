// The emoji fallback: the bundled Noto Emoji loads, by unicode-range, only for the emoji a
// page shows. Chromium keeps drawing text laid out before that load with its "missing
// glyph" box; a change of the root font stack (one equivalent family added or removed)
// makes it lay the text out again with the font now there.

export const EMOJI_FAMILY = "Noto Emoji";

export function refreshTextOnEmojiLoad(doc: Document = document): void {
  const fonts = doc.fonts as FontFaceSet | undefined;
  if (!fonts || typeof fonts.addEventListener !== "function") return;
  fonts.addEventListener("loadingdone", (event) => {
    const faces = (event as FontFaceSetLoadEvent).fontfaces ?? [];
    if (!faces.some((f) => f.family.replace(/["']/g, "") === EMOJI_FAMILY)) return;
    doc.documentElement.classList.toggle("font-refresh");
  });
}
