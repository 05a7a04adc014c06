// The counter terminal: scan, see the decision, record, print. Every action goes through the
// JSON API, so the page refuses exactly what the API refuses and shows why.
"use strict";

const Counter = {
  root: null,
  today: "",
  patient: null,
  household: null,
  decision: null,

  init() {
    this.root = document.getElementById("counter");
    this.today = this.root.dataset.today;
    document.getElementById("scan-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = document.getElementById("scan");
      const code = input.value.trim();
      input.value = "";
      if (code) this.scan(code);
      input.focus();
    });
    const closeDay = document.getElementById("close-day");
    if (closeDay) closeDay.addEventListener("click", () => this.closeDay());
    this.loadDue();
    this.printerStatus();
    this.listenForSerialScans();
  },

  focusScan() { document.getElementById("scan").focus(); },

  async scan(code) {
    Dk.say("scan-status", "Looking up…", "amber");
    document.getElementById("search-results").replaceChildren();
    const body = { code };
    if (this.patient) body.patient_id = this.patient.id;
    const result = await Dk.api("POST", "/api/v1/counter/scan", body);
    if (result.ok && result.data.bottle && document.getElementById("bottle")) {
      document.getElementById("bottle").value = code;
      this.showBottle(result.data.bottle);
      Dk.say("scan-status", result.data.message, result.data.bottle.matches === false ? "red" : "green");
      return;
    }
    if (result.ok && result.data.kind === "label" && this.patient) {
      const kind = result.data.matches_patient ? "green" : "red";
      Dk.say("scan-status", result.data.message, kind);
      return;
    }
    if (result.ok && result.data.patient_id) {
      Dk.say("scan-status", "");
      await this.open(result.data.patient_id);
      return;
    }
    if (result.ok && result.data.kind === "unknown" && /[a-z]/i.test(code)) {
      return this.search(code);
    }
    if (result.ok) {
      Dk.say("scan-status", result.data.message, result.data.accepted ? "green" : "red");
      return;
    }
    Dk.say("scan-status", Dk.problem(result), "red");
  },

  // "Right bottle" or "WRONG BOTTLE: …" beside the handover form's bottle field.
  showBottle(bottle) {
    const kind = bottle.matches === true ? "green" : bottle.matches === false ? "red" : "amber";
    Dk.say("bottle-status", bottle.message, kind);
  },

  async checkBottle(code) {
    const result = await Dk.api("POST", "/api/v1/counter/scan", { code, patient_id: this.patient.id });
    if (result.ok && result.data.bottle) { this.showBottle(result.data.bottle); return; }
    Dk.say("bottle-status", result.ok ? result.data.message : Dk.problem(result), "red");
  },

  async search(text) {
    const result = await Dk.api("GET", `/api/v1/patients?q=${encodeURIComponent(text)}&limit=20`);
    const list = document.getElementById("search-results");
    if (!result.ok) { Dk.say("scan-status", Dk.problem(result), "red"); return; }
    if (!result.data.items.length) { Dk.say("scan-status", `No patient matches “${text}”.`, "amber"); return; }
    Dk.say("scan-status", `${result.data.items.length} found: choose one.`, "amber");
    list.replaceChildren(...result.data.items.map((p) =>
      Dk.el("li", {}, Dk.el("button", { type: "button", class: "secondary", onclick: () => this.open(p.id) },
        `${p.given_name} ${p.family_name} (born ${p.date_of_birth})`))));
    list.querySelector("button").focus();
  },

  async open(patientId) {
    document.getElementById("search-results").replaceChildren();
    const [patient, check] = await Promise.all([
      Dk.api("GET", `/api/v1/patients/${patientId}`),
      Dk.api("POST", "/api/v1/counter/check", { patient_id: patientId }),
    ]);
    this.guest = null;
    if (!patient.ok && patient.status === 404 && check.ok) {
      // Another pharmacy's patient dosed here as a guest: the counter's card only.
      const card = await Dk.api("GET", `/api/v1/counter/guests/${patientId}`);
      if (card.ok) {
        this.patient = card.data.patient;
        this.household = card.data.household;
        this.guest = card.data.guest;
        this.decision = check.data;
        this.renderPatient(null);
        this.renderHousehold();
        return;
      }
    }
    if (!patient.ok) { Dk.say("scan-status", Dk.problem(patient), "red"); return; }
    this.patient = patient.data;
    this.decision = check.ok ? check.data : null;
    this.household = null;
    if (this.patient.household_id) {
      const household = await Dk.api("GET", `/api/v1/households/${this.patient.household_id}`);
      if (household.ok) this.household = household.data;
    }
    this.renderPatient(check.ok ? null : Dk.problem(check));
    this.renderHousehold();
  },

  children() { return this.household ? this.household.children : []; },

  renderPatient(error) {
    const p = this.patient;
    const d = this.decision;
    const panel = document.getElementById("patient-panel");
    const parts = [
      Dk.el("h2", { id: "patient-heading" }, `${p.given_name} ${p.family_name}`),
      Dk.el("p", { class: "muted" }, `Born ${p.date_of_birth} · NHS ${p.nhs_number} · card photo: not on file`),
    ];
    if (this.guest) {
      const home = this.guest.home_pharmacy;
      parts.push(Dk.el("p", { id: "guest-banner", class: "banner amber" },
        `Guest patient of ${home.name} (${home.phone}), dosed here from ${this.guest.from_date} to ${this.guest.to_date}. `
        + "Only the counter is open to you: phone the home pharmacy for anything else."));
    }
    if (error) parts.push(Dk.el("p", { class: "banner red", role: "alert" }, error));
    if (d) {
      const days = d.dose_dates.length;
      const mode = d.mode === "supervised" ? (days > 1 ? `supervised today + ${days - 1} day(s) to take home` : "supervised")
        : d.mode === "take_home" ? `take-home, ${days} day(s): ${d.dose_dates.join(", ")}` : "nothing to hand over";
      // The daily dose first, in large type: it is what is measured and what the label says.
      parts.push(Dk.el("p", { class: "dose" }, this.daily(d)), Dk.el("p", {}, `Today: ${mode}`));
      if (days > 1) parts.push(Dk.el("p", { id: "instalment" }, `Instalment: ${this.instalment(d)}`));
      // A split dose: what is swallowed here and what goes home in its own container.
      if ((d.parts || []).length) {
        parts.push(Dk.el("div", { id: "dose-parts" }, Dk.el("strong", {}, "Split dose"),
          Dk.el("ul", {}, d.parts.map((part) => Dk.el("li", {}, part.text)))));
      }
      // Always shown: when the patient last took a dose, so a lapse is never worked out by hand.
      const lapse = d.last_dose.days_without_dose;
      parts.push(Dk.el("p", { id: "last-dose", class: lapse ? "banner amber" : "" },
        Dk.el("strong", {}, d.last_dose.text.charAt(0).toUpperCase() + d.last_dose.text.slice(1)),
        lapse ? ` · ${lapse} day${lapse === 1 ? "" : "s"} without a dose taken before today` : ""));
      parts.push(this.banner(d));
      const codes = d.blocks.map((b) => b.code);
      if (codes.includes("last_dose_unknown")) parts.push(this.lastDoseForm());
      if (codes.includes("withheld_today")) parts.push(this.reassessForm());
      if (codes.includes("already_recorded")) parts.push(this.wrongPatientForm());
      if (d.warnings.length) parts.push(this.warningBoxes(d.warnings));
      const overridable = d.blocks.filter((b) => ["no_lockable_box", "children_not_confirmed"].includes(b.code));
      if (overridable.length && d.blocks.length === overridable.length) parts.push(this.overrideBoxes(overridable));
      parts.push(this.handoverForm(d));
    }
    parts.push(this.withholdForm(), this.boxForm(), this.lateDoseForm());
    // tabindex -1: a refusal moves focus here, so the reason is read out and scrolled into view.
    parts.push(Dk.el("div", { id: "action-status", class: "status", "aria-live": "assertive", tabindex: "-1" }));
    panel.replaceChildren(...parts);
  },

  banner(d) {
    if (d.blocks.length) {
      return Dk.el("div", { class: "banner red", role: "alert" },
        Dk.el("strong", {}, "DO NOT SUPPLY"),
        Dk.el("ul", {}, d.blocks.map((b) => Dk.el("li", { "data-code": b.code }, b.message))));
    }
    if (d.warnings.length) {
      return Dk.el("div", { class: "banner amber", role: "status" },
        Dk.el("strong", {}, "Supply after acknowledging each warning"),
        Dk.el("ul", {}, d.warnings.map((w) => Dk.el("li", { "data-code": w.code }, w.message))));
    }
    return Dk.el("div", { class: "banner green", role: "status" }, Dk.el("strong", {}, "OK TO SUPPLY"));
  },

  warningBoxes(warnings) {
    return Dk.el("fieldset", {}, Dk.el("legend", {}, "Acknowledge warnings"),
      warnings.map((w, i) => Dk.el("p", {},
        Dk.el("input", { type: "checkbox", id: `ack-${i}`, name: "ack", value: w.code }),
        " ", Dk.el("label", { for: `ack-${i}` }, `I have acted on: ${w.code.replaceAll("_", " ")}`))));
  },

  overrideBoxes(blocks) {
    return Dk.el("fieldset", {}, Dk.el("legend", {}, "Override (pharmacist, with a reason: raises an urgent alert)"),
      blocks.map((b, i) => Dk.el("p", {},
        Dk.el("label", { for: `override-${i}` }, `Reason to override ${b.code.replaceAll("_", " ")}`), Dk.el("br"),
        Dk.el("input", { id: `override-${i}`, name: "override", "data-code": b.code, maxlength: "1000", size: "50" }))));
  },

  childrenBoxes(prefix) {
    const kids = this.children();
    if (!kids.length) return Dk.el("p", { class: "muted" }, "No children recorded in the household.");
    return Dk.el("fieldset", {}, Dk.el("legend", {}, "Children present at the counter"),
      kids.map((c, i) => Dk.el("span", {},
        Dk.el("input", { type: "checkbox", id: `${prefix}-child-${i}`, name: `${prefix}-child`, value: c.id }),
        " ", Dk.el("label", { for: `${prefix}-child-${i}` }, `${c.name} (${c.age_years})`), " ")));
  },

  handoverForm(d) {
    if (!d.mode) return Dk.el("p", { class: "muted" }, "Nothing to hand over today.");
    if (this.root.dataset.pharmacist !== "yes") {
      // The not-intoxicated attestation made at every handover is the pharmacist's alone.
      return Dk.el("p", { class: "banner amber" }, "A pharmacist hands the dose over: the check that the patient is not intoxicated is theirs to make.");
    }
    const supervised = d.mode === "supervised";
    const form = Dk.el("form", { id: "handover-form" },
      Dk.el("fieldset", {}, Dk.el("legend", {}, "Collector and identity"),
        Dk.el("span", { class: "pair" }, Dk.el("label", { for: "collector" }, "Collected by"), " ",
          Dk.el("select", { id: "collector" },
            Dk.el("option", { value: "patient" }, "the patient"),
            Dk.el("option", { value: "representative" }, "a representative"),
            Dk.el("option", { value: "hcp" }, "a healthcare professional"))), " ",
        Dk.el("span", { class: "pair" }, Dk.el("label", { for: "collector-details" }, "Name and address (if not the patient)"), " ",
          Dk.el("input", { id: "collector-details", maxlength: "500" })), Dk.el("br"),
        Dk.el("span", { class: "pair" }, Dk.el("input", { type: "checkbox", id: "id-checked" }), " ", Dk.el("label", { for: "id-checked" }, "ID asked for")), " ",
        Dk.el("span", { class: "pair" }, Dk.el("input", { type: "checkbox", id: "id-shown" }), " ", Dk.el("label", { for: "id-shown" }, "ID shown"))),
      this.childrenBoxes("handover"),
      Dk.el("p", {},
        Dk.el("input", { type: "checkbox", id: "not-intoxicated", required: true }), " ",
        Dk.el("label", { for: "not-intoxicated" }, "I have checked: the patient is not intoxicated")),
      // The stock bottle, scanned before measuring (the scanner types into the field, or a scan
      // at the top fills it): the same check the handover makes, shown before it.
      Dk.el("p", {},
        Dk.el("label", { for: "bottle" }, "Stock bottle scanned (GS1 code)"), " ",
        Dk.el("input", { id: "bottle", maxlength: "200", size: "40", autocomplete: "off", "aria-describedby": "bottle-status" })),
      Dk.el("div", { id: "bottle-status" }),
      d.needs_measuring_device ? Dk.el("p", {},
        Dk.el("input", { type: "checkbox", id: "measuring-device" }), " ",
        Dk.el("label", { for: "measuring-device" }, `A measuring device (oral syringe or measure) goes with the ${d.dose_dates.length}-day bottle`)) : "",
      Dk.el("div", { class: "actions" },
        Dk.el("button", { type: "submit", id: "handover-button" },
          supervised ? "Record supervised dose" : `Hand over take-home: ${this.instalment(d)}`)));
    form.addEventListener("submit", (event) => { event.preventDefault(); this.handover(supervised); });
    // A keyboard-wedge scanner ends with Enter: check the bottle, never submit the handover.
    form.querySelector("#bottle").addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      event.preventDefault();
      const code = event.target.value.trim();
      if (code) this.checkBottle(code);
    });
    return form;
  },

  // "60 mg (60 mL) a day": the daily dose, as the prescription and the label give it.
  daily(d) {
    const mg = d.daily_dose_mg || d.dose_mg;
    const ml = d.daily_dose_mg ? d.daily_dose_ml : d.dose_ml;
    return `${Dk.num(mg)} mg${ml ? ` (${Dk.num(ml)} mL)` : ""} a day`;
  },

  // "3 days × 50 mg = 150 mg (150 mL)": the instalment's total, never shown alone.
  instalment(d) {
    const days = d.dose_dates.length;
    const total = `${Dk.num(d.dose_mg)} mg${d.dose_ml ? ` (${Dk.num(d.dose_ml)} mL)` : ""}`;
    if (!d.daily_dose_mg) return total;
    if (d.dose_varies) return `${total}, the dose steps within these days (see each label)`;
    return `${days} day${days === 1 ? "" : "s"} × ${Dk.num(d.daily_dose_mg)} mg = ${total}`;
  },

  checked(name) {
    return [...document.querySelectorAll(`input[name="${name}"]:checked`)].map((i) => i.value);
  },

  async handover(supervised) {
    const overrides = [...document.querySelectorAll('input[name="override"]')]
      .filter((i) => i.value.trim()).map((i) => ({ code: i.dataset.code, reason: i.value.trim() }));
    const body = {
      patient_id: this.patient.id, date: this.today, outcome: supervised ? "supervised" : "collected",
      collector: document.getElementById("collector").value,
      collector_details: document.getElementById("collector-details").value.trim() || null,
      id_checked: document.getElementById("id-checked").checked,
      id_shown: document.getElementById("id-shown").checked,
      children_present: this.checked("handover-child"),
      intoxicated: !document.getElementById("not-intoxicated").checked,
      acknowledged: this.checked("ack"), overrides,
      measuring_device: Boolean(document.getElementById("measuring-device")?.checked),
      bottle: document.getElementById("bottle")?.value.trim() || null,
    };
    // What the dose pump measured, container by container (pump.js keeps them): the handover
    // refuses a mismatch, and reads the pump's last result for each container itself too.
    const pumped = document.getElementById("pump-dispensed-ml");
    const measures = pumped ? JSON.parse(pumped.dataset.measures || "{}") : {};
    const pumpMeasures = Object.entries(measures).map(([container, ml]) => ({
      container: container === "supervised" ? container : Number(container), dispensed_ml: ml }));
    if (pumpMeasures.length) body.pump_measures = pumpMeasures;
    const result = await Dk.api("POST", "/api/v1/counter/handover", body);
    if (!result.ok) {
      const d = result.data || {};
      const reasons = (d.blocks || []).concat((d.warnings || []).filter((w) => (d.unacknowledged || []).includes(w.code)));
      Dk.say("action-status", reasons.length ? reasons.map((r) => r.message).join(" ") : Dk.problem(result), "red");
      document.getElementById("action-status").focus();
      return;
    }
    const recorded = `Recorded: ${result.data.doses.length} day(s), ${Dk.num(result.data.dose_mg)} mg.`;
    Dk.say("action-status", recorded, "green");
    this.showLabels(result.data.label);
    await this.open(this.patient.id);
    Dk.say("action-status", recorded, "green");
    this.loadDue();
    this.focusScan();
  },

  showLabels(label) {
    const box = document.getElementById("label-preview");
    if (!label) { box.replaceChildren(Dk.el("p", { class: "muted" }, "No label: nothing went home.")); return; }
    box.replaceChildren(...label.jobs.map((job) => Dk.el("div", {},
      Dk.el("p", {}, Dk.el("span", { class: `tag ${job.state === "printed" ? "ok" : "missed"}` }, job.state),
        ` label ${job.code}`, job.error ? ` — printer fault: ${job.error}` : ""),
      job.preview ? Dk.el("pre", { class: "label", "aria-label": "Label preview" }, job.preview) : "",
      Dk.el("button", { type: "button", class: "secondary", onclick: () => this.reprint(job.label_id) }, "Reprint"))));
    this.printerStatus();
  },

  async reprint(labelId) {
    const result = await Dk.api("POST", `/api/v1/labels/${labelId}/reprint`, {});
    if (!result.ok) { Dk.say("action-status", Dk.problem(result), "red"); return; }
    this.showLabels({ jobs: [result.data] });
  },

  withholdForm() {
    if (this.root.dataset.pharmacist !== "yes") return "";
    const form = Dk.el("form", { id: "withhold-form" },
      Dk.el("fieldset", {}, Dk.el("legend", {}, "Withhold today's dose"),
        Dk.el("span", { class: "pair" }, Dk.el("label", { for: "withhold-reason" }, "Reason"), " ",
          Dk.el("select", { id: "withhold-reason" },
            Dk.el("option", { value: "intoxicated" }, "patient intoxicated"),
            Dk.el("option", { value: "other" }, "other (say why)"))), " ",
        Dk.el("span", { class: "pair" }, Dk.el("label", { for: "withhold-text" }, "Details"), " ",
          Dk.el("input", { id: "withhold-text", maxlength: "480" })),
        this.childrenBoxes("withhold"),
        Dk.el("button", { type: "submit", class: "danger" }, "Withhold")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = await Dk.api("POST", "/api/v1/counter/withhold", {
        patient_id: this.patient.id, date: this.today,
        reason: document.getElementById("withhold-reason").value,
        reason_text: document.getElementById("withhold-text").value.trim(),
        children_present: this.checked("withhold-child"),
      });
      if (!result.ok) { Dk.say("action-status", Dk.problem(result), "red"); return; }
      await this.open(this.patient.id);
      const told = result.data.alerts.length ? ` ${result.data.alerts.length} alert(s) raised.` : " No alert was raised.";
      Dk.say("action-status", `Withheld: ${result.data.withheld.join(", ")}.${told}`, "amber");
      this.loadDue();
    });
    return form;
  },

  // Close of day marked a supervised day missed, but the patient came in late and swallowed the
  // dose: the correction (a pharmacist's, today or the next day) puts the record right.
  lateDoseForm() {
    if (this.root.dataset.pharmacist !== "yes") return "";
    const yesterday = new Date(`${this.today}T12:00:00Z`);
    yesterday.setUTCDate(yesterday.getUTCDate() - 1);
    const days = [[this.today, "today"], [yesterday.toISOString().slice(0, 10), "yesterday"]];
    const form = Dk.el("form", { id: "late-dose-form" },
      Dk.el("details", {}, Dk.el("summary", {}, "Correct a day marked missed: the patient came after close of day"),
        Dk.el("p", {}, Dk.el("label", { for: "late-day" }, "Day marked missed"), " ",
          Dk.el("select", { id: "late-day" }, ...days.map(([value, word]) => Dk.el("option", { value }, `${word} (${value})`)))),
        Dk.el("p", {}, Dk.el("label", { for: "late-time" }, "Time they swallowed it"), " ",
          Dk.el("input", { id: "late-time", type: "time", required: true })),
        Dk.el("p", {}, Dk.el("label", { for: "late-reason" }, "Why the day was marked missed"), Dk.el("br"),
          Dk.el("input", { id: "late-reason", maxlength: "2000", size: "60", required: true })),
        Dk.el("p", {}, Dk.el("input", { type: "checkbox", id: "late-sober", required: true }), " ",
          Dk.el("label", { for: "late-sober" }, "The patient was not intoxicated when I gave the dose")),
        Dk.el("button", { type: "submit", class: "secondary" }, "Record the late dose")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = await Dk.api("POST", "/api/v1/counter/late-doses", {
        patient_id: this.patient.id,
        date: document.getElementById("late-day").value,
        given_at: document.getElementById("late-time").value,
        reason: document.getElementById("late-reason").value.trim(),
        not_intoxicated: document.getElementById("late-sober").checked,
      });
      if (!result.ok) { Dk.say("action-status", Dk.problem(result), "red"); return; }
      await this.open(this.patient.id);
      this.loadDue();
      const resolved = result.data.alerts_resolved;
      Dk.say("action-status", `Corrected: the dose of ${result.data.dose_date} is recorded as supervised, with your reason, and the register has its line.`
        + (resolved ? ` ${resolved} alert(s) raised by that day's close are resolved.` : ""), "green");
    });
    return form;
  },

  // "Already recorded", but this patient has not had their dose: it was recorded against them
  // while another patient swallowed their own. A pharmacist moves it, today only.
  wrongPatientForm() {
    if (this.root.dataset.pharmacist !== "yes") {
      return Dk.el("p", { class: "muted" }, "If this dose was recorded against the wrong patient, ask a pharmacist to correct it.");
    }
    const others = (this.dueItems || []).filter((row) => row.patient_id !== this.patient.id
      && row.mode === "supervised" && ["due", "missed"].includes(row.state.split(",")[0]));
    const form = Dk.el("form", { id: "wrong-patient-form" },
      Dk.el("details", {}, Dk.el("summary", {}, "Recorded against the wrong patient? Move today's dose to the patient who took it"),
        Dk.el("p", {}, Dk.el("label", { for: "wrong-taker" }, "Who swallowed the dose"), " ",
          Dk.el("select", { id: "wrong-taker", required: true },
            Dk.el("option", { value: "" }, others.length ? "Choose a patient due today" : "Nobody else has a supervised dose due today"),
            ...others.map((row) => Dk.el("option", { value: row.patient_id }, `${row.family_name}, ${row.given_name}: ${this.daily(row)}`)))),
        Dk.el("p", {}, Dk.el("label", { for: "wrong-reason" }, "How it came to be recorded wrongly"), Dk.el("br"),
          Dk.el("input", { id: "wrong-reason", maxlength: "2000", size: "60", required: true })),
        Dk.el("p", {}, Dk.el("input", { type: "checkbox", id: "wrong-own-dose", required: true }), " ",
          Dk.el("label", { for: "wrong-own-dose" }, "The dose I gave was that patient's own prescribed dose (if not, this is a dispensing incident: report it)")),
        Dk.el("p", {}, Dk.el("input", { type: "checkbox", id: "wrong-sober", required: true }), " ",
          Dk.el("label", { for: "wrong-sober" }, "That patient was not intoxicated when I gave the dose")),
        Dk.el("button", { type: "submit", class: "secondary" }, "Move the dose")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const select = document.getElementById("wrong-taker");
      const taker = select.options[select.selectedIndex].textContent.split(":")[0];
      const result = await Dk.api("POST", "/api/v1/counter/wrong-patient-doses", {
        recorded_patient_id: this.patient.id,
        taken_by_patient_id: select.value,
        date: this.today,
        reason: document.getElementById("wrong-reason").value.trim(),
        own_dose_given: document.getElementById("wrong-own-dose").checked,
        not_intoxicated: document.getElementById("wrong-sober").checked,
      });
      if (!result.ok) { Dk.say("action-status", Dk.problem(result), "red"); return; }
      await this.open(this.patient.id);
      this.loadDue();
      const unchecked = result.data.unchecked_blocks;
      Dk.say("action-status", `Moved: today's dose is recorded for ${taker}, and this patient's dose is due again. The CD register has the correction and the new line.`
        + (unchecked.length ? ` The checks for ${taker} would have refused it (${unchecked.map((b) => b.message).join(" ")}): their prescriber and key worker have been alerted urgently.` : ""),
        unchecked.length ? "amber" : "green");
    });
    return form;
  },

  // The dose was withheld earlier today: a pharmacist may reassess the patient and record it.
  reassessForm() {
    if (this.root.dataset.pharmacist !== "yes") {
      return Dk.el("p", { class: "muted" }, "Ask a pharmacist to reassess the patient.");
    }
    const form = Dk.el("form", { id: "reassess-form" },
      Dk.el("fieldset", {}, Dk.el("legend", {}, "Reassess the patient (withheld earlier today)"),
        Dk.el("p", {}, Dk.el("label", { for: "reassess-note" }, "What you saw when you reassessed them"), Dk.el("br"),
          Dk.el("input", { id: "reassess-note", maxlength: "2000", size: "60", required: true })),
        Dk.el("p", {}, Dk.el("input", { type: "checkbox", id: "reassess-sober", required: true }), " ",
          Dk.el("label", { for: "reassess-sober" }, "I have reassessed the patient: they are not intoxicated now")),
        Dk.el("button", { type: "submit" }, "Record the reassessment")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = await Dk.api("POST", "/api/v1/counter/reassess", {
        patient_id: this.patient.id,
        not_intoxicated: document.getElementById("reassess-sober").checked,
        note: document.getElementById("reassess-note").value.trim(),
      });
      if (!result.ok) { Dk.say("action-status", Dk.problem(result), "red"); return; }
      await this.open(this.patient.id);
      Dk.say("action-status", "Reassessment recorded: today's dose may now be handed over. The withhold stays in the record.", "green");
    });
    return form;
  },

  // Nobody knows when the patient last took a dose: record it (pharmacists only).
  lastDoseForm() {
    if (this.root.dataset.pharmacist !== "yes") {
      return Dk.el("p", { class: "muted" }, "Ask a pharmacist to record when the patient last took a dose.");
    }
    const form = Dk.el("form", { id: "last-dose-form" },
      Dk.el("fieldset", {}, Dk.el("legend", {}, "Record the last dose taken before this pharmacy"),
        Dk.el("span", { class: "pair" }, Dk.el("label", { for: "last-dose-source" }, "Who says so"), " ",
          Dk.el("select", { id: "last-dose-source" },
            Dk.el("option", { value: "previous_pharmacy" }, "the previous pharmacy"),
            Dk.el("option", { value: "prescriber" }, "the prescriber"),
            Dk.el("option", { value: "hospital" }, "a hospital"),
            Dk.el("option", { value: "custody" }, "custody or prison"),
            Dk.el("option", { value: "patient" }, "the patient (not confirmed)"),
            Dk.el("option", { value: "induction" }, "new to treatment: no dose ever"))), " ",
        Dk.el("span", { class: "pair" }, Dk.el("label", { for: "last-dose-date" }, "Date taken"), " ",
          Dk.el("input", { type: "date", id: "last-dose-date", max: this.today })), " ",
        Dk.el("span", { class: "pair" }, Dk.el("label", { for: "last-dose-detail" }, "Details (name, phone)"), " ",
          Dk.el("input", { id: "last-dose-detail", maxlength: "500" })), " ",
        Dk.el("button", { type: "submit", class: "secondary" }, "Record last dose")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const source = document.getElementById("last-dose-source").value;
      const result = await Dk.api("POST", `/api/v1/patients/${this.patient.id}/last-doses`, {
        source,
        taken_on: source === "induction" ? null : (document.getElementById("last-dose-date").value || null),
        detail: document.getElementById("last-dose-detail").value.trim(),
      });
      if (!result.ok) { Dk.say("action-status", Dk.problem(result), "red"); return; }
      await this.open(this.patient.id);
      Dk.say("action-status", "Last dose recorded.", "green");
    });
    return form;
  },

  boxForm() {
    const form = Dk.el("form", { id: "box-form" },
      Dk.el("fieldset", {}, Dk.el("legend", {}, "Lockable box seen"),
        Dk.el("span", { class: "pair" }, Dk.el("label", { for: "box-date" }, "Seen on"), " ",
          Dk.el("input", { type: "date", id: "box-date", value: this.today, max: this.today })), " ",
        Dk.el("span", { class: "pair" }, Dk.el("label", { for: "box-method" }, "How"), " ",
          Dk.el("select", { id: "box-method" },
            Dk.el("option", { value: "shown_at_pharmacy" }, "shown at the pharmacy"),
            Dk.el("option", { value: "seen_at_home" }, "seen at home by the key worker"))), " ",
        Dk.el("button", { type: "submit", class: "secondary" }, "Record box")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = await Dk.api("POST", `/api/v1/patients/${this.patient.id}/box-confirmations`, {
        seen_on: document.getElementById("box-date").value,
        method: document.getElementById("box-method").value,
      });
      if (!result.ok) { Dk.say("action-status", Dk.problem(result), "red"); return; }
      await this.open(this.patient.id);
      Dk.say("action-status", `Lockable box recorded, valid until ${result.data.valid_until}.`, "green");
    });
    return form;
  },

  renderHousehold() {
    const box = document.getElementById("household");
    const h = this.household;
    if (!h) {
      box.replaceChildren(Dk.el("h2", { id: "household-heading" }, "Household"),
        Dk.el("p", { class: "banner amber" }, "No household recorded: nobody knows whether children live there."));
      return;
    }
    const others = h.members.filter((m) => m.id !== this.patient.id);
    const myBox = h.boxes.find((b) => b.patient_id === this.patient.id);
    // A guest pharmacy confirms nothing in another pharmacy's household: it phones the home one.
    const confirm = h.id ? Dk.el("button", { type: "button", class: "secondary", onclick: () => this.confirmChildren() }, "Children confirmed today") : "";
    const otherPatients = this.guest
      ? Dk.el("p", {}, h.other_patients_at_home ? `${h.other_patients_at_home} other methadone patient(s) live there.` : "None.")
      : others.length ? Dk.el("ul", {}, others.map((m) => Dk.el("li", {}, `${m.given_name} ${m.family_name}`))) : Dk.el("p", {}, "None.");
    box.replaceChildren(
      Dk.el("h2", { id: "household-heading" }, "Household"),
      Dk.el("h3", {}, `Children (${h.children.length})`),
      h.children.length ? Dk.el("ul", {}, h.children.map((c) => Dk.el("li", {}, `${c.name}, age ${c.age_years} `,
        Dk.el("span", { class: `tag ${c.protection_status}` }, c.protection_status.replaceAll("_", " "))))) : Dk.el("p", {}, "No children recorded."),
      Dk.el("p", {}, `Children last confirmed: ${h.children_confirmed_on || "never"} `, confirm),
      Dk.el("h3", {}, "Other methadone patients in the home"),
      otherPatients,
      Dk.el("p", {}, Dk.el("strong", {}, `Methadone already at home: ${Dk.num(h.methadone_at_home_mg)} mg`)),
      Dk.el("p", {}, "Lockable box: ", myBox ? Dk.el("span", { class: `tag ${myBox.valid_today ? "ok" : "missed"}` },
        myBox.valid_today ? (myBox.seen_on ? `seen ${myBox.seen_on}, valid to ${myBox.valid_until}` : `valid to ${myBox.valid_until}`) : `expired ${myBox.valid_until}`)
        : Dk.el("span", { class: "tag missed" }, "never seen")));
  },

  async confirmChildren() {
    const result = await Dk.api("POST", `/api/v1/households/${this.household.id}/confirmations`, { note: "confirmed at the counter" });
    if (!result.ok) { Dk.say("action-status", Dk.problem(result), "red"); return; }
    await this.open(this.patient.id);
    Dk.say("action-status", "Children in the household re-confirmed today.", "green");
  },

  async loadDue() {
    const result = await Dk.api("GET", `/api/v1/counter/due?date=${this.today}`);
    const box = document.getElementById("due-list");
    if (!result.ok) { box.replaceChildren(Dk.el("p", { class: "banner red" }, Dk.problem(result))); return; }
    this.dueItems = result.data.items;
    if (!result.data.items.length) { box.replaceChildren(Dk.el("p", {}, "Nobody is due today.")); return; }
    box.replaceChildren(Dk.el("table", {},
      Dk.el("thead", {}, Dk.el("tr", {}, ["Patient", "Dose", "Mode", "State", "Decision"].map((h) => Dk.el("th", { scope: "col" }, h)))),
      Dk.el("tbody", {}, result.data.items.map((row) => Dk.el("tr", {},
        Dk.el("td", {}, Dk.el("button", { type: "button", class: "secondary", onclick: () => this.open(row.patient_id) }, `${row.given_name} ${row.family_name}`)),
        Dk.el("td", {}, row.dose_dates.length > 1 ? `${this.daily(row)}; ${this.instalment(row)}` : this.daily(row)),
        Dk.el("td", {}, (row.mode || "-").replace("_", "-")),
        Dk.el("td", {}, Dk.el("span", { class: `tag ${row.state.split(",")[0]}` }, row.state)),
        Dk.el("td", {}, row.blocks.length ? row.blocks.map((b) => b.code.replaceAll("_", " ")).join("; ") : "ok"))))));
  },

  async closeDay() {
    if (!window.confirm("Close the day? Every instalment not recorded today becomes missed.")) return;
    const pharmacy = this.root.dataset.pharmacy;
    const result = await Dk.api("POST", `/api/v1/pharmacies/${pharmacy}/close-day`, { date: this.today });
    if (!result.ok) { Dk.say("eod-status", Dk.problem(result), "red"); return; }
    const r = result.data;
    Dk.say("eod-status", `Day closed: ${r.missed} instalment day(s) missed for ${r.patients} patient(s); ${r.alerts_raised} alert(s) raised.`, "green");
    this.loadDue();
  },

  async printerStatus() {
    const result = await Dk.api("GET", "/api/v1/printer");
    const line = document.getElementById("printer-status");
    if (!result.ok) { line.textContent = `Printer: ${Dk.problem(result)}`; return; }
    const p = result.data;
    line.textContent = `Printer ${p.url}: ${p.online === false ? "OFFLINE" : "ready"}, paper ${p.paper}${p.detail ? ` (${p.detail})` : ""}`;
  },

  listenForSerialScans() {
    if (!window.EventSource) return;
    const source = new EventSource("/api/v1/counter/scans/stream");
    source.addEventListener("scan", (event) => { this.scan(JSON.parse(event.data).code); });
  },
};

document.addEventListener("DOMContentLoaded", () => Counter.init());
