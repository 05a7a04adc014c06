// The patient's injection page: start a course, record a dose given, stop a course. Each
// finding the API returns sits beside its field, in the API's own words; on success the page is
// read again (the status, the next due date and the log all change).
"use strict";

const Injections = {
  LABELS: {
    product: "The product",
    dose_mg: "The dose",
    started_on: "The first dose's date",
    prescriber_id: "The prescriber",
    place: "Where it was given",
    given_at: "The date and time given",
    site: "The site",
    batch: "The batch",
    expires_on: "The expiry date",
    given_by: "Who gave it",
    given_by_role: "Their role",
    place_name: "Where it was given",
    note: "The note",
    stopped_on: "The date it stops",
    reason: "Why",
  },

  // A message that reads after its field's name ("is required", "must be ..."); any other is a
  // sentence of its own ("say who gave it") and is shown alone.
  PREDICATE: /^(is|are|was|were|must|may|can|cannot|needs?|has|have|does|should)\b/,

  init() {
    const bind = (id, action) => {
      const form = document.getElementById(id);
      if (form) form.addEventListener("submit", (event) => { event.preventDefault(); action.call(this, form); });
    };
    bind("course-form", this.start);
    bind("administration", this.give);
    bind("stop", this.stop);
  },

  clear(form) {
    for (const box of form.querySelectorAll(".field-error")) box.replaceChildren();
    for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
  },

  show(form, result) {
    const d = result.data || {};
    const errors = Array.isArray(d.errors) && d.errors.length ? d.errors : [{ field: "form", message: d.detail || Dk.problem(result) }];
    for (const e of errors) {
      const field = String(e.field || "form").replace(/^body\./, "");
      const slot = form.querySelector(`.field-error[data-field="${field}"]`) || form.querySelector('.field-error[data-field="form"]');
      const message = UkDate.reword(e.message || "");
      const label = this.PREDICATE.test(message) ? this.LABELS[field] : null;
      const sentence = label ? `${label} ${message}` : `${message.charAt(0).toUpperCase()}${message.slice(1)}`;
      if (slot) slot.append(Dk.el("span", { class: "finding red" }, `${sentence}${sentence.endsWith(".") ? "" : "."}`), " ");
      const input = form.querySelector(`[name="${field}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    }
  },

  value(form, name) {
    const field = form.elements.namedItem(name);
    const text = field && field.value !== undefined ? field.value.trim() : "";
    if (text === "") return null;
    return field.classList && field.classList.contains("date") ? UkDate.iso(text) : text;
  },

  // A blank field is left out of the body, so the API says it is required (a null would read
  // as a value of the wrong type).
  filled(body) {
    return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== null));
  },

  number(form, name) {
    const text = this.value(form, name);
    return text !== null && /^\d+$/.test(text) ? Number(text) : text;
  },

  // The date and time typed, at this computer's clock, as an instant; no time: now if today,
  // else midday (the record says the time was not given in its note).
  givenAt(form) {
    const day = this.value(form, "given_on");
    if (!day || !/^\d{4}-\d{2}-\d{2}$/.test(day)) return day;
    const time = this.value(form, "given_time");
    const now = new Date();
    const [y, m, d] = day.split("-").map(Number);
    let hours = 12; let minutes = 0;
    if (time && /^\d{1,2}:\d{2}$/.test(time)) {
      [hours, minutes] = time.split(":").map(Number);
    } else if (time) {
      return time;
    } else if (y === now.getFullYear() && m === now.getMonth() + 1 && d === now.getDate()) {
      return now.toISOString();
    }
    return new Date(y, m - 1, d, hours, minutes).toISOString();
  },

  async start(form) {
    this.clear(form);
    const body = {
      product: this.value(form, "product"),
      dose_mg: this.number(form, "dose_mg"),
      started_on: this.value(form, "started_on"),
      note: this.value(form, "note") || "",
    };
    const result = await Dk.api("POST", `/api/v1/patients/${form.dataset.patient}/injections`, this.filled(body));
    if (result.ok) { window.location.reload(); return; }
    this.show(form, result);
  },

  async give(form) {
    this.clear(form);
    const place = form.querySelector('input[name="place"]:checked');
    const body = {
      place: place ? place.value : null,
      given_at: this.givenAt(form),
      dose_mg: this.number(form, "dose_mg"),
      site: this.value(form, "site"),
      batch: this.value(form, "batch"),
      expires_on: this.value(form, "expires_on"),
      given_by: this.value(form, "given_by") || "",
      given_by_role: this.value(form, "given_by_role") || "",
      place_name: this.value(form, "place_name") || "",
      note: this.value(form, "note") || "",
    };
    const path = `/api/v1/patients/${form.dataset.patient}/injections/${form.dataset.course}/administrations`;
    const result = await Dk.api("POST", path, this.filled(body));
    if (result.ok) { window.location.reload(); return; }
    this.show(form, result);
  },

  async stop(form) {
    this.clear(form);
    const body = { stopped_on: this.value(form, "stopped_on"), reason: this.value(form, "reason") };
    const result = await Dk.api("POST", `/api/v1/patients/${form.dataset.patient}/injections/${form.dataset.course}/stop`, this.filled(body));
    if (result.ok) { window.location.reload(); return; }
    this.show(form, result);
  },
};

document.addEventListener("DOMContentLoaded", () => Injections.init());
