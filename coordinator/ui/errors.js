// Records every uncaught error and unhandled promise rejection in window.__txcErrors, so a test
// (or an operator, in the console) can tell that the page works without reading the console.
// A classic script, not a module: it must run before the modules, whose own errors it catches.
"use strict";
window.__txcErrors = [];
window.addEventListener("error", (e) => {
  window.__txcErrors.push(String(e.message || e.type) + (e.filename ? " at " + e.filename + ":" + e.lineno : ""));
});
window.addEventListener("unhandledrejection", (e) => {
  window.__txcErrors.push("unhandled rejection: " + String(e.reason && e.reason.stack || e.reason));
});
