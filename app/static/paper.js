// The reconciliation page: the lines of an outage sheet posted at once; each finding the API
// returns is shown beside its line, in the API's own words; on success the page is read again
// so the entered list shows what the record made of each line.
"use strict";

const Paper = {
  init() {
    const form = document.getElementById("paper-sheet");
    if (form) form.addEventListener("submit", (event) => { event.preventDefault(); this.enter(form); });
  },

  clear(form) {
    for (const box of form.querySelectorAll(".field-error")) box.replaceChildren();
    for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
  },

  // "entries.2.given_at" -> the row of the third line entered, and its field.
  place(form, rows, field) {
    const match = /^entries\.(\d+)\.(\w+)$/.exec(field || "");
    if (match && rows[Number(match[1])]) {
      const row = rows[Number(match[1])];
      return { slot: row.querySelector(`.field-error[data-field="${match[2]}"]`), input: row.querySelector(`[name="${match[2]}"]`) };
    }
    return { slot: form.querySelector(`.field-error[data-field="${field}"]`) || form.querySelector('.field-error[data-field="form"]'), input: form.querySelector(`[name="${field}"]`) };
  },

  show(form, rows, field, text) {
    const { slot, input } = this.place(form, rows, field);
    if (slot) slot.append(Dk.el("span", { class: "finding red" }, text), " ");
    if (input) input.setAttribute("aria-invalid", "true");
  },

  async enter(form) {
    this.clear(form);
    const rows = [];
    const entries = [];
    for (const row of form.querySelectorAll("tr[data-patient]")) {
      const outcome = row.querySelector('[name="outcome"]').value;
      if (!outcome) continue;
      rows.push(row);
      entries.push({
        patient_id: row.dataset.patient,
        date: form.dataset.date,
        outcome,
        given_at: row.querySelector('[name="given_at"]').value.trim() || null,
        given_by: row.querySelector('[name="given_by"]').value.trim(),
      });
    }
    if (!entries.length) {
      this.show(form, rows, "form", "Choose what the sheet says for at least one patient.");
      return;
    }
    const body = { sheet_reference: form.elements.namedItem("sheet_reference").value.trim(), entries };
    const result = await Dk.api("POST", "/api/v1/counter/paper-doses", body);
    if (result.ok) {
      window.location.reload();
      return;
    }
    const d = result.data || {};
    const errors = Array.isArray(d.errors) && d.errors.length ? d.errors : [{ field: d.field || "form", message: d.detail || Dk.problem(result) }];
    for (const e of errors) {
      const field = (e.field || "form").replace(/^body\./, "");
      const text = `${e.message.charAt(0).toUpperCase()}${e.message.slice(1)}${e.message.endsWith(".") ? "" : "."}`;
      this.show(form, rows, field, text);
    }
    Dk.say("paper-status", "Nothing was entered: put right what is marked and enter the sheet again.", "red");
  },
};

document.addEventListener("DOMContentLoaded", () => Paper.init());
