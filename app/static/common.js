// Shared by every page: JSON calls to the API with the session's CSRF token, and small helpers.
"use strict";

const Dk = {
  csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  },

  // The form whose submission is in flight: it stays disabled until its first call returns,
  // so a double click cannot send the same action twice (issue 17).
  pendingForm: null,

  async api(method, path, body) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    if (method !== "GET") {
      options.headers["X-CSRF-Token"] = Dk.csrf();
      // One key per action: a retried request is replayed by the server, never repeated.
      options.headers["Idempotency-Key"] = crypto.randomUUID();
    }
    const form = method !== "GET" ? Dk.pendingForm : null;
    try {
      const response = await fetch(path, options);
      const text = await response.text();
      let data = null;
      try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
      return { ok: response.ok, status: response.status, data };
    } finally {
      if (form) Dk.release(form);
    }
  },

  hold(form) {
    form.dataset.busy = "1";
    form.setAttribute("aria-busy", "true");
    for (const button of form.querySelectorAll("button")) button.disabled = true;
    Dk.pendingForm = form;
  },

  release(form) {
    delete form.dataset.busy;
    form.removeAttribute("aria-busy");
    for (const button of form.querySelectorAll("button")) button.disabled = false;
    if (Dk.pendingForm === form) Dk.pendingForm = null;
  },

  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  },

  // A decimal from the API ("60.00") as a person writes it ("60").
  num(value) {
    const n = Number(value);
    return Number.isFinite(n) ? String(n) : String(value);
  },

  // A refusal as sentences a person reads: each field named in words with what is wrong.
  problem(result) {
    const d = result.data || {};
    if (Array.isArray(d.errors) && d.errors.length) {
      return d.errors.map((e) => {
        const field = e.field === "body" ? "" : `${e.field.replaceAll("_", " ").replaceAll(".", " ")} `;
        const text = `${field}${e.message}`;
        return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
      }).join(" ");
    }
    return d.detail || d.title || `Request failed (${result.status})`;
  },

  say(id, message, kind) {
    const box = document.getElementById(id);
    if (!box) return;
    box.replaceChildren(message ? Dk.el("p", { class: `banner ${kind || "amber"}`, role: "status" }, message) : "");
  },

  // UK time, as the pages print it on the server ("4 Dec 09:30").
  when(iso) {
    const parts = new Intl.DateTimeFormat("en-GB", {
      timeZone: "Europe/London", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).formatToParts(new Date(iso));
    const part = (type) => (parts.find((p) => p.type === type) || {}).value || "";
    return `${part("day")} ${part("month")} ${part("hour")}:${part("minute")}`;
  },

  // "4 Dec 09:30 (5 min ago)". A terminal whose clock is behind the server's shows the time
  // alone, never a negative age.
  ago(iso) {
    const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    const at = this.when(iso);
    if (seconds < 0) return at;
    if (seconds < 60) return `${at} (just now)`;
    if (seconds < 3600) return `${at} (${Math.round(seconds / 60)} min ago)`;
    if (seconds < 86400) return `${at} (${Math.round(seconds / 3600)} h ago)`;
    return `${at} (${Math.round(seconds / 86400)} days ago)`;
  },

  until(iso) {
    if (!iso) return "no further escalation";
    const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
    if (seconds <= 0) return "escalating now";
    if (seconds < 3600) return `escalates in ${Math.ceil(seconds / 60)} min`;
    return `escalates in ${Math.round(seconds / 3600)} h`;
  },
};

// Every form sends once: a second submit while the first is in flight is dropped, and the
// form's buttons are disabled until the answer comes back.
document.addEventListener("submit", (event) => {
  const form = event.target;
  // The attribute, not `form.method`: a field named "method" shadows that property.
  if (!(form instanceof HTMLFormElement) || (form.getAttribute("method") || "").toLowerCase() === "post") return;
  if (form.dataset.busy) {
    event.preventDefault();
    event.stopImmediatePropagation();
    return;
  }
  Dk.hold(form);
  // A form whose handler makes no API call (or refuses before one) is released at once.
  setTimeout(() => { if (Dk.pendingForm !== form && form.dataset.busy) Dk.release(form); }, 0);
}, true);
