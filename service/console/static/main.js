// Wires the page: the key form, the views (Alerts, Events, Coverage), filters, the queue with cursor
// paging, the chart, and the detail panel with triage. State is this module's few variables;
// the server is the truth, so after every change the alert and the queue are read again.

import * as api from "./api.js";
import { exactByDay, stackedBars } from "./chart.js";
import * as coverageView from "./coverage.js";
import * as eventsView from "./events.js";
import { SEVERITIES, alertRow, clear, counts, detail, el, events, suppressionRow } from "./render.js";
import { shortPrincipal } from "./text.js";

const $ = (id) => document.getElementById(id);
const state = {
  view: "alerts",
  eventsLoaded: false,
  filters: {},
  cursor: null,
  shown: 0,
  selected: null,
  pageLoad: 0,
  chartLoad: 0,
  supCursor: null,
  supLoad: 0,
};

function say(text, ok = false) {
  const box = $("message");
  box.textContent = text;
  box.classList.toggle("ok", ok);
  box.hidden = !text;
}

function fail(error) {
  say(error instanceof api.ApiError ? error.message : `error: ${error}`);
  if (error instanceof api.ApiError && error.status === 401) showKeyState();
}

function showKeyState() {
  $("key-state").textContent = api.getKey() ? "key set for this tab" : "no key: data stays hidden";
}

