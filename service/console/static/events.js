// The Events view: the lake's events (GET /v1/events) with the API's filters, newest first,
// "Load more" by cursor, each row opening to its normalized record and, on demand, its raw
// record. Opened from an alert on its principal or resource around its time, so "what else
// did this principal do that hour?" is one click. Values enter the page as text only.

import * as api from "./api.js";
import { clear, el, fieldsTable, pretty, utc } from "./render.js";
import { shortPrincipal } from "./text.js";

const FIELDS = [
  "provider", "account", "principal", "principal_type", "service", "action", "raw_action",
  "resource", "source_ip", "user_agent", "outcome", "error_code",
];
const HOUR_MS = 3600 * 1000;
const MAX_SPAN_MS = 31 * 24 * HOUR_MS;
const COLUMNS = 9;

const $ = (id) => document.getElementById(id);
const state = { filters: {}, cursor: null, shown: 0, load: 0 };
let report = () => {};

/** Wire the form and paging; ``fail`` shows an error the way the rest of the page does. */
export function initEvents(fail) {
  report = fail;
  $("event-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    search(readForm(), "");
  });
  $("event-clear").addEventListener("click", () => {
    $("event-filters").reset();
    search({}, "");
  });
  $("event-more").addEventListener("click", () => loadPage(false));
}

/** Run a search with ``filters`` (form names), filling the form to match. */
export function search(filters, context) {
  state.filters = filters;
  writeForm(filters);
  $("event-context").textContent = context;
  return loadPage(true);
}

/** The filters that show an alert's principal (or resource) from an hour before it began to
 * an hour after it was last seen (at most 31 days, ending at the alert's end). */
export function alertFilters(alert, on) {
  const first = Date.parse(alert.first_seen) - HOUR_MS;
  const last = Date.parse(alert.last_seen) + HOUR_MS + 1000;
  const filters = {
    since: stamp(Math.max(first, last - MAX_SPAN_MS)),
    until: stamp(last),
  };
  if (alert.provider) filters.provider = alert.provider;
  if (alert.account) filters.account = alert.account;
  filters[on] = alert[on];
  return filters;
}

export function forget() {
  state.load++;
  state.cursor = null;
  clear($("event-rows"));
  $("event-more").hidden = true;
  $("event-shown").textContent = "";
  $("event-context").textContent = "";
}

function stamp(ms) {
  return new Date(ms).toISOString().slice(0, 19); // "YYYY-MM-DDTHH:MM:SS", read as UTC
}

function readForm() {
  const form = new FormData($("event-filters"));
  const filters = {};
  for (const name of ["since", "until", ...FIELDS]) {
    const value = String(form.get(name) || "").trim();
    if (value) filters[name] = value;
  }
  return filters;
}

function writeForm(filters) {
  const form = $("event-filters");
  for (const name of ["since", "until", ...FIELDS]) form.elements[name].value = filters[name] || "";
}

// The form's times are UTC wall times ("YYYY-MM-DDTHH:MM[:SS]"); the API wants them marked.
function query(filters) {
  const out = { ...filters };
  for (const name of ["since", "until"]) {
    if (out[name]) out[name] = `${out[name].length === 16 ? out[name] + ":00" : out[name]}Z`;
  }
  return out;
}

async function loadPage(reset) {
  const load = ++state.load;
  if (reset) {
    state.cursor = null;
    state.shown = 0;
    clear($("event-rows"));
    $("event-more").hidden = true;
    $("event-shown").textContent = "searching...";
  }
  let page;
  try {
    page = await api.searchEvents(query(state.filters), state.cursor);
  } catch (error) {
    if (load !== state.load) return;
    $("event-shown").textContent = "";
    report(error);
    return;
  }
  if (load !== state.load) return; // the analyst searched again meanwhile
  for (const record of page.items) $("event-rows").append(eventRow(record));
  state.shown += page.items.length;
  state.cursor = page.next_cursor;
  $("event-more").hidden = !state.cursor;
  const span = state.filters.since || state.filters.until ? "" : " (last 24 h)";
  $("event-shown").textContent = state.shown
    ? `${state.shown} shown${state.cursor ? ", more available" : ""}${span}`
    : `no events match${span}`;
}

function eventRow(record) {
  const outcome = record.error_code ? `${record.outcome || ""} (${record.error_code})` : record.outcome;
  const cells = [
    [utc(record.time), record.time],
    [record.provider],
    [record.account],
    [shortPrincipal(record.principal), record.principal],
    [record.action, record.raw_action],
    [outcome],
    [record.source_ip],
    [record.resource],
    [record.user_agent],
  ].map(([shown, full]) => {
    const cell = el("td", {}, shown || "");
    const hover = full || shown;
    if (hover) cell.title = String(hover);
    return cell;
  });
  const row = el("tr", { tabIndex: 0, className: record.outcome === "failure" ? "failure" : "" }, ...cells);
  row.dataset.id = record.id;
  const toggle = () => {
    const open = row.nextElementSibling;
    if (open && open.classList.contains("event-open")) {
      open.remove();
      row.classList.remove("expanded");
      return;
    }
    row.classList.add("expanded");
    row.after(expanded(record));
  };
  row.addEventListener("click", toggle);
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter") toggle();
  });
  return row;
}

function expanded(record) {
  const slot = el("div", {});
  const button = el("button", { type: "button", onclick: () => loadRaw(record, slot) }, "Show raw record");
  slot.append(button);
  const cell = el("td", { colSpan: COLUMNS }, fieldsTable(record), slot);
  return el("tr", { className: "event-open" }, cell);
}

// The raw record of one event: the same API, narrowed to that event's exact time and entity
// (a millisecond window holding its microsecond time), and the row with its id picked out.
async function loadRaw(record, slot) {
  slot.replaceChildren(el("p", { className: "muted" }, "loading..."));
  const since = record.time;
  const until = new Date(Date.parse(record.time) + 1).toISOString();
  const filters = { since, until, provider: record.provider, include_raw: "true" };
  for (const name of ["account", "principal"]) if (record[name]) filters[name] = record[name];
  try {
    const page = await api.searchEvents(filters, null, 500);
    const found = page.items.find((item) => item.id === record.id);
    slot.replaceChildren(
      found ? el("pre", {}, pretty(found.raw)) : el("p", { className: "muted" }, "raw record not found"),
    );
  } catch (error) {
    slot.replaceChildren();
    report(error);
  }
}
