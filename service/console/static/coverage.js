// The Coverage view: which accounts still send what they used to (GET /v1/coverage): each
// (provider, account) as ok, silent or degraded with its reasons, the log types it sent, the
// rules that see nothing without data events, and the sources that keep failing. An account's
// "events" button opens the Events view on it over the last 24 hours. Values enter the page as
// text only.

import * as api from "./api.js";
import { clear, el, utc } from "./render.js";

const $ = (id) => document.getElementById(id);
const STATUSES = ["silent", "degraded", "ok"];
const state = { load: 0 };
let report = () => {};
let openAccount = () => {};

/** Wire the refresh button; ``fail`` shows errors, ``onAccount(item)`` opens its events. */
export function initCoverage(fail, onAccount) {
  report = fail;
  openAccount = onAccount;
  $("coverage-refresh").addEventListener("click", () => loadCoverage());
}

export function forget() {
  state.load++;
  clear($("coverage-rows"));
  clear($("coverage-sources"));
  $("coverage-summary").textContent = "";
}

/** Read the coverage again and draw it; accounts that need a look first. */
export async function loadCoverage() {
  const load = ++state.load;
  $("coverage-summary").textContent = "loading...";
  let page;
  try {
    page = await api.coverage();
  } catch (error) {
    if (load !== state.load) return;
    $("coverage-summary").textContent = "";
    report(error);
    return;
  }
  if (load !== state.load) return;
  const items = [...page.items].sort(
    (a, b) => STATUSES.indexOf(a.status) - STATUSES.indexOf(b.status),
  );
  $("coverage-rows").replaceChildren(...items.map(accountRow));
  $("coverage-summary").textContent = summary(items, page.at);
  $("coverage-sources").replaceChildren(...page.failing_sources.map(sourceLine));
}

function summary(items, at) {
  if (!items.length) return `no events in the lake over the last two weeks (as of ${utc(at)} UTC)`;
  const by = {};
  for (const item of items) by[item.status] = (by[item.status] || 0) + 1;
  const parts = STATUSES.filter((s) => by[s]).map((s) => `${by[s]} ${s}`);
  return `${items.length} account(s): ${parts.join(", ")} (as of ${utc(at)} UTC)`;
}

function accountRow(item) {
  const status = el("span", { className: `status status-${STATUSES.includes(item.status) ? item.status : "unknown"}` }, item.status);
  const types = el(
    "ul",
    { className: "plain" },
    ...item.log_types.map((t) =>
      el("li", { title: `last at ${utc(t.last_event)} UTC` }, `${t.name}: ${t.events_24h} in 24 h (usually ~${Math.round(t.baseline_per_day)}/day)`),
    ),
  );
  const reasons = el("ul", { className: "plain" }, ...item.reasons.map((r) => el("li", {}, r)));
  if (item.rules_without_data.length) {
    reasons.append(
      el("li", { className: "muted" }, `blind without data events: ${item.rules_without_data.join(", ")}`),
    );
  }
  const button = el("button", { type: "button", onclick: () => openAccount(item) }, "events");
  const row = el(
    "tr",
    { className: `cov-${item.status}` },
    el("td", {}, status),
    el("td", {}, item.provider),
    el("td", { title: item.account }, item.account),
    el("td", {}, utc(item.last_event)),
    el("td", {}, String(item.events_24h)),
    el("td", {}, String(Math.round(item.baseline_per_day))),
    el("td", {}, types),
    el("td", {}, reasons),
    el("td", {}, button),
  );
  row.dataset.account = item.account;
  return row;
}

function sourceLine(source) {
  return el(
    "li",
    {},
    `${source.uri}: ${source.failures} failed pulls in a row; last error ${source.last_error || "unknown"}` +
      (source.last_success ? ` (last success ${utc(source.last_success)} UTC)` : " (never succeeded)"),
  );
}
