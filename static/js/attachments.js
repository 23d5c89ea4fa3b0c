// Attachments in the composer: the paper-clip picker, drag and drop onto the composer, pasted images,
// and a long paste turned into a text file; chips with thumbnails, an upload state, a remove button and
// the refusal in words. Uploads go to POST /attachments at once; a turn sends the ids (API "Attachments").
// The tray is kept per conversation. The thumbnails and file chips on messages are attachment-links.js.

import { errorFrom } from "./api.js";
import { dom, el, state } from "./dom.js";
import { findModel } from "./catalogue.js";
import { choiceValue } from "./choice.js";

const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/webp", "image/gif"]);
const MAX_FILES = 10; // POST /chat takes at most 10 ids

const $ = (id) => document.getElementById(id);
const ui = {
  tray: $("attach-tray"),
  note: $("composer-note"),
  button: $("attach-button"),
  input: $("attach-input"),
};

const num = (v, d) => {
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : d;
};
export const limits = {
  pasteChars: num(dom.body.dataset.pasteAttachmentChars, 4000),
  maxBytes: num(dom.body.dataset.attachmentMaxBytes, 10 * 1024 * 1024),
  textMaxBytes: num(dom.body.dataset.textAttachmentMaxBytes, 256 * 1024),
};

/** "12 KB", "3.4 MB": a size for people (binary units, as the limits are set). */
export function fmtBytes(n) {
  if (typeof n !== "number" || !Number.isFinite(n)) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  const mb = n / (1024 * 1024);
  return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`;
}

// Each pending attachment: {key, file, name, image, url (blob: preview), status, progress, id, error, xhr, done}
let items = [];
let keys = 0;
let pastes = 0;
// The tray belongs to a conversation, as its draft does ("new": the new chat): switching keeps each one's
// files aside (their uploads go on) and shows the other's. `switches` lets a waiting send see a switch.
const trays = new Map();
let trayKey = "new";
let switches = 0;

function looksImage(file) {
  return IMAGE_TYPES.has(file.type) || /\.(png|jpe?g|webp|gif)$/i.test(file.name || "");
}

/** What is wrong with a file before it is sent, in words, or null (the server checks the content). */
export function refusal(file) {
  if (file.size === 0) return "The file is empty.";
  if (looksImage(file)) {
    if (file.size > limits.maxBytes) return `Too large (${fmtBytes(file.size)}): the limit is ${fmtBytes(limits.maxBytes)}.`;
    return null;
  }
  if (file.type.startsWith("image/")) return "Not an image the chat takes: use PNG, JPEG, WebP or GIF.";
  if (file.size > limits.textMaxBytes) {
    return `Too large for a text file (${fmtBytes(file.size)}): the limit is ${fmtBytes(limits.textMaxBytes)}.`;
  }
  return null;
}

/** The words for a refused upload: the server says what was wrong; a size refusal names the limit. */
function uploadError(e) {
  if (e.code === "body_too_large") return e.message && /\d/.test(e.message) ? e.message : `Too large: the limit is ${fmtBytes(limits.maxBytes)}.`;
  if (e.code === "network") return "The server could not be reached. Remove the file and try again.";
  return e.message || "The file could not be used.";
}

function upload(item) {
  item.status = "uploading";
  item.done = new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open("POST", "/attachments");
    xhr.setRequestHeader("X-CSRF-Token", document.querySelector('meta[name="csrf-token"]')?.getAttribute("content") || "");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "text";
    xhr.upload.addEventListener("progress", (ev) => {
      if (ev.lengthComputable) {
        item.progress = Math.round((ev.loaded / ev.total) * 100);
        renderItem(item);
      }
    });
    const fail = (message) => {
      item.status = "error";
      item.error = message;
      renderItem(item);
      checkNote();
      resolve();
    };
    xhr.addEventListener("load", async () => {
      if (xhr.status === 201 || xhr.status === 200) {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          /* handled below */
        }
        if (!body || typeof body.id !== "string") return fail("The server's answer could not be read.");
        item.status = "done";
        item.id = body.id;
        item.kind = body.kind;
        item.meta = body;
        item.image = body.kind === "image";
        renderItem(item);
        checkNote();
        return resolve();
      }
      const res = new Response(xhr.responseText, { status: xhr.status, headers: { "Content-Type": xhr.getResponseHeader("Content-Type") || "" } });
      fail(uploadError(await errorFrom(res)));
    });
    xhr.addEventListener("error", () => fail(uploadError({ code: "network" })));
    xhr.addEventListener("abort", () => resolve());
    const form = new FormData();
    form.append("file", item.file, item.name);
    xhr.send(form);
  });
}

/** Attach files (from the picker, a drop or a paste): a chip each, the upload starts at once. */
export function addFiles(files) {
  for (const file of Array.from(files || [])) {
    if (items.length >= MAX_FILES) {
      showNote(`At most ${MAX_FILES} files go with one message.`);
      break;
    }
    const item = { key: ++keys, file, name: file.name || "file", image: looksImage(file), status: "new", progress: 0, id: null, error: null };
    if (item.image && IMAGE_TYPES.has(file.type)) item.url = URL.createObjectURL(file);
    items.push(item);
    const why = refusal(file);
    if (why) {
      item.status = "error";
      item.error = why;
      item.done = Promise.resolve();
    } else {
      upload(item);
    }
    renderItem(item);
  }
  renderTray();
  checkNote();
}

function remove(item) {
  item.removed = true;
  item.xhr?.abort();
  if (item.url) URL.revokeObjectURL(item.url);
  items = items.filter((i) => i !== item);
  item.node?.remove();
  renderTray();
  checkNote();
  dom.input.focus();
}

function renderTray() {
  ui.tray.hidden = items.length === 0;
  dom.form.classList.toggle("has-attachments", items.length > 0);
}

function renderItem(item) {
  if (item.removed) return;
  if (!item.node) {
    item.node = el("li", "attach-chip");
    ui.tray.append(item.node);
  }
  const li = item.node;
  li.className = `attach-chip attach-${item.status}${item.image ? " attach-image" : " attach-text"}`;
  li.dataset.name = item.name;
  if (item.id) li.dataset.id = item.id;
  const parts = [];
  if (item.image && item.status !== "error" && (item.url || item.id)) {
    const img = el("img", "attach-thumb");
    img.src = item.url || `/attachments/${encodeURIComponent(item.id)}`;
    img.alt = item.name;
    parts.push(img);
  } else {
    parts.push(el("span", "attach-icon", item.image ? "IMG" : "TXT"));
  }
  const info = el("span", "attach-info");
  info.append(el("span", "attach-name", item.name));
  let detail;
  if (item.status === "uploading") detail = el("span", "attach-state", item.progress ? `Uploading… ${item.progress}%` : "Uploading…");
  else if (item.status === "error") {
    detail = el("span", "attach-error", item.error);
    detail.setAttribute("role", "alert");
  } else detail = el("span", "attach-state", fmtBytes(item.meta?.bytes ?? item.file?.size));
  info.append(detail);
  parts.push(info);
  const x = el("button", "icon-btn attach-remove", "×");
  x.type = "button";
  x.setAttribute("aria-label", `Remove ${item.name}`);
  x.title = "Remove";
  x.addEventListener("click", () => remove(item));
  parts.push(x);
  li.replaceChildren(...parts);
  li.title = item.status === "error" ? `${item.name}: ${item.error}` : item.name;
}

/** Show conversation `id`'s files in the tray (null: the new chat's); the ones shown so far are kept as its own. */
export function showTray(id) {
  const key = id || "new";
  if (key === trayKey) return;
  if (items.length) trays.set(trayKey, items);
  trayKey = key;
  items = trays.get(key) || [];
  trays.delete(key);
  switches++;
  ui.tray?.replaceChildren(...items.map((i) => i.node).filter(Boolean));
  if (ui.tray) renderTray();
  if (ui.note) checkNote();
}

/** The new chat got its id: its files are that conversation's now. */
export function adoptTray(id) {
  if (trayKey === "new" && id) trayKey = id;
}

/** How many times the tray changed conversation (a send waiting for uploads compares it). */
export function traySwitches() {
  return switches;
}

// A note that stays until the next send (a cancelled send): the tray's own checks, which run on every
// switch and upload, fall back to it instead of hiding it.
let lasting = null;

/** The note under the composer (kind: warn, error or info); "" hides it; `lasting` keeps it until `endNote`. */
export function showNote(text, kind = "warn", { lasting: keep = false } = {}) {
  if (keep) lasting = { text, kind };
  ui.note.textContent = text || "";
  ui.note.className = `composer-note note-${kind}`;
  ui.note.hidden = !text;
}

/** The composer's note: a refused file, an image for a model known to take text only, or nothing. */
export function checkNote() {
  if (items.some((i) => i.status === "error")) {
    showNote("Remove the files that could not be attached before sending.", "error");
    return;
  }
  const choice = choiceValue();
  const info = choice ? findModel(state.catalogue, choice.provider, choice.model) : null;
  if (items.some((i) => i.image) && Array.isArray(info?.input) && !info.input.includes("image")) {
    showNote(`${choice.model} takes text only: it cannot see images. Pick a model that takes images, or remove them.`);
    return;
  }
  showNote(lasting?.text || "", lasting?.kind);
}

/** Drop the lasting note (the user sends again). */
export function endNote() {
  if (!lasting) return;
  lasting = null;
  checkNote();
}

export function hasAttachments() {
  return items.length > 0;
}

/**
 * Wait for every upload; resolves to the ids to send, or null (and says why) when a file was refused.
 * `onWait` is called once if an upload is still running.
 */
export async function readyIds(onWait = null) {
  const list = items; // this conversation's files: a switch meanwhile shows another tray
  if (list.some((i) => i.status === "uploading")) {
    onWait?.();
    showNote("Waiting for the files to finish uploading…", "info");
  }
  while (list.some((i) => i.status === "uploading")) {
    await Promise.all(list.map((i) => i.done));
  }
  if (list !== items) return list.some((i) => i.status === "error") ? null : list.map((i) => i.id);
  checkNote();
  if (items.some((i) => i.status === "error")) return null;
  return items.map((i) => i.id);
}

/** The attachments as a sent message lists them ({id, kind, name, media_type}), for the pending bubble. */
export function sentAttachments() {
  return items
    .filter((i) => i.id)
    .map((i) => ({ id: i.id, kind: i.kind, name: i.name, media_type: i.meta?.media_type || "", bytes: i.meta?.bytes }));
}

/** Empty the tray (the message was sent). */
export function clearAttachments() {
  for (const i of items) if (i.url) URL.revokeObjectURL(i.url);
  items = [];
  ui.tray.replaceChildren();
  renderTray();
  checkNote();
}

/** Put a sent message's attachments back in the tray (a send that was refused before it started). */
export function restoreAttachments(list) {
  for (const a of list || []) {
    const item = { key: ++keys, file: null, name: a.name, image: a.kind === "image", kind: a.kind, status: "done", id: a.id, meta: a, done: Promise.resolve() };
    items.push(item);
    renderItem(item);
  }
  renderTray();
  checkNote();
}

// ---------------------------------------------------------------- binding

function filesOf(dt) {
  return dt ? Array.from(dt.files || []) : [];
}

function hasFiles(ev) {
  return Array.from(ev.dataTransfer?.types || []).includes("Files");
}

/** Bind the picker, the drop zone (the whole composer) and paste on the message box. */
export function initAttachments() {
  if (!ui.tray) return;
  ui.button.addEventListener("click", () => ui.input.click());
  ui.input.addEventListener("change", () => {
    addFiles(ui.input.files);
    ui.input.value = "";
    dom.input.focus();
  });
  let depth = 0;
  const zone = dom.form;
  const leave = () => {
    depth = 0;
    zone.classList.remove("drop-target");
  };
  zone.addEventListener("dragenter", (ev) => {
    if (!hasFiles(ev) || dom.input.disabled) return;
    ev.preventDefault();
    depth++;
    zone.classList.add("drop-target");
  });
  zone.addEventListener("dragover", (ev) => {
    if (!hasFiles(ev) || dom.input.disabled) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = "copy";
    zone.classList.add("drop-target");
  });
  zone.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove("drop-target");
  });
  zone.addEventListener("drop", (ev) => {
    if (!hasFiles(ev) || dom.input.disabled) return;
    ev.preventDefault();
    leave();
    addFiles(filesOf(ev.dataTransfer));
    dom.input.focus();
  });
  // A file dropped anywhere else must not make the browser leave the page to show it.
  window.addEventListener("dragover", (ev) => {
    if (hasFiles(ev)) ev.preventDefault();
  });
  window.addEventListener("drop", (ev) => {
    if (hasFiles(ev)) ev.preventDefault();
    leave();
  });
  dom.input.addEventListener("paste", (ev) => {
    const dt = ev.clipboardData;
    if (!dt) return;
    const files = filesOf(dt);
    if (files.length) {
      ev.preventDefault();
      addFiles(files);
      return;
    }
    const text = dt.getData("text/plain");
    if (text && text.length > limits.pasteChars) {
      // A long paste becomes a file of its own rather than a giant bubble.
      ev.preventDefault();
      pastes++;
      const name = pastes === 1 ? "pasted-text.txt" : `pasted-text-${pastes}.txt`;
      addFiles([new File([text], name, { type: "text/plain" })]);
    }
  });
  dom.model.addEventListener("choice", checkNote);
}
