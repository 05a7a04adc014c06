// The last-dose look-up (a clinician's session, or a look-up link's token read from the
// address's fragment, never sent as part of a URL) and the pharmacist's look-up links.
"use strict";

const Lookup = {
  KEY: "dosekeeper-lookup-link",
  LABELS: { nhs_number: "The NHS number", contact_id: "Who it is for", pharmacy_id: "The pharmacy" },

  init() {
    const form = document.getElementById("lookup-form");
    if (form) {
      this.takeLink();
      form.addEventListener("submit", (event) => { event.preventDefault(); this.lookUp(form); });
    }
    const issue = document.getElementById("issue-link");
    if (issue) issue.addEventListener("submit", (event) => { event.preventDefault(); this.issue(issue); });
    for (const button of document.querySelectorAll("button.revoke")) {
      button.addEventListener("click", () => this.revoke(button));
    }
  },

  // The link's token arrives as #link=…: kept for this tab only, and taken out of the address
  // bar so it is not bookmarked, shared or left in the history.
  takeLink() {
    const match = window.location.hash.match(/^#link=([A-Za-z0-9._-]+)$/);
    if (match) {
      sessionStorage.setItem(this.KEY, match[1]);
      history.replaceState(null, "", window.location.pathname);
    }
    const status = document.getElementById("link-status");
    if (status && sessionStorage.getItem(this.KEY)) {
      status.textContent = "Using the look-up link the pharmacy sent you.";
    }
  },

  clear(form) {
    for (const box of form.querySelectorAll(".field-error")) box.textContent = "";
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  },

  // Each finding next to its field, in words; anything else as a sentence in the status box.
  showProblem(form, result, statusId) {
    const d = result.data || {};
    let shown = false;
    for (const e of Array.isArray(d.errors) ? d.errors : []) {
      const box = form.querySelector(`.field-error[data-field="${e.field}"]`);
      if (!box) continue;
      box.textContent = `${this.LABELS[e.field] || e.field} ${e.message}.`;
      const input = form.elements.namedItem(e.field);
      if (input) input.setAttribute("aria-invalid", "true");
      shown = true;
    }
    if (!shown) Dk.say(statusId, this.sentence(result), "red");
    else Dk.say(statusId, "", "");
  },

  sentence(result) {
    const d = result.data || {};
    if (result.status === 401 && !sessionStorage.getItem(this.KEY)) {
      return "Sign in with your clinician account, or open the look-up link the pharmacy sent you.";
    }
    if (result.status === 401) {
      return `${d.detail || "This look-up link cannot be used"}.`;
    }
    if (result.status === 429) return `${d.detail || "Too many look-ups; try again later"}.`;
    const text = d.detail || d.title || `The look-up did not work (${result.status})`;
    return text.endsWith(".") ? text : `${text}.`;
  },

  async lookUp(form) {
    this.clear(form);
    const nhs = form.elements.namedItem("nhs_number").value.trim();
    const headers = { Accept: "application/json", "Content-Type": "application/json" };
    const link = sessionStorage.getItem(this.KEY);
    if (link) headers.Authorization = `Bearer ${link}`;
    else headers["X-CSRF-Token"] = Dk.csrf();
    let result;
    try {
      const response = await fetch("/api/v1/lookup", {
        method: "POST", headers, credentials: "same-origin", body: JSON.stringify({ nhs_number: nhs }),
      });
      const text = await response.text();
      let data = null;
      try { data = text ? JSON.parse(text) : null; } catch (e) { data = { detail: text }; }
      result = { ok: response.ok, status: response.status, data };
    } finally {
      Dk.release(form);
    }
    const section = document.getElementById("result");
    if (!result.ok) {
      section.hidden = true;
      this.showProblem(form, result, "lookup-status");
      return;
    }
    Dk.say("lookup-status", "", "");
    section.hidden = false;
    document.getElementById("result-body").replaceChildren(...this.answer(result.data));
  },

  ukDate(iso) {
    if (!iso) return "—";
    const [y, m, d] = iso.split("-");
    return `${d}/${m}/${y}`;
  },

  row(term, ...value) {
    return [Dk.el("dt", { text: term }), Dk.el("dd", {}, ...value)];
  },

  answer(a) {
    const p = a.patient;
    const t = a.treatment;
    const nodes = [];
    if (a.blocked_today) {
      nodes.push(Dk.el("div", { class: "banner red", role: "alert" },
        Dk.el("strong", { text: "The pharmacy would not supply today" }),
        Dk.el("ul", {}, a.block_reasons.map((b) => Dk.el("li", { text: b.message })))));
    }
    const dl = Dk.el("dl", { id: "answer" },
      this.row("Patient", `${p.given_name} ${p.family_name}, born ${this.ukDate(p.date_of_birth)}, NHS number ${p.nhs_number}`),
      this.row("Current dose", t ? `${t.product_name}: ${Dk.num(t.daily_dose_mg)} mg a day${t.daily_dose_ml ? ` (${Dk.num(t.daily_dose_ml)} mL)` : ""}` : "No current prescription at the pharmacy"),
      this.row("Last dose", a.last_dose.text.replace(/^last dose taken: /, "")),
      this.row("Suspended", a.suspension ? `Yes, from ${this.ukDate(a.suspension.from_date)} (${a.suspension.reason_text})` : "No"),
      this.row("Blocked today", a.blocked_today ? "Yes" : "No"),
      this.row("Dispensing pharmacy", `${a.pharmacy.name}, ${a.pharmacy.address}. Phone ${a.pharmacy.phone}`),
    );
    nodes.push(dl);
    nodes.push(Dk.el("p", { class: "muted", text: "Confirm the name and date of birth with the patient. A take-home dose is recorded when it was handed over, not when it was swallowed." }));
    return nodes;
  },

  async issue(form) {
    this.clear(form);
    const body = { contact_id: form.elements.namedItem("contact_id").value };
    const pharmacy = form.elements.namedItem("pharmacy_id");
    if (pharmacy && pharmacy.value.trim()) body.pharmacy_id = pharmacy.value.trim();
    const result = await Dk.api("POST", "/api/v1/lookup/links", body);
    if (!result.ok) {
      this.showProblem(form, result, "issue-status");
      return;
    }
    const link = result.data;
    const option = form.elements.namedItem("contact_id").selectedOptions[0];
    const email = option ? option.dataset.email : "";
    const mail = `mailto:${encodeURIComponent(email)}?subject=${encodeURIComponent("Dosekeeper last-dose look-up link")}&body=${encodeURIComponent(`Use this link to look up our patients' last dose when we are closed (valid until ${Dk.when(link.expires_at)}):\n\n${link.url}\n`)}`;
    const box = document.getElementById("issue-status");
    box.replaceChildren(Dk.el("div", { class: "banner green", role: "status" },
      Dk.el("strong", { text: `Link made for ${link.contact}` }),
      Dk.el("p", { text: "It is shown this once: send it to their mailbox now." }),
      Dk.el("p", {}, Dk.el("label", { for: "new-link", text: "The link" }), " ",
        Dk.el("input", { id: "new-link", value: link.url, readonly: true, size: 60 })),
      Dk.el("p", {}, Dk.el("a", { href: mail, text: `Email it to ${email}` }))));
  },

  async revoke(button) {
    const result = await Dk.api("POST", `/api/v1/lookup/links/${button.dataset.link}/revoke`, {});
    if (result.ok) {
      window.location.reload();
      return;
    }
    Dk.say("revoke-status", this.sentence(result), "red");
  },
};

document.addEventListener("DOMContentLoaded", () => Lookup.init());
