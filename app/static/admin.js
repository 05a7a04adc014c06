// The admin page: every change goes through the JSON API; the page reloads to show the result.
"use strict";

const done = (message) => { Dk.say("admin-status", message, "green"); };
const failed = (result) => { Dk.say("admin-status", Dk.problem(result), "red"); };

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("button.toggle-user").forEach((button) => {
    button.addEventListener("click", async () => {
      const result = await Dk.api("POST", `/api/v1/users/${button.dataset.user}/${button.dataset.action}`, {});
      if (!result.ok) return failed(result);
      window.location.reload();
    });
  });

  document.getElementById("user-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (id) => document.getElementById(id).value.trim();
    const result = await Dk.api("POST", "/api/v1/users", {
      username: value("u-username"), display_name: value("u-name"), role: value("u-role"),
      pharmacy_id: value("u-pharmacy") || null, password: document.getElementById("u-password").value,
    });
    if (!result.ok) return failed(result);
    window.location.reload();
  });

  document.querySelectorAll("form.opening").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const days = [...form.querySelectorAll("input[type=checkbox]:checked")].map((i) => Number(i.value));
      const result = await Dk.api("PUT", `/api/v1/pharmacies/${form.dataset.pharmacy}/opening-days`, { open_weekdays: days });
      if (!result.ok) return failed(result);
      done("Opening days saved.");
    });
  });

  document.querySelectorAll("form.closure").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const id = form.dataset.pharmacy;
      const result = await Dk.api("POST", `/api/v1/pharmacies/${id}/closures`, {
        date: document.getElementById(`closure-date-${id}`).value,
        reason: document.getElementById(`closure-reason-${id}`).value.trim(),
      });
      if (!result.ok) return failed(result);
      done(`Closure added; ${result.data.moved_days} instalment day(s) re-planned.`);
    });
  });

  document.getElementById("contact-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (id) => document.getElementById(id).value.trim();
    const result = await Dk.api("POST", "/api/v1/contacts", {
      name: value("c-name"), organisation: value("c-org"), kind: value("c-kind"),
      email: value("c-email") || null, webhook_url: value("c-hook") || null,
    });
    if (!result.ok) return failed(result);
    const box = document.getElementById("contact-secret");
    box.replaceChildren(Dk.el("div", { class: "banner amber", role: "status" },
      Dk.el("strong", {}, "Shown once: give these to the contact now"),
      result.data.webhook_secret ? Dk.el("p", {}, `Webhook secret: ${result.data.webhook_secret}`) : "",
      Dk.el("p", {}, `Atom feed: ${result.data.feed_url}`)));
  });

  document.querySelectorAll("button.test-hook").forEach((button) => {
    button.addEventListener("click", async () => {
      const result = await Dk.api("POST", `/api/v1/contacts/${button.dataset.contact}/test`, {});
      if (!result.ok) return failed(result);
      const r = result.data;
      Dk.say("admin-status", `Test webhook: ${r.outcome}${r.status_code ? ` (HTTP ${r.status_code})` : ""} ${r.detail}`, r.outcome === "delivered" ? "green" : "red");
    });
  });
});
