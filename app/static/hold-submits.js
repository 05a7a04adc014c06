// Loaded without defer, before anything else: a form the API drives has no action, and until
// its deferred script has bound, the browser would submit it as a GET, putting what was typed
// (names, addresses, NHS numbers) into the address bar, the history and the access log. Such a
// submit is held instead; its own handler, once bound, does the work.
document.addEventListener(
  "submit",
  (event) => {
    if (event.target instanceof HTMLFormElement && !event.target.hasAttribute("action")) {
      event.preventDefault();
    }
  },
  true,
);
