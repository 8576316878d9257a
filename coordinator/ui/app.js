// The admin UI's shell: hash routing (#/, #/tx/<id>, #/participants), the auto-refresh timer,
// and the token form shown whenever the API answers 401.
//
// A view is created per navigation: create(params, ctx) returns {root, refresh}. refresh()
// fetches and re-renders; it runs once at mount, then every REFRESH_MS unless paused or the tab
// is hidden. An ApiError it throws is shown above the view (whose last content stays); a 401
// replaces the view with the token form.

import { ApiError, setToken, token } from "./api.js";
import { h, notice, replace } from "./dom.js";
import * as listView from "./list_view.js";
import * as detailView from "./detail_view.js";
import * as participantsView from "./participants_view.js";

const REFRESH_MS = 3000;
const PAUSED_KEY = "txc.refreshPaused";

const viewEl = document.getElementById("view");
const statusEl = document.getElementById("refresh-status");
const toggleEl = document.getElementById("refresh-toggle");
const signOutEl = document.getElementById("sign-out");

let current = null;  // {view, banner, generation, busy}
let generation = 0;

function paused() {
  return sessionStorage.getItem(PAUSED_KEY) === "1";
}

// "#/tx/abc?x=1" -> {path: "/tx/abc", query: URLSearchParams}
function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const q = raw.indexOf("?");
  return { path: q < 0 ? raw : raw.slice(0, q),
           query: new URLSearchParams(q < 0 ? "" : raw.slice(q + 1)) };
}

function route({ path, query }) {
  if (path === "/" || path === "") return { module: listView, params: query, nav: "transactions" };
  const tx = path.match(/^\/tx\/([^/]+)$/);
  if (tx) {
    return { module: detailView, params: { id: decodeURIComponent(tx[1]) }, nav: "transactions" };
  }
  if (path === "/participants") return { module: participantsView, params: {}, nav: "participants" };
  return null;
}

function mount() {
  generation += 1;
  const target = route(parseHash());
  for (const link of document.querySelectorAll("header nav a")) {
    link.classList.toggle("active", target !== null && link.id === "nav-" + target.nav);
  }
  signOutEl.hidden = !token();
  if (target === null) {
    current = null;
    replace(viewEl, notice("error", "There is no page at " + location.hash + ". ",
                           h("a", { href: "#/" }, "Back to the transactions")));
    return;
  }
  const banner = h("div", { id: "banner" });
  const view = target.module.create(target.params, { refresh: () => refresh(true) });
  current = { view, banner, generation, busy: false };
  replace(viewEl, banner, view.root);
  refresh(true);
}

// Runs the current view's refresh; `forced` also runs it while auto-refresh is paused.
async function refresh(forced) {
  if (!current || current.busy) return;
  if (!forced && (paused() || document.hidden)) return;
  const mounted = current;
  const { view, banner, generation: gen } = mounted;
  mounted.busy = true;
  try {
    await view.refresh();
    if (gen !== generation) return;
    replace(banner);
    statusEl.textContent = "Updated " + new Date().toLocaleTimeString();
  } catch (e) {
    if (gen !== generation) return;
    if (e instanceof ApiError && e.status === 401) {
      showTokenForm(token() ? "The coordinator refused this token." : "");
    } else if (e instanceof ApiError) {
      replace(banner, notice("error", e.message));
    } else {
      throw e;  // a bug: errors.js records it
    }
  } finally {
    mounted.busy = false;
  }
}

function showTokenForm(problem) {
  generation += 1;
  current = null;
  const input = h("input", { id: "token-input", type: "password", autocomplete: "off",
                             placeholder: "API token", required: true, "aria-label": "API token" });
  const form = h("form", { id: "token-form", class: "card narrow",
                           onsubmit: (e) => { e.preventDefault(); setToken(input.value.trim()); mount(); } },
    h("h1", {}, "Sign in"),
    h("p", { class: "muted" },
      "This coordinator runs with --api-token. The token is kept in this tab only (sessionStorage)."),
    problem ? notice("error", problem) : null,
    h("div", { class: "row" }, input, h("button", { id: "token-submit", type: "submit" }, "Continue")));
  replace(viewEl, form);
  input.focus();
}

function renderToggle() {
  toggleEl.textContent = paused() ? "Resume auto-refresh" : "Pause auto-refresh";
  toggleEl.setAttribute("aria-pressed", paused() ? "true" : "false");
  if (paused()) statusEl.textContent = "Auto-refresh paused";
}

toggleEl.addEventListener("click", () => {
  sessionStorage.setItem(PAUSED_KEY, paused() ? "0" : "1");
  renderToggle();
  if (!paused()) refresh(true);
});
signOutEl.addEventListener("click", () => {
  setToken("");
  mount();
});
window.addEventListener("hashchange", mount);
document.addEventListener("visibilitychange", () => refresh(false));
setInterval(() => refresh(false), REFRESH_MS);

renderToggle();
mount();
