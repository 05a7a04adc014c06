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
    if (error) parts.push(Dk.el("p", { class: "banner red", role: "alert" }, error));
    if (d) {
      const ml = d.dose_ml ? ` = ${d.dose_ml} mL` : "";
      const days = d.dose_dates.length;
      const mode = d.mode === "supervised" ? (days > 1 ? `supervised today + ${days - 1} day(s) to take home` : "supervised")
        : d.mode === "take_home" ? `take-home, ${days} day(s): ${d.dose_dates.join(", ")}` : "nothing to hand over";
      parts.push(Dk.el("p", { class: "dose" }, `${Dk.num(d.dose_mg)} mg${ml}`), Dk.el("p", {}, `Today: ${mode}`));
      parts.push(this.banner(d));
      if (d.warnings.length) parts.push(this.warningBoxes(d.warnings));
      const overridable = d.blocks.filter((b) => ["no_lockable_box", "children_not_confirmed"].includes(b.code));
      if (overridable.length && d.blocks.length === overridable.length) parts.push(this.overrideBoxes(overridable));
      parts.push(this.handoverForm(d));
    }
    parts.push(this.withholdForm(), this.boxForm());
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
      Dk.el("div", { class: "actions" },
        Dk.el("button", { type: "submit", id: "handover-button" },
          supervised ? "Record supervised dose" : `Hand over take-home (${d.dose_dates.length} days, ${d.dose_ml || d.dose_mg} ${d.dose_ml ? "mL" : "mg"})`)));
    form.addEventListener("submit", (event) => { event.preventDefault(); this.handover(supervised); });
    return form;
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
    };
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
          Dk.el("input", { id: "withhold-text", maxlength: "1000" })),
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
      Dk.say("action-status", `Withheld: ${result.data.withheld.join(", ")}. The key worker and prescriber are alerted.`, "amber");
      this.loadDue();
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
    const confirm = Dk.el("button", { type: "button", class: "secondary", onclick: () => this.confirmChildren() }, "Children confirmed today");
    box.replaceChildren(
      Dk.el("h2", { id: "household-heading" }, "Household"),
      Dk.el("h3", {}, `Children (${h.children.length})`),
      h.children.length ? Dk.el("ul", {}, h.children.map((c) => Dk.el("li", {}, `${c.name}, age ${c.age_years} `,
        Dk.el("span", { class: `tag ${c.protection_status}` }, c.protection_status.replaceAll("_", " "))))) : Dk.el("p", {}, "No children recorded."),
      Dk.el("p", {}, `Children last confirmed: ${h.children_confirmed_on || "never"} `, confirm),
      Dk.el("h3", {}, "Other methadone patients in the home"),
      others.length ? Dk.el("ul", {}, others.map((m) => Dk.el("li", {}, `${m.given_name} ${m.family_name}`))) : Dk.el("p", {}, "None."),
      Dk.el("p", {}, Dk.el("strong", {}, `Methadone already at home: ${Dk.num(h.methadone_at_home_mg)} mg`)),
      Dk.el("p", {}, "Lockable box: ", myBox ? Dk.el("span", { class: `tag ${myBox.valid_today ? "ok" : "missed"}` },
        myBox.valid_today ? `seen ${myBox.seen_on}, valid to ${myBox.valid_until}` : `expired ${myBox.valid_until}`)
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
    if (!result.data.items.length) { box.replaceChildren(Dk.el("p", {}, "Nobody is due today.")); return; }
    box.replaceChildren(Dk.el("table", {},
      Dk.el("thead", {}, Dk.el("tr", {}, ["Patient", "Dose", "Mode", "State", "Decision"].map((h) => Dk.el("th", { scope: "col" }, h)))),
      Dk.el("tbody", {}, result.data.items.map((row) => Dk.el("tr", {},
        Dk.el("td", {}, Dk.el("button", { type: "button", class: "secondary", onclick: () => this.open(row.patient_id) }, `${row.given_name} ${row.family_name}`)),
        Dk.el("td", {}, `${Dk.num(row.dose_mg)} mg`),
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
