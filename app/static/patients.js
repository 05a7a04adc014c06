// The patients and households pages: every change goes through the JSON API; a refusal is
// shown as sentences next to the fields it concerns, and the page reloads to show the result.
"use strict";

const Forms = {
  // "09/06/1984" -> "1984-06-09"; "" -> null; anything else (or a day that does not exist) -> undefined.
  ukDate(text) {
    const value = (text || "").trim();
    if (!value) return null;
    const m = value.match(/^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/);
    if (!m) return undefined;
    const [day, month, year] = [Number(m[1]), Number(m[2]), Number(m[3])];
    const d = new Date(Date.UTC(year, month - 1, day));
    if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return undefined;
    return `${m[3]}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
  },

  clear(form) {
    for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
    for (const control of form.querySelectorAll("[aria-invalid]")) control.removeAttribute("aria-invalid");
    const status = form.querySelector(".status");
    if (status) status.replaceChildren();
  },

  // Put one sentence next to the field it concerns; false if the form has no such field.
  fieldError(form, field, message) {
    const slot = form.querySelector(`.field-error[data-error-for="${CSS.escape(field)}"]`);
    if (!slot) return false;
    const text = `${slot.dataset.name} ${message}`;
    slot.textContent = text.endsWith(".") ? text : `${text}.`;
    const control = form.querySelector(`[name="${CSS.escape(field)}"]`);
    if (control) control.setAttribute("aria-invalid", "true");
    return true;
  },

  // A refusal from the API: each field error next to its field; anything else in the form's
  // status box, as the problem's own sentence (never its JSON).
  refused(form, result) {
    const d = result.data || {};
    // Refusals that concern one field without naming it, said next to that field.
    const byCode = { duplicate_nhs_number: ["nhs_number", "is already registered here: search for it above"] };
    const rest = [];
    if (Array.isArray(d.errors) && d.errors.length) {
      for (const e of d.errors) {
        const message = e.field === "postcode" && e.rule === "string_pattern_mismatch"
          ? "is not a UK postcode (for example LS1 4AB)" : e.message;
        if (!Forms.fieldError(form, e.field, message)) rest.push(e);
      }
      if (rest.length) Forms.say(form, Dk.problem({ status: result.status, data: { errors: rest } }));
    } else if (!(byCode[d.code] && Forms.fieldError(form, ...byCode[d.code]))) {
      Forms.say(form, Dk.problem(result));
    }
    const first = form.querySelector("[aria-invalid]");
    if (first) first.focus();
  },

  say(form, message) {
    const status = form.querySelector(".status");
    if (status) status.replaceChildren(Dk.el("p", { class: "banner red", role: "alert" }, message));
  },

  value(form, name) {
    const control = form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!control) return undefined;
    if (control.type === "checkbox") return control.checked;
    return control.value.trim();
  },

  // The date fields named, read as dd/mm/yyyy; an unreadable one is refused next to its field.
  dates(form, names) {
    const out = {};
    let ok = true;
    for (const name of names) {
      const raw = Forms.value(form, name);
      if (raw === undefined) continue;
      const iso = Forms.ukDate(raw);
      if (iso === null && form.querySelector(`[name="${CSS.escape(name)}"]`).required) {
        Forms.fieldError(form, name, "is required: write it as dd/mm/yyyy");
        ok = false;
      } else if (iso === undefined) {
        Forms.fieldError(form, name, "is not a date: write it as dd/mm/yyyy, for example 09/06/1984");
        ok = false;
      } else {
        out[name] = iso;
      }
    }
    if (!ok) form.querySelector("[aria-invalid]").focus();
    return ok ? out : null;
  },

  // True when no control but those named differs from what the page was served with.
  untouched(form, except) {
    for (const control of form.elements) {
      if (!control.name || except.includes(control.name)) continue;
      if (control.type === "checkbox" && control.checked !== control.defaultChecked) return false;
      if (control.tagName === "SELECT" && [...control.options].some((o) => o.selected !== o.defaultSelected)) return false;
      if (control.tagName === "INPUT" && control.type !== "checkbox" && control.value !== control.defaultValue) return false;
    }
    return true;
  },

  // What happened, shown once on the page the browser goes to next.
  flash(message, href) {
    sessionStorage.setItem("dk-flash", message);
    // Done: nothing more is sent from this page while the next one loads.
    for (const button of document.querySelectorAll("main form button")) button.disabled = true;
    if (href) window.location.assign(href); else window.location.reload();
  },

  on(selector, handler) {
    document.querySelectorAll(selector).forEach((form) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        Forms.clear(form);
        try {
          await handler(form);
        } finally {
          // Refused before any call was sent (or after a lookup): the form is usable again.
          if (Dk.pendingForm === form) Dk.release(form);
        }
      });
    });
  },
};

document.addEventListener("DOMContentLoaded", () => {
  const flashed = sessionStorage.getItem("dk-flash");
  if (flashed) {
    sessionStorage.removeItem("dk-flash");
    const box = document.getElementById("page-status");
    if (box) box.replaceChildren(Dk.el("p", { class: "banner green", role: "status" }, flashed));
  }

  const printButton = document.getElementById("print-card");
  if (printButton) printButton.addEventListener("click", () => window.print());

  Forms.on("#register-form", async (form) => {
    const dates = Forms.dates(form, ["date_of_birth", "expected_delivery_on"]);
    if (!dates) return;
    const pregnant = Forms.value(form, "pregnant");
    const result = await Dk.api("POST", "/api/v1/patients", {
      given_name: Forms.value(form, "given_name"),
      family_name: Forms.value(form, "family_name"),
      date_of_birth: dates.date_of_birth,
      nhs_number: Forms.value(form, "nhs_number"),
      pharmacy_id: Forms.value(form, "pharmacy_id") ?? form.dataset.pharmacy,
      household_id: Forms.value(form, "household_id") || null,
      key_worker_id: Forms.value(form, "key_worker_id") || null,
      prescriber_id: Forms.value(form, "prescriber_id") || null,
      pregnant,
      expected_delivery_on: pregnant ? dates.expected_delivery_on : null,
    });
    if (!result.ok) return Forms.refused(form, result);
    const p = result.data;
    Forms.flash(`${p.given_name} ${p.family_name} registered.`, `/patients/${p.id}`);
  });

  // What the edit form showed when the page loaded: only what the person changed is sent.
  const editForm = document.getElementById("edit-form");
  const shown = {};
  if (editForm) {
    for (const name of ["given_name", "family_name", "household_id", "key_worker_id", "prescriber_id", "pregnant", "expected_delivery_on"]) {
      shown[name] = Forms.value(editForm, name);
    }
  }

  Forms.on("#edit-form", async (form) => {
    const dates = Forms.dates(form, ["expected_delivery_on"]);
    if (!dates) return;
    const body = { reason: Forms.value(form, "reason") };
    const changed = (name) => Forms.value(form, name) !== shown[name];
    for (const name of ["given_name", "family_name"]) if (changed(name)) body[name] = Forms.value(form, name);
    for (const name of ["household_id", "key_worker_id", "prescriber_id"]) {
      if (changed(name)) body[name] = Forms.value(form, name) || null;
    }
    const pregnant = Forms.value(form, "pregnant");
    if (changed("pregnant")) body.pregnant = pregnant;
    if (changed("pregnant") || changed("expected_delivery_on")) {
      body.expected_delivery_on = pregnant ? dates.expected_delivery_on : null;
    }
    if (Object.keys(body).length === 1) return Forms.say(form, "Nothing was saved: no detail was changed.");
    const result = await Dk.api("PATCH", `/api/v1/patients/${form.dataset.patient}`, body);
    if (!result.ok) return Forms.refused(form, result);
    Forms.flash("Changes saved.");
  });

  Forms.on("#card-reissue", async (form) => {
    if (!window.confirm("Issue a new card? The patient's current card will stop working.")) return;
    const result = await Dk.api("POST", `/api/v1/patients/${form.dataset.patient}/card/reissue`, {
      reason: Forms.value(form, "reason"),
    });
    if (!result.ok) return Forms.refused(form, result);
    Forms.flash("A new card was issued: print it now.", `/patients/${form.dataset.patient}/card`);
  });

  Forms.on("#concern-form", async (form) => {
    const dates = Forms.dates(form, ["follow_up_on"]);
    if (!dates) return;
    const result = await Dk.api("POST", "/api/v1/concerns", {
      patient_id: form.dataset.patient,
      category: Forms.value(form, "category"),
      severity: Forms.value(form, "severity"),
      seen: Forms.value(form, "seen"),
      shared_with: Forms.value(form, "shared_with"),
      lawful_basis: Forms.value(form, "lawful_basis"),
      recipients: [...form.querySelectorAll("input[name=recipients]:checked")].map((box) => box.value),
      follow_up_on: dates.follow_up_on || null,
    });
    if (!result.ok) return Forms.refused(form, result);
    Forms.flash("Concern recorded: the people you chose are told, and it stays open until one of them records what was done.");
  });

  Forms.on("#household-form", async (form) => {
    const result = await Dk.api("POST", "/api/v1/households", {
      address: Forms.value(form, "address"),
      postcode: Forms.value(form, "postcode").toUpperCase(),
      notes: Forms.value(form, "notes"),
      pharmacy_id: Forms.value(form, "pharmacy_id") || null,
    });
    if (!result.ok) return Forms.refused(form, result);
    Forms.flash("Household registered.", `/households/${result.data.id}`);
  });

  const household = document.getElementById("household-page");
  const base = household ? `/api/v1/households/${household.dataset.household}` : "";

  Forms.on("#household-edit", async (form) => {
    if (Forms.untouched(form, ["reason"])) return Forms.say(form, "Nothing was saved: no detail was changed.");
    const result = await Dk.api("PATCH", base, {
      address: Forms.value(form, "address"),
      postcode: Forms.value(form, "postcode").toUpperCase(),
      notes: Forms.value(form, "notes"),
      reason: Forms.value(form, "reason"),
    });
    if (!result.ok) return Forms.refused(form, result);
    Forms.flash("Household details saved.");
  });

  Forms.on("#child-add", async (form) => {
    const dates = Forms.dates(form, ["date_of_birth"]);
    if (!dates) return;
    const result = await Dk.api("POST", `${base}/children`, {
      name: Forms.value(form, "name"),
      date_of_birth: dates.date_of_birth,
      unborn: Forms.value(form, "unborn"),
      protection_status: Forms.value(form, "protection_status"),
    });
    if (!result.ok) return Forms.refused(form, result);
    Forms.flash(`${result.data.name} added. Confirm who lives here before the next take-home.`);
  });

  Forms.on("form.child-edit", async (form) => {
    if (Forms.untouched(form, ["reason"])) return Forms.say(form, "Nothing was saved: no detail was changed.");
    const dates = Forms.dates(form, ["lives_to", "born_on"]);
    if (!dates) return;
    const body = {
      name: Forms.value(form, "name"),
      protection_status: Forms.value(form, "protection_status"),
      reason: Forms.value(form, "reason"),
    };
    if (dates.lives_to) body.lives_to = dates.lives_to;
    if (dates.born_on) body.born_on = dates.born_on;
    const result = await Dk.api("PATCH", `${base}/children/${form.dataset.child}`, body);
    if (!result.ok) return Forms.refused(form, result);
    Forms.flash(`${result.data.name}: changes saved.`);
  });

  Forms.on("#confirm-form", async (form) => {
    const result = await Dk.api("POST", `${base}/confirmations`, { note: Forms.value(form, "note") });
    if (!result.ok) return Forms.refused(form, result);
    Forms.flash(`Confirmed who lives here: ${result.data.children_count} child(ren).`);
  });

  Forms.on("form.box-form", async (form) => {
    const dates = Forms.dates(form, ["seen_on"]);
    if (!dates) return;
    const result = await Dk.api("POST", `/api/v1/patients/${form.dataset.patient}/box-confirmations`, {
      seen_on: dates.seen_on,
      method: Forms.value(form, "method"),
      note: Forms.value(form, "note"),
    });
    if (!result.ok) return Forms.refused(form, result);
    Forms.flash("Lockable box recorded as seen.");
  });

  Forms.on("#member-add", async (form) => {
    const number = (Forms.value(form, "nhs_number") || "").replace(/[\s-]/g, "");
    if (!/^\d{10}$/.test(number)) {
      Forms.fieldError(form, "nhs_number", "must be the patient's 10-digit NHS number");
      return form.querySelector("[aria-invalid]").focus();
    }
    const found = await Dk.api("GET", `/api/v1/patients?q=${number}`);
    if (!found.ok) return Forms.refused(form, found);
    if (found.data.items.length !== 1) {
      Forms.fieldError(form, "nhs_number", "does not belong to a patient registered here: register them first");
      return form.querySelector("[aria-invalid]").focus();
    }
    const result = await Dk.api("PATCH", `/api/v1/patients/${found.data.items[0].id}`, {
      household_id: household.dataset.household,
      reason: Forms.value(form, "reason"),
    });
    if (!result.ok) return Forms.refused(form, result);
    Forms.flash(`${result.data.given_name} ${result.data.family_name} now lives here.`);
  });

  Forms.on("form.member-leave", async (form) => {
    const result = await Dk.api("PATCH", `/api/v1/patients/${form.dataset.patient}`, {
      household_id: null,
      reason: Forms.value(form, "reason"),
    });
    if (!result.ok) return Forms.refused(form, result);
    Forms.flash(`${result.data.given_name} ${result.data.family_name} no longer recorded as living here.`);
  });
});
