// The Templates dialog (API "Templates"): list, create, edit and delete templates, and start a
// conversation from one with a form for its variables. Text goes into the DOM as text nodes only.

import { request } from "./api.js";
import { $, dom, el, state } from "./dom.js";
import { announce, confirmDialog, openPanel } from "./notices.js";
import { startTurn, modelField } from "./turn.js";
import { newChat } from "./view.js";
import { errorWords } from "./words.js";

/** Words for a failed template request: the server's own message says what and where. */
export function templateErrorWords(e) {
  if (e.code === "bad_template" && e.message) return e.message;
  if (e.code === "bad_request" && e.message) return e.message;
  return errorWords(e.code, e.message);
}

const enc = encodeURIComponent;

/** "name = default" lines to variable declarations (a line without "=" has no default). A
 * variable of `previous` (the template as saved) keeps its description: the lines do not show it. */
export function parseVariables(text, previous = []) {
  const descriptions = new Map(previous.filter((v) => v.description).map((v) => [v.name, v.description]));
  const out = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf("=");
    const v = at < 0 ? { name: line } : { name: line.slice(0, at).trim(), default: line.slice(at + 1).trim() };
    if (descriptions.has(v.name)) v.description = descriptions.get(v.name);
    out.push(v);
  }
  return out;
}

/** The declared variables without a default that some `{{ }}` of the template uses without one. */
export function requiredVariables(t) {
  const texts = [t.instructions, ...t.messages.map((m) => m.text)];
  const bare = new Set();
  for (const text of texts) {
    for (const match of text.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}\}/g)) {
      if (!/\|\s*default\s*\(/.test(match[2])) bare.add(match[1]);
    }
  }
  return t.variables.filter((v) => !("default" in v) && bare.has(v.name)).map((v) => v.name);
}

function variablesText(variables) {
  return variables.map((v) => ("default" in v ? `${v.name} = ${v.default}` : v.name)).join("\n");
}

