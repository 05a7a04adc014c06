// Prescription intake and the second pharmacist's check: every finding the API returns is shown
// at once, each next to the field it concerns, in the API's own plain words.
"use strict";

const Rx = {
  LABELS: {
    form_type: "The form type",
    prescriber_id: "The prescriber",
    prescriber_address: "The prescriber's address",
    product: "The medicine",
    daily_dose_mg: "The daily dose in figures",
    direction_text: "The direction as written",
    total_quantity_words: "The total in words",
    total_quantity_ml: "The total in figures",
    collection_days: "The instalment days",
    supervised_days: "The supervised days",
    start_on: "The start date",
    end_on: "The last dose date",
    wording: "The Home Office wordings",
    written_on: "The date signed",
    last_dose: "The last dose taken",
    dose_parts: "The split dose",
    steps: "The stepped dose",
    reason: "The reason",
    from_date: "The date it is suspended from",
    last_dose_on: "The date of the last dose given",
    last_dose_source: "Who confirmed it",
    note: "The note",
  },

  init() {
    const intake = document.getElementById("intake");
    if (intake) {
      intake.addEventListener("submit", (event) => { event.preventDefault(); this.transcribe(intake); });
      const prescriber = document.getElementById("prescriber_id");
      const address = document.getElementById("prescriber_address");
      const hint = () => {
        const option = prescriber.selectedOptions[0];
        address.placeholder = option ? option.dataset.address || "" : "";
      };
      prescriber.addEventListener("change", hint);
      hint();
    }
    const verify = document.getElementById("verify");
    if (verify) verify.addEventListener("submit", (event) => { event.preventDefault(); this.verify(verify); });
    const cancel = document.getElementById("cancel");
    if (cancel) cancel.addEventListener("submit", (event) => { event.preventDefault(); this.cancel(cancel); });
    for (const [id, action] of [["suspend", "suspend"], ["resume", "resume"]]) {
      const form = document.getElementById(id);
      if (form) form.addEventListener("submit", (event) => { event.preventDefault(); this.suspension(form, action); });
    }
  },

  value(form, name) {
    const field = form.elements.namedItem(name);
    const text = field ? field.value.trim() : "";
    if (text === "") return null;
    return field.classList && field.classList.contains("date") ? UkDate.iso(text) : text;
  },

  checked(form, name) {
    return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
  },

  body(form) {
    const wording = {};
    for (const key of this.checked(form, "wording")) wording[key] = true;
    const body = {
      patient_id: form.dataset.patient,
      prescriber_id: this.value(form, "prescriber_id"),
      form_type: this.value(form, "form_type"),
      prescriber_address: this.value(form, "prescriber_address"),
      product: this.value(form, "product") || "",
      daily_dose_mg: this.value(form, "daily_dose_mg"),
      direction_text: this.value(form, "direction_text"),
      total_quantity_words: this.value(form, "total_quantity_words"),
      total_quantity_ml: this.value(form, "total_quantity_ml"),
      collection_days: this.checked(form, "collection_days"),
      supervised_days: this.checked(form, "supervised_days"),
      start_on: this.value(form, "start_on"),
      end_on: this.value(form, "end_on"),
      written_on: this.value(form, "written_on"),
      wording,
    };
    // A split or stepped direction: only the rows the transcriber filled in.
    body.dose_parts = [1, 2, 3].filter((n) => this.value(form, `part_when_${n}`) || this.value(form, `part_mg_${n}`))
      .map((n) => ({
        when: this.value(form, `part_when_${n}`) || "",
        dose_mg: this.value(form, `part_mg_${n}`),
        supervised: form.elements.namedItem(`part_supervised_${n}`).checked,
      }));
    body.steps = [1, 2, 3, 4].filter((n) => this.value(form, `step_on_${n}`) || this.value(form, `step_mg_${n}`))
      .map((n) => ({ starts_on: this.value(form, `step_on_${n}`), daily_dose_mg: this.value(form, `step_mg_${n}`) }));
    if (form.dataset.supersedes) body.supersedes_id = form.dataset.supersedes;
    const source = this.value(form, "last_dose_source");
    if (source) {
      body.last_dose = {
        source,
        taken_on: this.value(form, "last_dose_on"),
        detail: this.value(form, "last_dose_detail") || "",
      };
    }
    return body;
  },

  clear(form) {
    for (const box of form.querySelectorAll(".field-error")) box.replaceChildren();
    for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
  },

  // Where a finding goes: the field's own slot, else the one for its parent (last_dose.taken_on),
  // else the form's.
  slot(form, field) {
    const name = field || "form";
    return form.querySelector(`.field-error[data-field="${name}"]`)
      || form.querySelector(`.field-error[data-field="${name.split(".")[0]}"]`)
      || form.querySelector('.field-error[data-field="form"]');
  },

  sentence(field, message) {
    const base = (field || "").split(".")[0];
    const label = this.LABELS[base];
    const text = label ? `${label} ${UkDate.reword(message)}` : message;
    const trimmed = text.trim();
    const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
    return /[.!?]$/.test(capital) ? capital : `${capital}.`;
  },

  // Every finding of a refusal: [{field, text, kind}] in the order the API gave them.
  findings(result) {
    const d = result.data || {};
    const out = [];
    for (const e of d.errors || []) out.push({ field: e.field === "body" ? null : e.field, text: this.sentence(e.field, e.message), kind: "red" });
    for (const b of d.blocks || []) out.push({ field: b.field, text: this.sentence(null, b.message), kind: "red" });
    for (const w of d.warnings || []) out.push({ field: w.field, text: this.sentence(null, w.message), kind: "amber" });
    return out;
  },

  show(form, items) {
    for (const item of items) {
      const slot = this.slot(form, item.field);
      if (!slot) continue;
      slot.append(Dk.el("span", { class: `finding ${item.kind}` }, item.text), " ");
      const input = item.field ? form.querySelector(`[name="${item.field.split(".")[0]}"]`) : null;
      if (input && item.kind === "red") input.setAttribute("aria-invalid", "true");
    }
  },

  async transcribe(form) {
    this.clear(form);
    Dk.say("intake-summary", "");
    const result = await Dk.api("POST", "/api/v1/prescriptions", this.body(form));
    if (result.ok) {
      const p = result.data;
      const warnings = (p.warnings || []).map((w) => Dk.el("li", {}, this.sentence(null, w.message)));
      const box = document.getElementById("intake-summary");
      box.replaceChildren(Dk.el("div", { class: "banner green", role: "status" },
        Dk.el("strong", {}, "Saved as pending check."),
        "A second pharmacist must check it before anything is supplied. ",
        Dk.el("a", { href: `/prescriptions/${p.id}` }, "Open the check screen"),
        warnings.length ? Dk.el("ul", {}, warnings) : null));
      // What the second pharmacist should look at, beside the field it concerns.
      this.show(form, (p.warnings || []).map((w) => ({ field: w.field, text: this.sentence(null, w.message), kind: "amber" })));
      for (const control of form.querySelectorAll("input, select, textarea, button")) control.disabled = true;
      box.scrollIntoView();
      return;
    }
    const d = result.data || {};
    let items = this.findings(result);
    if (d.code === "overlapping_prescription") {
      const links = (d.overlapping || []).map((id) => Dk.el("a", { href: `/prescriptions/${id}` }, "the other prescription"));
      Dk.say("intake-summary", "");
      document.getElementById("intake-summary").replaceChildren(Dk.el("p", { class: "banner red", role: "alert" },
        "Another prescription for this medicine covers some of the same days. Open ", links,
        " and choose to replace it, so that no day is supplied twice."));
      return;
    }
    if (!items.length) items = [{ field: null, text: this.sentence(null, Dk.problem(result)), kind: "red" }];
    this.show(form, items);
    const blocks = items.filter((i) => i.kind === "red").length;
    const summary = Dk.el("div", { class: "banner red", role: "alert" },
      Dk.el("strong", {}, blocks ? `Not saved: ${blocks} problem(s) to put right.` : "Not saved."),
      Dk.el("ul", {}, items.map((i) => Dk.el("li", {}, i.text))));
    document.getElementById("intake-summary").replaceChildren(summary);
    summary.scrollIntoView();
  },

  async verify(form) {
    const id = form.dataset.prescription;
    const acknowledged = [...form.querySelectorAll("input[name=acknowledged]:checked")].map((i) => i.value);
    const result = await Dk.api("POST", `/api/v1/prescriptions/${id}/verify`, { acknowledged });
    if (!result.ok) {
      const items = this.findings(result);
      Dk.say("check-status", items.length ? items.map((i) => i.text).join(" ") : this.sentence(null, Dk.problem(result)), "red");
      return;
    }
    Dk.say("check-status", "Verified: the prescription is active and its schedule is on the counter's due list.", "green");
    form.replaceWith(Dk.el("p", {}, "Checked by you just now."));
    const status = document.getElementById("status");
    status.textContent = "active";
    status.className = "tag ok";
  },

  // Suspend from a date, or resume today, one prescription or all of a patient's (the form's
  // data-url says which); on success the page is read again (the schedule, the status and the
  // history all change), on refusal each finding sits by its field.
  async suspension(form, action) {
    this.clear(form);
    const body = { note: this.value(form, "note") || "" };
    if (action === "suspend") {
      body.from_date = this.value(form, "from_date");
      body.reason = this.value(form, "reason");
    } else {
      body.last_dose_source = this.value(form, "last_dose_source");
      body.last_dose_on = this.value(form, "last_dose_on");
    }
    const result = await Dk.api("POST", `${form.dataset.url}/${action}`, body);
    if (result.ok) {
      window.location.reload();
      return;
    }
    const items = this.findings(result);
    this.show(form, items.length ? items : [{ field: null, text: this.sentence(null, Dk.problem(result)), kind: "red" }]);
  },

  async cancel(form) {
    this.clear(form);
    const id = form.dataset.prescription;
    const reason = form.elements.namedItem("reason").value;
    const result = await Dk.api("POST", `/api/v1/prescriptions/${id}/cancel`, { reason });
    if (!result.ok) {
      const items = this.findings(result);
      if (items.length) this.show(form, items.map((i) => ({ ...i, field: i.field || "reason" })));
      else Dk.say("check-status", this.sentence(null, Dk.problem(result)), "red");
      return;
    }
    Dk.say("check-status", "Cancelled: its uncollected days from today are off the schedule.", "green");
    form.replaceWith(Dk.el("p", {}, `Cancelled by you just now: ${reason}`));
    const verify = document.getElementById("verify");
    if (verify) verify.remove();
    const status = document.getElementById("status");
    status.textContent = "cancelled";
    status.className = "tag missed";
  },
};

document.addEventListener("DOMContentLoaded", () => Rx.init());
