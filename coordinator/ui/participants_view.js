// #/participants: who is live (GET /v1/participants): each participant name, whether any of its
// instances was heard within the liveness window, and each instance's last-seen age. A
// coordinator that does not track liveness (503 "unavailable") or predates the endpoint (404)
// says so instead of showing an error; any other failure is shown as the error it is.

import { listParticipants } from "./api.js";
import { duration, h, notice, replace, time } from "./dom.js";

export function create(_params, _ctx) {
  const content = h("div", {});
  const root = h("section", { id: "participants" },
    h("div", { class: "title-row" }, h("h1", {}, "Participants")), content);

  async function refresh() {
    let answer;
    try {
      answer = await listParticipants();
    } catch (e) {
      if (livenessUnavailable(e)) {
        replace(content, notice("info", h("span", { id: "participants-unavailable" },
                                          "Participant liveness is not available on this coordinator.")));
        return;
      }
      throw e;
    }
    const list = answer.participants || [];
    if (list.length === 0) {
      replace(content, notice("info", h("span", { id: "participants-none" },
                                        "No participant has been heard from yet.")));
      return;
    }
    const live = list.filter((p) => p.live).length;
    replace(content,
      h("p", { class: "muted", id: "participants-summary" },
        live + " of " + list.length + " participant" + (list.length === 1 ? "" : "s") + " live"),
      h("div", { class: "card flush" },
        h("table", { class: "data", id: "participants-table" },
          h("thead", {}, h("tr", {}, ["Participant", "Status", "Instance", "Last seen", "Age"].map((c) => h("th", {}, c)))),
          h("tbody", {}, list.flatMap(rows)))));
  }

  return { root, refresh };
}

// GET /v1/participants answers 503 "unavailable" when the coordinator does not track liveness
// (http_api.cpp); an older coordinator has no such route (404). A 503 from anything else (a
// proxy's page, without our error body) is an error, not this.
function livenessUnavailable(e) {
  return e.status === 404 || (e.status === 503 && e.code === "unavailable");
}

// One row per instance; the participant's name and status span them.
function rows(p) {
  const instances = p.instances && p.instances.length ? p.instances : [null];
  return instances.map((inst, i) => h("tr", { dataset: { participant: p.name, live: p.live ? "true" : "false" },
                                              class: i === 0 ? "group-start" : "" },
    i === 0 ? h("td", { rowspan: String(instances.length) }, h("strong", {}, p.name)) : null,
    i === 0 ? h("td", { rowspan: String(instances.length) },
                h("span", { class: "pill " + (p.live ? "st-good" : "st-bad") }, p.live ? "live" : "not live")) : null,
    h("td", { class: "mono" }, inst ? inst.id : "\u2014"),
    h("td", { class: "nowrap" }, inst ? time(inst.last_seen) : "\u2014"),
    h("td", { class: "num nowrap" + (inst && !p.live ? " error-text" : "") },
      inst ? duration(inst.age_ms) + " ago" : "\u2014")));
}
