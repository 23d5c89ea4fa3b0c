// Log in (or create the first account) with JSON, so errors show in place; without JS the form posts.

import { ERROR_WORDS } from "./words.js";

const form = document.getElementById("login-form");
const errorBox = document.getElementById("login-error");

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

form?.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const data = new FormData(form);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const res = await fetch(form.getAttribute("action"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRF-Token": data.get("csrf_token") || "",
      },
      body: JSON.stringify({ username: data.get("username"), password: data.get("password") }),
    });
    if (res.ok) {
      window.location.assign("/");
      return;
    }
    let code = null;
    let message = null;
    try {
      const body = await res.json();
      code = body?.error?.code;
      message = body?.error?.message;
    } catch {
      /* keep the status */
    }
    showError(ERROR_WORDS[code] || message || `The server answered ${res.status}.`);
  } catch {
    showError("The server could not be reached.");
  } finally {
    button.disabled = false;
  }
});

// When sign-up is open, the same form can create an account instead.
document.getElementById("to-signup")?.addEventListener("click", (ev) => {
  form.setAttribute("action", "/signup");
  form.dataset.mode = "signup";
  document.querySelector(".login-card h1").textContent = "Create an account";
  form.querySelector("button[type=submit]").textContent = "Create account";
  const pw = document.getElementById("password");
  pw.setAttribute("autocomplete", "new-password");
  pw.setAttribute("minlength", "12");
  ev.currentTarget.closest(".login-switch").hidden = true;
  document.getElementById("username").focus();
});
