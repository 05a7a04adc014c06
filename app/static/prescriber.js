// The prescriber's caseload: release a blocked patient after review.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("form.release").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const note = form.querySelector("input[name=note]").value.trim();
      const result = await Dk.api("POST", `/api/v1/prescriptions/${form.dataset.prescription}/release`, { note });
      if (!result.ok) { Dk.say("prescriber-status", Dk.problem(result), "red"); return; }
      form.replaceWith(Dk.el("span", { class: "tag ok" }, "released: the pharmacy may supply again"));
      Dk.say("prescriber-status", "Released. The review is recorded and the counter may supply again.", "green");
    });
  });
});
