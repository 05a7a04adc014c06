// The CD register page: receipts, witnessed balance checks and corrections through the API.
// After an entry the page is read again, so the running balance shown is the server's.
"use strict";

const Register = {
  LABELS: {
    barcode: "The pack barcode",
    received_on: "The date received",
    supplier_name: "The supplier name",
    supplier_address: "The supplier address",
    quantity_ml: "The quantity received",
    invoice_ref: "The invoice reference",
    batch: "The batch",
    expiry: "The expiry",
    late_reason: "The reason for entering it late",
    gtin: "The GTIN",
    product: "The product",
    counted_ml: "The count",
    witness_username: "The witness's username",
    witness_password: "The witness's password",
    explanation: "The explanation",
    corrects_id: "The line to correct",
    change_ml: "The change to the balance",
    reason: "The reason",
  },

  init() {
    const done = sessionStorage.getItem("register-done");
    if (done) {
      sessionStorage.removeItem("register-done");
      Dk.say("register-status", done, "green");
    }
    this.wire("receipt", "/api/v1/register/receipts", (form) => ({
      product: form.dataset.product,
      barcode: this.value(form, "barcode"),
      received_on: this.value(form, "received_on"),
      supplier_name: this.value(form, "supplier_name") || "",
      supplier_address: this.value(form, "supplier_address") || "",
      quantity_ml: this.value(form, "quantity_ml"),
      invoice_ref: this.value(form, "invoice_ref") || "",
      batch: this.value(form, "batch"),
      expiry: this.value(form, "expiry"),
      late_reason: this.value(form, "late_reason"),
    }), (entry) => `Receipt recorded on line ${entry.line}: ${Dk.num(entry.quantity_ml)} mL; the balance is ${Dk.num(entry.balance_ml)} mL.`);
    this.wire("balance-check", "/api/v1/register/balance-checks", (form) => ({
      product: form.dataset.product,
      counted_ml: this.value(form, "counted_ml"),
      witness_username: this.value(form, "witness_username") || "",
      witness_password: form.elements.namedItem("witness_password").value,
      explanation: this.value(form, "explanation"),
    }), (entry) => `Balance check recorded on line ${entry.line}, witnessed by ${entry.witness_name}: variance ${Dk.num(entry.variance_ml)} mL.`);
    this.wire("correction", "/api/v1/register/corrections", (form) => ({
      corrects_id: this.value(form, "corrects_id"),
      change_ml: this.value(form, "change_ml") || "0",
      reason: this.value(form, "reason") || "",
    }), (entry) => `Correction recorded on line ${entry.line}; the balance is ${Dk.num(entry.balance_ml)} mL.`);
    this.wire("pack-mapping", "/api/v1/register/packs", (form) => ({
      gtin: this.value(form, "gtin") || "",
      product: this.value(form, "product") || "",
      reason: this.value(form, "reason") || "",
      confirm_change: form.elements.namedItem("confirm_change").checked,
    }), (m) => `Pack ${m.gtin} mapped to ${m.product_name || m.product}` +
      (m.replaces ? ` (changed from ${m.replaces_name || m.replaces})` : "") + ".");
  },

  value(form, name) {
    const field = form.elements.namedItem(name);
    const text = field ? field.value.trim() : "";
    if (text === "") return null;
    return field.classList && field.classList.contains("date") ? UkDate.iso(text) : text;
  },

  wire(id, path, body, said) {
    const form = document.getElementById(id);
    if (!form) return;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      for (const box of form.querySelectorAll(".field-error")) box.replaceChildren();
      for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
      const result = await Dk.api("POST", path, body(form));
      if (result.ok) {
        sessionStorage.setItem("register-done", said(result.data));
        for (const button of form.querySelectorAll("button")) button.disabled = true;
        window.location.reload();
        return;
      }
      this.show(form, result);
    });
  },

  sentence(field, message) {
    const label = this.LABELS[(field || "").split(".")[0]];
    const text = (label ? `${label} ${UkDate.reword(message)}` : message).trim();
    const capital = text.charAt(0).toUpperCase() + text.slice(1);
    return /[.!?]$/.test(capital) ? capital : `${capital}.`;
  },

  show(form, result) {
    const d = result.data || {};
    const items = [];
    for (const e of d.errors || []) items.push([e.field, this.sentence(e.field, e.message)]);
    for (const b of d.blocks || []) items.push([b.field, this.sentence(null, b.message)]);
    if (!items.length) items.push([null, this.sentence(null, Dk.problem(result))]);
    for (const [field, text] of items) {
      const name = (field || "form").split(".")[0];
      const slot = form.querySelector(`.field-error[data-field="${name}"]`) || form.querySelector('.field-error[data-field="form"]');
      slot.append(Dk.el("span", { class: "finding red" }, text), " ");
      const input = form.querySelector(`[name="${name}"]`);
      if (input) input.setAttribute("aria-invalid", "true");
    }
  },
};

document.addEventListener("DOMContentLoaded", () => Register.init());
