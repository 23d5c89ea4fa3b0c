// The attachments shown on a message: image thumbnails (each a link to the full image, in a new tab) and file
// chips. Used by messages.js (the owner's /attachments/ID addresses); the composer's tray is attachments.js.
// Imports only dom.js.

import { el } from "./dom.js";

/**
 * The attachments of a message: image thumbnails (a link to the full image, in a new tab) and file
 * chips. `urlOf(id)` gives the address (the owner's /attachments/ID; a share page has its own).
 */
export function attachmentList(list, urlOf = (id) => `/attachments/${encodeURIComponent(id)}`) {
  const box = el("div", "msg-attachments");
  for (const a of list || []) {
    if (!a || typeof a.id !== "string") continue;
    const name = typeof a.name === "string" && a.name ? a.name : "attachment";
    const url = urlOf(a.id);
    const link = el("a", a.kind === "image" ? "att-image" : "att-file");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener";
    if (a.kind === "image") {
      const img = el("img", "att-thumb");
      img.src = url;
      img.alt = name;
      img.loading = "lazy";
      link.title = `${name}: open the full image`;
      link.append(img);
    } else {
      link.append(el("span", "attach-icon", "TXT"), el("span", "att-name", name));
      link.title = `${name}: open the file`;
    }
    box.append(link);
  }
  return box;
}
