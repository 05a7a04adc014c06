// Dose exceptions: record one, supply an authorised replacement, record a return destroyed.
// Each refusal the API returns sits beside its field as a sentence; on success the page is
// read again.
"use strict";

const Exceptions = {
  LABELS: {
    kind: "What happened",
    dose_dates: "The dose's day",
    minutes_after: "Minutes after swallowing",
    police_reference: "The police reference",
    volume_ml: "The volume returned",
    authorised_by: "Who authorised it",
    authorised_at: "When it was authorised",
    authorised_how: "How it was authorised",
    dose_mg: "The dose",
    mode: "How it is supplied",
    not_intoxicated: "The attestation",
    acknowledged: "The take-home warnings",
    note: "The note",
    method: "How it was destroyed",
    witness: "The witness",
  },

  // A message that reads after its field's name ("is more than ..."); any other is a sentence
  // of its own ("give the volume returned, in mL") and is shown alone.
  PREDICATE: /^(is|are|was|were|must|may|can|cannot|needs?|has|have|does|should)\b/,

  init() {
    const form = document.getElementById("exception-form");
    if (form) form.addEventListener("submit", (event) => { event.preventDefault(); this.record(form); });
    for (const each of document.querySelectorAll("form.replacement-form")) {
      each.addEventListener("submit", (event) => { event.preventDefault(); this.replace(each); });
    }
    for (const each of document.querySelectorAll("form.destruction-form")) {
      each.addEventListener("submit", (event) => { event.preventDefault(); this.destroy(each); });
    }
  },

  clear(form) {
    for (const box of form.querySelectorAll(".field-error")) box.replaceChildren();
    for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
  },

  show(form, result) {
    const d = result.data || {};
    const errors = Array.isArray(d.errors) && d.errors.length
      ? d.errors.map((e) => ({ field: String(e.field || "form").split(".")[0], message: e.message }))
      : [{ field: d.field || "form", message: d.detail || Dk.problem(result), whole: true }];
    for (const e of errors) {
      const slot = form.querySelector(`.field-error[data-field="${e.field}"]`) || form.querySelector('.field-error[data-field="form"]');
      const label = e.whole || !this.PREDICATE.test(e.message) ? null : this.LABELS[e.field];
      const sentence = label ? `${label} ${e.message}` : `${e.message.charAt(0).toUpperCase()}${e.message.slice(1)}`;
      if (slot) slot.append(Dk.el("span", { class: "finding red" }, `${sentence}${sentence.endsWith(".") ? "" : "."}`), " ");
      const input = form.querySelector(`[name="${e.field}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    }
  },

  // A blank field is left out of the body, so the API says it is required (a null would read
  // as a value of the wrong type).
  filled(body) {
    return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null));
  },

  value(form, name) {
    const field = form.elements.namedItem(name);
    const text = field ? field.value.trim() : "";
    return text === "" ? null : text;
  },

  days(form) {
    const first = this.value(form, "first_date");
    const last = this.value(form, "last_date");
    if (!first) return [];
    const out = [];
    const day = new Date(`${first}T12:00:00Z`);
    const end = new Date(`${last || first}T12:00:00Z`);
    while (day <= end && out.length < 15) {
      out.push(day.toISOString().slice(0, 10));
      day.setUTCDate(day.getUTCDate() + 1);
    }
    return out;
  },

  async record(form) {
    this.clear(form);
    const minutes = this.value(form, "minutes_after");
    const body = {
      kind: this.value(form, "kind"),
      dose_dates: this.days(form),
      minutes_after: minutes === null ? null : Number(minutes),
      police_reference: this.value(form, "police_reference"),
      volume_ml: this.value(form, "volume_ml"),
      note: this.value(form, "note") || "",
    };
    const result = await Dk.api("POST", `/api/v1/patients/${form.dataset.patient}/dose-exceptions`, this.filled(body));
    if (result.ok) { window.location.reload(); return; }
    this.show(form, result);
  },

  async replace(form) {
    this.clear(form);
    const at = this.value(form, "authorised_at");
    const body = {
      authorised_by: this.value(form, "authorised_by"),
      authorised_at: at ? new Date(at).toISOString() : null,
      authorised_how: this.value(form, "authorised_how"),
      dose_mg: this.value(form, "dose_mg"),
      mode: this.value(form, "mode"),
      // Unticked is no attestation (null, left out): the API asks for it where it is needed.
      not_intoxicated: form.elements.namedItem("not_intoxicated").checked ? true : null,
      acknowledged: Array.from(form.querySelectorAll('input[name="acknowledged"]:checked'), (box) => box.value),
      note: this.value(form, "note") || "",
    };
    const result = await Dk.api("POST", `/api/v1/dose-exceptions/${form.dataset.exception}/replacement`, this.filled(body));
    if (result.ok) { window.location.reload(); return; }
    this.show(form, result);
  },

  async destroy(form) {
    this.clear(form);
    const body = { method: this.value(form, "method"), witness: this.value(form, "witness") };
    const result = await Dk.api("POST", `/api/v1/dose-returns/${form.dataset.exception}/destruction`, this.filled(body));
    if (result.ok) { window.location.reload(); return; }
    this.show(form, result);
  },
};

document.addEventListener("DOMContentLoaded", () => Exceptions.init());
