// The admin page: every change goes through the JSON API. A change that alters what the page
// lists reloads it, carrying its confirmation across the reload; every new action first clears
// the previous action's message, so a stale error never sits next to a success.
"use strict";

const FLASH = "dosekeeper-admin-flash";
const done = (message) => { Dk.say("admin-status", message, "green"); };
const failed = (result) => { Dk.say("admin-status", Dk.problem(result), "red"); };
const clear = () => { Dk.say("admin-status", "", "green"); };
const reloadSaying = (message) => {
  window.sessionStorage.setItem(FLASH, message);
  window.location.reload();
};
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
const replanned = (data) => `${plural(data.moved_days, "instalment day", "instalment days")} re-planned; `
  + `${plural(data.alerts_raised, "alert", "alerts")} raised asking a prescriber to amend.`;

document.addEventListener("DOMContentLoaded", () => {
  const flash = window.sessionStorage.getItem(FLASH);
  if (flash) { window.sessionStorage.removeItem(FLASH); done(flash); }
  document.querySelectorAll("form").forEach((form) => form.addEventListener("submit", clear, true));

  document.querySelectorAll("button.toggle-user").forEach((button) => {
    button.addEventListener("click", async () => {
      clear();
      // Disabling signs the person out everywhere at once: confirm every one.
      if (button.dataset.action === "disable"
          && !window.confirm(`Disable ${button.dataset.username}? Every session of theirs ends now.`)) return;
      const result = await Dk.api("POST", `/api/v1/users/${button.dataset.user}/${button.dataset.action}`, {});
      if (!result.ok) return failed(result);
      reloadSaying(`${button.dataset.username} ${button.dataset.action}d.`);
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
    reloadSaying(`User ${result.data.username} added.`);
  });

  document.querySelectorAll("form.opening").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const days = [...form.querySelectorAll("input[type=checkbox]:checked")].map((i) => Number(i.value));
      const path = `/api/v1/pharmacies/${form.dataset.pharmacy}/opening-days`;
      let result = await Dk.api("PUT", path, { open_weekdays: days });
      // Closing a weekday that schedules still collect on: name them, and save only if confirmed.
      if (!result.ok && result.data && result.data.code === "opening_days_affect_schedules") {
        if (!window.confirm(`${result.data.detail}\n\nSave the new opening days anyway?`)) {
          return Dk.say("admin-status", `Not saved. ${result.data.detail}`, "amber");
        }
        result = await Dk.api("PUT", path, { open_weekdays: days, confirm_affected: true });
      }
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
      reloadSaying(`Closure added: ${replanned(result.data)}`);
    });
  });

  document.querySelectorAll("form.remove-closure").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = await Dk.api(
        "POST", `/api/v1/pharmacies/${form.dataset.pharmacy}/closures/${form.dataset.date}/remove`,
        { reason: form.querySelector("input").value.trim() },
      );
      if (!result.ok) return failed(result);
      reloadSaying(`Closure removed: ${replanned(result.data)}`);
    });
  });

  const testHook = async (contactId) => {
    clear();
    const result = await Dk.api("POST", `/api/v1/contacts/${contactId}/test`, {});
    if (!result.ok) return failed(result);
    const r = result.data;
    Dk.say("admin-status", `Test webhook: ${r.outcome}${r.status_code ? ` (HTTP ${r.status_code})` : ""} ${r.detail}`,
      r.outcome === "delivered" ? "green" : "red");
  };
  document.querySelectorAll("button.test-hook").forEach((button) => {
    button.addEventListener("click", () => testHook(button.dataset.contact));
  });

  const copyable = (label, value, id) => Dk.el("p", {},
    Dk.el("label", { for: id }, label), " ",
    Dk.el("input", { id, value, readonly: "", size: "48" }), " ",
    Dk.el("button", { type: "button", class: "secondary copy", "data-copy": id }, `Copy ${label.toLowerCase()}`));

  document.getElementById("contact-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = (id) => document.getElementById(id).value.trim();
    const result = await Dk.api("POST", "/api/v1/contacts", {
      name: value("c-name"), organisation: value("c-org"), kind: value("c-kind"),
      email: value("c-email") || null, webhook_url: value("c-hook") || null,
    });
    if (!result.ok) return failed(result);
    const c = result.data;
    done(`Contact ${c.name} added.`);
    // The new contact joins the table at once (no reload: the secret below is shown only now).
    document.getElementById("contacts-body").append(Dk.el("tr", {},
      Dk.el("td", {}, c.name), Dk.el("td", {}, c.organisation), Dk.el("td", {}, c.kind.replaceAll("_", " ")),
      Dk.el("td", {}, c.email || "-"), Dk.el("td", {}, c.webhook_url || "-")));
    const box = document.getElementById("contact-secret");
    box.replaceChildren(Dk.el("div", { class: "banner amber", role: "status" },
      Dk.el("strong", {}, `Shown once: give these to ${c.name} now`),
      c.webhook_secret ? copyable("Webhook secret", c.webhook_secret, "new-secret") : "",
      copyable("Feed URL", c.feed_url, "new-feed"),
      c.webhook_url ? Dk.el("p", {}, Dk.el("button", { type: "button", class: "secondary", id: "new-test" },
        `Send a test event to ${c.name}`)) : ""));
    box.querySelectorAll("button.copy").forEach((button) => button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copy);
      field.select();
      try { await navigator.clipboard.writeText(field.value); } catch { document.execCommand("copy"); }
      Dk.say("admin-status", `${button.textContent.replace("Copy ", "")} copied.`.replace(/^./, (x) => x.toUpperCase()), "green");
    }));
    const test = document.getElementById("new-test");
    if (test) test.addEventListener("click", () => testHook(c.id));
    document.getElementById("contact-form").reset();
  });
});