export function initTemplates() {
  const dialog = $("#templates-dialog");
  const opener = $("#templates-open");
  if (!dialog || !opener) return;
  const listView = $("#templates-list-view");
  const list = $("#templates-list");
  const none = $("#templates-none");
  const form = $("#template-form");
  const startForm = $("#template-start");
  const fields = {
    name: $("#template-name"),
    description: $("#template-description"),
    instructions: $("#template-instructions"),
    variables: $("#template-variables"),
    messages: $("#template-message-list"),
    shared: $("#template-shared"),
  };
  let editing = null; // the template being edited, or null for a new one
  let starting = null; // the template being started

  const say = (node, text, kind) => {
    node.textContent = text;
    node.className = `panel-result result-${kind}`;
    node.hidden = !text;
    if (text) announce(text);
  };

  const show = (view) => {
    for (const v of [listView, form, startForm]) v.hidden = v !== view;
  };

  async function refresh() {
    show(listView);
    list.replaceChildren(el("li", "field-hint", "Loading…"));
    let templates = [];
    try {
      templates = (await request("GET", "/templates")).templates;
    } catch (e) {
      list.replaceChildren(el("li", "result-error", templateErrorWords(e)));
      return;
    }
    list.replaceChildren(...templates.map(item));
    none.hidden = templates.length > 0;
  }

  function item(t) {
    const li = el("li", "template-item");
    const text = el("div", "template-text");
    const name = el("span", "template-name", t.name);
    text.append(name);
    if (t.owner === "shared") text.append(el("span", "template-badge", "shared with you"));
    else if (t.shared) text.append(el("span", "template-badge", "shared"));
    if (t.description) text.append(el("span", "template-description", t.description));
    const actions = el("div", "template-actions");
    const start = el("button", "btn btn-small btn-primary template-use", "Start");
    start.type = "button";
    start.setAttribute("aria-label", `Start a conversation from “${t.name}”`);
    start.addEventListener("click", () => openStart(t));
    actions.append(start);
    if (t.owner === "me") {
      const edit = el("button", "btn btn-small template-edit", "Edit");
      edit.type = "button";
      edit.setAttribute("aria-label", `Edit “${t.name}”`);
      edit.addEventListener("click", () => openEditor(t));
      const del = el("button", "btn btn-small btn-quiet template-delete", "Delete");
      del.type = "button";
      del.setAttribute("aria-label", `Delete “${t.name}”`);
      del.addEventListener("click", () => remove(t));
      actions.append(edit, del);
    }
    li.append(text, actions);
    return li;
  }

  function openEditor(t = null) {
    editing = t;
    $("#template-form-title").textContent = t ? `Edit “${t.name}”` : "New template";
    fields.name.value = t?.name || "";
    fields.description.value = t?.description || "";
    fields.instructions.value = t?.instructions || "";
    fields.variables.value = variablesText(t?.variables || []);
    fields.messages.replaceChildren(...(t?.messages || []).map(messageRow));
    if (fields.shared) fields.shared.checked = Boolean(t?.shared); // only where the server shares
    say($("#template-result"), "", "ok");
    show(form);
    fields.name.focus();
  }

  let rows = 0;
  /** One editable message: its role, its text, and a button that removes it. */
  function messageRow(m = { role: "user", text: "" }) {
    const n = ++rows;
    const li = el("li", "template-message");
    const role = el("select", "template-message-role");
    role.id = `template-message-role-${n}`;
    role.setAttribute("aria-label", "Who says it");
    for (const [value, label] of [["user", "You"], ["assistant", "Assistant"]]) {
      const option = el("option", null, label);
      option.value = value;
      role.append(option);
    }
    role.value = m.role;
    const text = el("textarea", "panel-textarea template-message-text");
    text.rows = 2;
    text.value = m.text;
    text.setAttribute("aria-label", "Message text");
    const remove = el("button", "btn btn-small btn-quiet template-message-remove", "Remove");
    remove.type = "button";
    remove.addEventListener("click", () => {
      li.remove();
      $("#template-message-add").focus();
    });
    li.append(role, text, remove);
    return li;
  }

  function draft() {
    const messages = [...fields.messages.querySelectorAll(".template-message")]
      .map((li) => ({
        role: li.querySelector(".template-message-role").value,
        text: li.querySelector(".template-message-text").value,
      }))
      .filter((m) => m.text.trim());
    const body = {
      name: fields.name.value.trim(),
      description: fields.description.value.trim(),
      instructions: fields.instructions.value,
      variables: parseVariables(fields.variables.value, editing?.variables || []),
      messages,
    };
    // No box where sharing is off: leave `shared` out, so an edit keeps what the template had.
    if (fields.shared) body.shared = fields.shared.checked;
    return body;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = draft();
    const result = $("#template-result");
    if (!body.name) {
      fields.name.setAttribute("aria-invalid", "true");
      fields.name.focus();
      return say(result, "Give the template a name.", "error");
    }
    fields.name.removeAttribute("aria-invalid");
    const save = $("#template-save");
    save.disabled = true;
    try {
      if (editing) await request("PATCH", `/templates/${enc(editing.id)}`, body);
      else await request("POST", "/templates", body);
      announce("Template saved.");
      await refresh();
      $("#template-new").focus();
    } catch (e) {
      say(result, templateErrorWords(e), "error");
    } finally {
      save.disabled = false;
    }
  });

  async function remove(t) {
    if (!(await confirmDialog(`Delete the template “${t.name}”?`, "Delete"))) return;
    try {
      await request("DELETE", `/templates/${enc(t.id)}`);
      announce("Template deleted.");
    } catch (e) {
      announce(templateErrorWords(e));
    }
    if (!dialog.open) openPanel(dialog, { opener });
    await refresh();
  }

  function openStart(t) {
    starting = t;
    $("#template-start-title").textContent = `Start from “${t.name}”`;
    const description = $("#template-start-description");
    description.textContent = t.description || "";
    description.hidden = !t.description;
    const box = $("#template-start-fields");
    box.replaceChildren();
    t.variables.forEach((v, n) => {
      const id = `template-var-${n}`;
      const label = el("label", null, v.description ? `${v.name}: ${v.description}` : v.name);
      label.htmlFor = id;
      const input = el("input", "template-var");
      input.id = id;
      input.type = "text";
      input.dataset.name = v.name;
      if ("default" in v) input.placeholder = v.default;
      input.addEventListener("input", () => input.removeAttribute("aria-invalid"));
      box.append(label, input);
    });
    const last = t.messages[t.messages.length - 1];
    const message = $("#template-start-message");
    message.value = "";
    message.placeholder = last && last.role === "user" ? "Optional: the template's message is sent" : "";
    say($("#template-start-result"), "", "ok");
    show(startForm);
    (box.querySelector("input") || message).focus();
  }

  startForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!starting || state.turn) return;
    const variables = {};
    for (const input of startForm.querySelectorAll(".template-var")) {
      if (input.value !== "") variables[input.dataset.name] = input.value; // empty: its default
    }
    const message = $("#template-start-message").value.trim();
    const needed = requiredVariables(starting).filter((name) => !(name in variables));
    if (needed.length) {
      const input = startForm.querySelector(`.template-var[data-name="${CSS.escape(needed[0])}"]`);
      input?.setAttribute("aria-invalid", "true");
      input?.focus();
      return say($("#template-start-result"), `Fill in “${needed[0]}”: the template needs it.`, "error");
    }
    const body = { message, template_id: starting.id, variables };
    // The template's own model, when it names one; else the picker's.
    if (!starting.model && !starting.provider) Object.assign(body, modelField());
    const go = $("#template-start-go");
    go.disabled = true;
    try {
      // The dialog gives focus back to its opener when it closes; the conversation wants the composer.
      dialog.addEventListener("close", () => dom.input.focus(), { once: true });
      dialog.close();
      newChat();
      await startTurn(body, { userText: message || null });
    } finally {
      go.disabled = false;
    }
  });

  $("#template-new").addEventListener("click", () => openEditor(null));
  $("#template-message-add").addEventListener("click", () => {
    const row = messageRow();
    fields.messages.append(row);
    row.querySelector("textarea").focus();
  });
  $("#template-cancel").addEventListener("click", () => refresh());
  $("#template-start-cancel").addEventListener("click", () => refresh());
  opener.addEventListener("click", () => {
    openPanel(dialog, { opener, focus: $("#template-new") });
    refresh();
  });
}
