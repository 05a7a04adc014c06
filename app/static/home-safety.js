// Naloxone supplied and safe-storage advice given (counter and household pages): each form
// posts to the households API; a refusal is shown as sentences by its fields, a record reloads
// the page so the prompt it answered goes.
"use strict";

(() => {
  const say = (form, message) => {
    const status = form.querySelector(".status");
    if (status) status.replaceChildren(Dk.el("p", { class: "banner red", role: "alert" }, message));
  };

  const refused = (form, result) => {
    for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
    const d = result.data || {};
    const rest = [];
    for (const e of Array.isArray(d.errors) ? d.errors : []) {
      const field = String(e.field || "").split(".")[0];
      const slot = form.querySelector(`.field-error[data-error-for="${CSS.escape(field)}"]`);
      if (slot) slot.textContent = `${slot.dataset.name} ${e.message}.`;
      else rest.push(e);
    }
    if (rest.length || !(d.errors || []).length) {
      say(form, Dk.problem(rest.length ? { status: result.status, data: { errors: rest } } : result));
    }
  };

  const value = (form, name) => {
    const control = form.querySelector(`[name="${name}"]`);
    const text = control ? control.value.trim() : "";
    return text || null;
  };

  const send = async (form, path, body) => {
    const result = await Dk.api("POST", path, body);
    if (!result.ok) return refused(form, result);
    window.location.reload();
  };

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const household = form.dataset.household;
    const patient = form.dataset.patient || null;
    if (form.classList.contains("home-safety-advice")) {
      event.preventDefault();
      const topics = [...form.querySelectorAll('input[name="topics"]:checked')].map((c) => c.value);
      send(form, `/api/v1/households/${household}/storage-advice`, {
        topics,
        given_to: value(form, "given_to"),
        patient_id: patient,
      });
    } else if (form.classList.contains("home-safety-naloxone")) {
      event.preventDefault();
      const recipient = value(form, "recipient");
      send(form, `/api/v1/households/${household}/naloxone`, {
        product: value(form, "product"),
        product_name: value(form, "product_name"),
        batch: value(form, "batch") || "",
        expires_on: value(form, "expires_on") || "",
        trained: form.querySelector('input[name="trained"]').checked,
        recipient,
        recipient_name: recipient === "patient" ? null : value(form, "recipient_name"),
        patient_id: patient,
      });
    }
  });
})();
