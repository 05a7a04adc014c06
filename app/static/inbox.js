// The alert inbox: acknowledge with a note, live times, and new alerts arriving by SSE.
"use strict";

const Inbox = {
  init() {
    document.querySelectorAll("form.ack").forEach((form) => this.wire(form));
    this.tick();
    setInterval(() => this.tick(), 30000);
    if (window.EventSource) {
      const source = new EventSource("/api/v1/alerts/stream");
      source.addEventListener("alert", (event) => this.add(JSON.parse(event.data)));
    }
  },

  tick() {
    document.querySelectorAll("time[data-ago]").forEach((t) => { t.textContent = Dk.ago(t.getAttribute("datetime")); });
    document.querySelectorAll("[data-until]").forEach((s) => {
      s.textContent = s.dataset.until ? Dk.until(s.dataset.until) : "";
    });
  },

  wire(form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const id = form.dataset.alert;
      const note = form.querySelector("input[name=note]").value;
      const result = await Dk.api("POST", `/api/v1/alerts/${id}/acknowledge`, { note });
      if (!result.ok) { Dk.say("inbox-status", Dk.problem(result), "red"); return; }
      form.replaceWith(Dk.el("span", {}, `acknowledged by you just now${note ? `: “${note}”` : ""}`));
      const row = document.querySelector(`tr[data-alert="${id}"] .tag.open, tr[data-alert="${id}"] .tag.escalated`);
      if (row) { row.textContent = "acknowledged"; row.className = "tag acknowledged"; }
      const until = document.querySelector(`tr[data-alert="${id}"] [data-until]`);
      if (until) until.remove();  // owned: no escalation countdown
      Dk.say("inbox-status", "Acknowledged: you own this alert now; escalation has stopped.", "green");
    });
  },

  add(alert) {
    if (!document.querySelector("#alerts tbody")) return;  // the single-alert page
    if (document.querySelector(`tr[data-alert="${alert.id}"]`)) return;
    const empty = document.getElementById("no-alerts");
    if (empty) empty.remove();
    const form = Dk.el("form", { class: "ack", "data-alert": alert.id },
      Dk.el("label", { for: `note-${alert.id}` }, "Note"),
      Dk.el("input", { id: `note-${alert.id}`, name: "note", maxlength: "2000" }),
      Dk.el("button", { type: "submit" }, "Acknowledge"));
    const row = Dk.el("tr", { "data-alert": alert.id, class: "new" },
      Dk.el("td", {}, Dk.el("span", { class: `tag ${alert.severity}` }, alert.severity)),
      Dk.el("td", {}, Dk.el("strong", {}, alert.kind.replaceAll("_", " ")), Dk.el("br"), alert.message),
      Dk.el("td", {}, Dk.el("time", { datetime: alert.created_at, "data-ago": true }, Dk.ago(alert.created_at))),
      Dk.el("td", {}, Dk.el("span", { class: `tag ${alert.state}` }, alert.state), ` level ${alert.escalation_level}`),
      Dk.el("td", {}, (alert.deliveries || []).length ? "" : "queued"),
      Dk.el("td", {}, form));
    document.querySelector("#alerts tbody").prepend(row);
    this.wire(form);
    Dk.say("inbox-status", `New ${alert.severity} alert: ${alert.kind.replaceAll("_", " ")}.`, alert.severity === "urgent" ? "red" : "amber");
  },
};

document.addEventListener("DOMContentLoaded", () => Inbox.init());
