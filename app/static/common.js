// Shared by every page: JSON calls to the API with the session's CSRF token, and small helpers.
"use strict";

const Dk = {
  csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  },

  async api(method, path, body) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    if (method !== "GET") options.headers["X-CSRF-Token"] = Dk.csrf();
    const response = await fetch(path, options);
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
    return { ok: response.ok, status: response.status, data };
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

  problem(result) {
    const d = result.data || {};
    const parts = [d.detail || d.title || `Request failed (${result.status})`];
    return parts.join(" ");
  },

  say(id, message, kind) {
    const box = document.getElementById(id);
    if (!box) return;
    box.replaceChildren(message ? Dk.el("p", { class: `banner ${kind || "amber"}`, role: "status" }, message) : "");
  },

  ago(iso) {
    const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    if (seconds < 60) return `${seconds} s ago`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
    if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
    return `${Math.round(seconds / 86400)} days ago`;
  },

  until(iso) {
    if (!iso) return "no further escalation";
    const seconds = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
    if (seconds <= 0) return "escalating now";
    if (seconds < 3600) return `escalates in ${Math.ceil(seconds / 60)} min`;
    return `escalates in ${Math.round(seconds / 3600)} h`;
  },
};