function readFilters() {
  const form = new FormData($("filters"));
  const filters = {};
  for (const name of ["severity", "status", "detector", "rule_id", "q"]) {
    const value = String(form.get(name) || "").trim();
    if (value) filters[name] = value;
  }
  // Shadow alerts (rules in shadow mode) stay out of the queue and counts unless asked for.
  if (form.get("include_shadow")) filters.include_shadow = "true";
  // Whole UTC days: from the start of "from" up to the end of "to" (the API's until is exclusive).
  const day = (name) => String(form.get(name) || "");
  if (/^\d{4}-\d{2}-\d{2}$/.test(day("since"))) filters.since = `${day("since")}T00:00:00Z`;
  if (/^\d{4}-\d{2}-\d{2}$/.test(day("until"))) {
    const next = new Date(`${day("until")}T00:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    filters.until = next.toISOString().replace(".000Z", "Z");
  }
  return filters;
}

// A newer load wins: a slow answer for filters the analyst has since changed is dropped, not
// drawn over the newer one.
async function loadChart() {
  const load = ++state.chartLoad;
  const floor = Math.max(0, SEVERITIES.indexOf(state.filters.severity || "info"));
  const wanted = SEVERITIES.slice(floor);
  const summaries = await Promise.all(
    wanted.map((severity) => api.alertSummary({ ...state.filters, severity })),
  );
  if (load !== state.chartLoad) return;
  const atLeast = {};
  wanted.forEach((severity, i) => (atLeast[severity] = summaries[i].by_day));
  $("counts").replaceChildren(...counts(summaries[0]));
  stackedBars($("chart"), exactByDay(atLeast));
}

async function loadPage(reset) {
  const load = ++state.pageLoad;
  if (reset) {
    state.cursor = null;
    state.shown = 0;
    clear($("alert-rows"));
  }
  const page = await api.listAlerts(state.filters, state.cursor);
  if (load !== state.pageLoad) return;
  for (const alert of page.items) {
    const row = alertRow(alert, openAlert);
    row.classList.toggle("selected", alert.id === state.selected);
    $("alert-rows").append(row);
  }
  state.shown += page.items.length;
  state.cursor = page.next_cursor;
  $("more").hidden = !state.cursor;
  $("shown").textContent = `${state.shown} shown${state.cursor ? ", more available" : ""}`;
}

// Suppressions are analyst business: a viewer's 403 becomes a note, not an error.
// A newer load (another key, the expired box) wins: answers of older loads are dropped.
async function loadSuppressions(reset) {
  const load = ++state.supLoad;
  if (reset) {
    state.supCursor = null;
    clear($("sup-rows"));
  }
  $("sup-note").textContent = "";
  try {
    const page = await api.listSuppressions(!$("sup-expired").checked, state.supCursor);
    if (load !== state.supLoad) return;
    for (const item of page.items) $("sup-rows").append(suppressionRow(item, removeSuppression));
    state.supCursor = page.next_cursor;
    $("sup-more").hidden = !state.supCursor;
    if (!$("sup-rows").children.length) $("sup-note").textContent = "none";
  } catch (error) {
    if (load !== state.supLoad) return;
    $("sup-more").hidden = true;
    if (error instanceof api.ApiError && error.status === 403) {
      $("sup-note").textContent = "shown to analysts and admins";
    } else {
      fail(error);
    }
  }
}

async function removeSuppression(id) {
  try {
    await api.deleteSuppression(id);
    say(`suppression ${id} deleted: new matching alerts are stored as open again`, true);
    await loadSuppressions(true);
  } catch (error) {
    fail(error);
  }
}

// Views: a nav button per <main data-view>; the Events view searches the last 24 h the first
// time it is shown (unless an alert opened it with filters of its own).
function showView(name) {
  state.view = name;
  for (const view of document.querySelectorAll("main[data-view]")) view.hidden = view.dataset.view !== name;
  for (const button of $("nav").querySelectorAll("button[data-view]")) {
    if (button.dataset.view === name) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  if (name === "events" && !state.eventsLoaded && api.getKey()) {
    state.eventsLoaded = true;
    eventsView.search({}, "");
  }
  if (name === "coverage" && api.getKey()) coverageView.loadCoverage();
}

// An account of the Coverage view: its events of the last 24 hours.
function openAccountEvents(item) {
  state.eventsLoaded = true;
  showView("events");
  eventsView.search(
    { provider: item.provider, account: item.account },
    `account ${item.account} (${item.provider}), the last 24 hours`,
  );
}

function openEvents(alert, on) {
  const filters = eventsView.alertFilters(alert, on);
  const who = on === "principal" ? shortPrincipal(alert.principal) : alert.resource;
  state.eventsLoaded = true;
  showView("events");
  eventsView.search(filters, `${on} ${who}, an hour either side of the alert (UTC ${filters.since} to ${filters.until})`);
}

async function refresh() {
  if (!api.getKey()) return;
  if (state.view === "events") {
    state.eventsLoaded = true;
    eventsView.search({}, "");
  }
  if (state.view === "coverage") coverageView.loadCoverage();
  say("");
  try {
    await Promise.all([loadPage(true), loadChart(), loadSuppressions(true)]);
  } catch (error) {
    fail(error);
  }
}

async function openAlert(id) {
  state.selected = id;
  for (const row of $("alert-rows").children) row.classList.toggle("selected", row.dataset.id === id);
  try {
    const alert = await api.getAlert(id);
    $("detail").replaceChildren(...detail(alert, actionsFor(alert)));
  } catch (error) {
    fail(error);
  }
}

function actionsFor(alert) {
  const id = alert.id;
  return {
    openEvents(on) {
      openEvents(alert, on);
    },
    async patch(changes) {
      try {
        await api.patchAlert(id, changes);
        say("saved", true);
        await openAlert(id);
        await refreshKeepingDetail();
      } catch (error) {
        fail(error);
      }
    },
    async suppress(spec) {
      try {
        const made = await api.createSuppression(spec);
        say(`suppression ${made.id} created: new matching alerts are stored as suppressed`, true);
        await loadSuppressions(true);
      } catch (error) {
        fail(error);
      }
    },
    async loadEvents(slot) {
      slot.replaceChildren(el("p", { className: "muted" }, "loading..."));
      try {
        slot.replaceChildren(...events(await api.alertEvents(id)));
      } catch (error) {
        slot.replaceChildren();
        fail(error);
      }
    },
  };
}

async function refreshKeepingDetail() {
  try {
    await Promise.all([loadPage(true), loadChart()]);
  } catch (error) {
    fail(error);
  }
}

function start() {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key-input").value.trim();
    $("key-input").value = "";
    if (!key) return;
    api.setKey(key);
    showKeyState();
    refresh();
  });
  $("key-forget").addEventListener("click", () => {
    api.forgetKey();
    showKeyState();
    clear($("alert-rows"));
    clear($("counts"));
    clear($("chart"));
    clear($("sup-rows"));
    $("sup-note").textContent = "";
    $("sup-more").hidden = true;
    $("detail").replaceChildren(el("p", { className: "muted" }, "Select an alert."));
    $("more").hidden = true;
    $("shown").textContent = "";
    eventsView.forget();
    coverageView.forget();
    state.eventsLoaded = false;
    say("");
  });
  for (const button of $("nav").querySelectorAll("button[data-view]")) {
    button.addEventListener("click", () => showView(button.dataset.view));
  }
  eventsView.initEvents(fail);
  coverageView.initCoverage(fail, openAccountEvents);
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.filters = readFilters();
    refresh();
  });
  $("more").addEventListener("click", () => loadPage(false).catch(fail));
  $("sup-more").addEventListener("click", () => loadSuppressions(false));
  $("sup-expired").addEventListener("change", () => api.getKey() && loadSuppressions(true));
  showKeyState();
  refresh();
}

start();
