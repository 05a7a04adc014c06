// Guest dosing on the prescription page: grant another pharmacy the days of a stay, or end a
// grant early. Each finding the API returns sits beside its field, in the API's own words; on
// success the page is read again (the schedule and the grants both change).
"use strict";

const Guests = {
  LABELS: {
    guest_ods_code: "The ODS code",
    from_date: "The first day",
    to_date: "The last day",
    note: "About the stay",
    reason: "The reason",
    to_ods_code: "The ODS code",
    handover_note: "The handover note",
  },

  init() {
    const form = document.getElementById("guest-grant");
    if (form) form.addEventListener("submit", (event) => { event.preventDefault(); this.grant(form); });
    const transfer = document.getElementById("transfer");
    if (transfer) transfer.addEventListener("submit", (event) => { event.preventDefault(); this.transfer(transfer); });
    for (const end of document.querySelectorAll("form.end-guest")) {
      end.addEventListener("submit", (event) => { event.preventDefault(); this.end(end); });
    }
  },

  clear(form) {
    for (const box of form.querySelectorAll(".field-error")) box.replaceChildren();
    for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
  },

  show(form, result) {
    const d = result.data || {};
    const errors = Array.isArray(d.errors) && d.errors.length ? d.errors : [{ field: "form", message: d.detail || Dk.problem(result) }];
    for (const e of errors) {
      const slot = form.querySelector(`.field-error[data-field="${e.field}"]`) || form.querySelector('.field-error[data-field="form"]');
      const label = this.LABELS[e.field];
      const sentence = label ? `${label} ${e.message}` : `${e.message.charAt(0).toUpperCase()}${e.message.slice(1)}`;
      const text = `${sentence}${sentence.endsWith(".") ? "" : "."}`;
      if (slot) slot.append(Dk.el("span", { class: "finding red" }, text), " ");
      const input = form.querySelector(`[name="${e.field}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    }
  },

  value(form, name) {
    const field = form.elements.namedItem(name);
    const text = field ? field.value.trim() : "";
    if (text === "") return null;
    return field.classList.contains("date") ? UkDate.iso(text) : text;
  },

  async grant(form) {
    this.clear(form);
    const body = {
      guest_ods_code: this.value(form, "guest_ods_code"),
      from_date: this.value(form, "from_date"),
      to_date: this.value(form, "to_date"),
      note: this.value(form, "note"),
    };
    const result = await Dk.api("POST", `/api/v1/prescriptions/${form.dataset.prescription}/guest-grants`, body);
    if (result.ok) { window.location.reload(); return; }
    this.show(form, result);
  },

  // A transfer: on success this pharmacy no longer sees the patient, so the page says where
  // they went instead of reloading into "not found".
  async transfer(form) {
    this.clear(form);
    const body = { to_ods_code: this.value(form, "to_ods_code"), handover_note: this.value(form, "handover_note") };
    const result = await Dk.api("POST", `/api/v1/patients/${form.dataset.patient}/transfer`, body);
    if (!result.ok) { this.show(form, result); return; }
    form.replaceWith(Dk.el("p", { id: "transferred", class: "banner green", role: "status" },
      `Transferred to ${result.data.to_pharmacy.name} (${result.data.to_pharmacy.phone}) with your handover note. `
      + "This pharmacy no longer sees the patient; what it supplied stays in its records."));
  },

  async end(form) {
    this.clear(form);
    const body = { reason: this.value(form, "reason") };
    const result = await Dk.api("POST", `/api/v1/guest-grants/${form.dataset.grant}/end`, body);
    if (result.ok) { window.location.reload(); return; }
    this.show(form, result);
  },
};

document.addEventListener("DOMContentLoaded", () => Guests.init());
