// The shared snapshot: the server sends escaped text; assistant replies are rendered here as sanitized Markdown.

import { renderMarkdown } from "./render.js";

for (const body of document.querySelectorAll(".share-md")) {
  renderMarkdown(body, body.textContent);
}
for (const t of document.querySelectorAll("time[data-ts]")) {
  const d = new Date(Number(t.dataset.ts) * 1000);
  if (!Number.isNaN(d.getTime())) {
    t.dateTime = d.toISOString();
    t.textContent = d.toLocaleString();
  }
}
