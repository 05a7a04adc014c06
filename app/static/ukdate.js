// Dates typed as people in the UK write them (04/12/2026) and sent as the API reads them.
"use strict";

const UkDate = {
  HINT: "is not a date: write it as DD/MM/YYYY, for example 04/12/2026",

  // "4/12/2026", "04-12-2026" or "04.12.2026" -> "2026-12-04". Anything else is sent as typed,
  // so the API's refusal names the field (and `sentence` below words it for people).
  iso(text) {
    const match = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(text);
    if (!match) return text;
    return `${match[3]}-${match[2].padStart(2, "0")}-${match[1].padStart(2, "0")}`;
  },

  // The API's "is not a date (write it as YYYY-MM-DD)" in the form this page asks for.
  reword(message) {
    return message.startsWith("is not a date") ? UkDate.HINT : message;
  },
};
