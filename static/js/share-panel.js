// The share panel: create a read-only link to the branch on screen, copy it (shown once), list and
// revoke the conversation's links (POST /conversations/ID/share, GET …/shares, DELETE /shares/SHARE_ID).

import { api } from "./api.js";
import { $, dom, el, state } from "./dom.js";
import { announce, openPanel } from "./notices.js";
import { errorWords } from "./words.js";

const dateFmt = new Intl.DateTimeFormat([], { dateStyle: "medium", timeStyle: "short" });

function fmtDate(ts) {
  const d = new Date(ts * 1000);
  return Number.isNaN(d.getTime()) ? "" : dateFmt.format(d);
}

export function initSharePanel() {
  const dialog = $("#share-dialog");
  const opener = dom.shareOpen;
  if (!dialog || !opener) return;
  const title = $("#share-title");
  const create = $("#share-create");
  const fresh = $("#share-new");
  const link = $("#share-link");
  const copy = $("#share-copy");
  const result = $("#share-result");
  const list = $("#share-list");
  const none = $("#share-none");
  let conversationId = null;
  let newShareId = null;

  const say = (text, kind) => {
    result.textContent = text;
    result.className = `panel-result result-${kind}`;
    result.hidden = !text;
    if (text) announce(text);
  };

  const renderShares = (shares) => {
    list.replaceChildren(...shares.map(shareItem));
    none.hidden = shares.length > 0;
  };

  const shareItem = (s) => {
    const li = el("li", "share-item");
    li.dataset.shareId = s.share_id;
    const info = el("span", "share-info");
    const created = fmtDate(s.created);
    info.append(el("span", "share-created", `Created ${created}`));
    const expires = s.expires_at ? `Expires ${fmtDate(s.expires_at)}` : "Does not expire";
    info.append(el("span", "share-expires", expires));
    if (s.share_id === newShareId) info.append(el("span", "share-badge", "new"));
    const revoke = el("button", "btn btn-small btn-danger-quiet share-revoke", "Revoke");
    revoke.type = "button";
    revoke.setAttribute("aria-label", `Revoke the link created ${created}`);
    revoke.addEventListener("click", () => revokeShare(s, revoke));
    li.append(info, revoke);
    return li;
  };

  const loadShares = async () => {
    try {
      const data = await api.listShares(conversationId);
      renderShares(data?.shares || []);
    } catch (e) {
      renderShares([]);
      say(errorWords(e.code, e.message), "error");
    }
  };

  const revokeShare = async (s, button) => {
    button.disabled = true;
    try {
      await api.revokeShare(s.share_id);
      say("Link revoked. It no longer opens the snapshot.", "ok");
    } catch (e) {
      if (e.code === "not_found") say("That link was already revoked.", "ok");
      else {
        button.disabled = false;
        say(errorWords(e.code, e.message), "error");
        return;
      }
    }
    if (s.share_id === newShareId) {
      newShareId = null;
      fresh.hidden = true;
      link.value = "";
    }
    await loadShares();
    create.focus();
  };

  opener.addEventListener("click", () => {
    if (!state.conv) return;
    conversationId = state.currentId;
    newShareId = null;
    fresh.hidden = true;
    link.value = "";
    copy.textContent = "Copy";
    say("", "ok");
    title.textContent = `Share “${state.conv.chat_name || "Untitled"}”`;
    list.replaceChildren();
    none.hidden = true;
    openPanel(dialog, { opener, focus: create });
    loadShares();
  });

  create.addEventListener("click", async () => {
    create.disabled = true;
    say("", "ok");
    try {
      const data = await api.createShare(conversationId);
      newShareId = data.share_id;
      link.value = new URL(data.url, window.location.origin).href;
      copy.textContent = "Copy";
      fresh.hidden = false;
      await loadShares();
      link.focus();
      link.select();
      announce("Link created. Copy it now: it is shown only once.");
    } catch (e) {
      say(errorWords(e.code, e.message), "error");
    } finally {
      create.disabled = false;
    }
  });

  copy.addEventListener("click", async () => {
    let ok = false;
    try {
      await navigator.clipboard.writeText(link.value);
      ok = true;
    } catch {
      ok = false;
    }
    if (!ok) {
      // No clipboard access: leave the link selected so Ctrl+C copies it.
      link.focus();
      link.select();
    }
    copy.textContent = ok ? "Copied" : "Press Ctrl+C";
    announce(ok ? "Link copied." : "Copying failed: the link is selected, press Ctrl+C.");
  });
}
