// The account panel: who is signed in, and changing the password (POST /account/password).

import { api } from "./api.js";
import { $ } from "./dom.js";
import { announce, openPanel } from "./notices.js";
import { errorWords } from "./words.js";

const MIN_PASSWORD = 12;

function waitWords(seconds) {
  if (!seconds || seconds < 1) return "a moment";
  if (seconds < 90) return `${Math.ceil(seconds)} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

/** Plain words for what the server answered to a password change. */
function changeErrorWords(e) {
  switch (e.code) {
    case "invalid_credentials":
      return "The current password is wrong. Your password was not changed.";
    case "weak_password":
      return `The new password is too short: use at least ${MIN_PASSWORD} characters.`;
    case "rate_limited":
      return `Too many attempts. Try again in ${waitWords(e.retryAfter)}.`;
    case "bad_request":
      return "The server did not understand the request. Reload the page and try again.";
    default:
      return errorWords(e.code, e.message);
  }
}

export function initAccount() {
  const dialog = $("#account-dialog");
  const opener = $("#account-open");
  const form = $("#password-form");
  if (!dialog || !opener || !form) return;
  const current = $("#current-password");
  const fresh = $("#new-password");
  const repeat = $("#repeat-password");
  const result = $("#password-result");
  const submit = form.querySelector("button[type=submit]");
  const fields = [current, fresh, repeat];

  const say = (text, kind, field = null) => {
    result.textContent = text;
    result.className = `panel-result result-${kind}`;
    result.hidden = false;
    for (const f of fields) {
      f.removeAttribute("aria-invalid");
      f.removeAttribute("aria-errormessage");
    }
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-errormessage", result.id);
      field.focus();
      field.select();
    }
    announce(text);
  };

  const reset = () => {
    form.reset();
    result.hidden = true;
    result.textContent = "";
    for (const f of fields) f.removeAttribute("aria-invalid");
  };

  opener.addEventListener("click", () => {
    reset();
    openPanel(dialog, { opener, focus: current });
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!current.value) return say("Enter your current password.", "error", current);
    if (fresh.value.length < MIN_PASSWORD) {
      return say(`The new password must be at least ${MIN_PASSWORD} characters long.`, "error", fresh);
    }
    if (repeat.value !== fresh.value) return say("The two new passwords are not the same.", "error", repeat);
    if (fresh.value === current.value) {
      return say("The new password is the same as the current one.", "error", fresh);
    }
    submit.disabled = true;
    result.hidden = true;
    try {
      await api.changePassword(current.value, fresh.value);
      form.reset();
      say("Password changed. Your other sessions were signed out; this one stays signed in.", "ok");
      $("#account-done")?.focus();
    } catch (e) {
      const field = e.code === "invalid_credentials" ? current : e.code === "weak_password" ? fresh : null;
      say(changeErrorWords(e), "error", field);
    } finally {
      submit.disabled = false;
    }
  });
}
