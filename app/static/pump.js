// The dose pump beside the handover (docs/pump-protocol.md), on counters whose pharmacy has one:
// "Dispense on pump" measures ONE container of today's handover: the supervised cup, or one
// take-home container as its label numbers it. When the handover fills several, the server
// answers 409 container_required with the list, and the pharmacist picks which to measure.
// Each container's measure goes with the handover (`pump_measures`); the server also reads the
// pump's last result for each container from its own record, so a short measure is refused
// even if this page is drawn again or the figure is lost.
"use strict";

const Pump = {
  init() {
    const root = document.getElementById("counter");
    const panel = document.getElementById("patient-panel");
    if (!root || !panel || root.dataset.pump !== "yes") return;
    // counter.js draws the handover form afresh for each patient: add the pump row each time.
    new MutationObserver(() => this.attach()).observe(panel, { childList: true, subtree: true });
  },

  attach() {
    const form = document.getElementById("handover-form");
    if (!form || form.querySelector("#pump-row")) return;
    const row = Dk.el("div", { id: "pump-row" },
      Dk.el("p", { id: "pump-choice", hidden: true },
        Dk.el("label", { for: "pump-container" }, "Container to measure"), " ",
        Dk.el("select", { id: "pump-container", "aria-describedby": "pump-status" })),
      Dk.el("p", {},
        Dk.el("button", { type: "button", id: "pump-dispense" }, "Dispense on pump"), " ",
        Dk.el("label", { for: "pump-dispensed-ml" }, "Measured by the pump (mL)"), " ",
        Dk.el("input", { id: "pump-dispensed-ml", readonly: true, size: "8",
          "aria-describedby": "pump-status", "data-measures": "{}" })),
      Dk.el("div", { id: "pump-status", class: "status", "aria-live": "polite" }));
    form.insertBefore(row, form.querySelector(".actions"));
    row.querySelector("#pump-dispense").addEventListener("click", () => this.dispense(row));
  },

  choose(row, containers) {
    const select = row.querySelector("#pump-container");
    select.replaceChildren(...containers.map((c) =>
      Dk.el("option", { value: String(c.container) }, `${c.words}: ${c.ml} mL`)));
    row.querySelector("#pump-choice").hidden = false;
  },

  async dispense(row) {
    const button = row.querySelector("#pump-dispense");
    const field = row.querySelector("#pump-dispensed-ml");
    const choice = row.querySelector("#pump-choice");
    const body = { patient_id: Counter.patient.id };
    if (!choice.hidden) {
      const value = row.querySelector("#pump-container").value;
      body.container = value === "supervised" ? value : Number(value);
    }
    field.value = "";
    button.disabled = true;
    Dk.say("pump-status", "Measuring on the pump…", "amber");
    try {
      const result = await Dk.api("POST", "/api/v1/counter/pump/dispense", body);
      if (!result.ok) {
        const d = result.data || {};
        if (d.code === "container_required" && d.containers) {
          this.choose(row, d.containers);
          Dk.say("pump-status", "Today's handover fills more than one container: choose which to measure, then dispense.", "amber");
          return;
        }
        Dk.say("pump-status", Dk.problem(result), "red");
        return;
      }
      const measures = JSON.parse(field.dataset.measures || "{}");
      measures[result.data.container] = result.data.dispensed_ml;
      field.dataset.measures = JSON.stringify(measures);
      field.value = result.data.dispensed_ml;
      Dk.say("pump-status", result.data.message, result.data.matches ? "green" : "red");
    } finally {
      button.disabled = false;
    }
  },
};

document.addEventListener("DOMContentLoaded", () => Pump.init());
