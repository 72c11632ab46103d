// Builds the page's DOM from API data. Every value from an alert or event is attacker-
// influenced (titles, principals, resources, user agents, raw records), so values enter the
// page only as text nodes (append/textContent) or as properties of elements built here;
// this module never parses data as HTML.

import { runbookBlocks, shortPrincipal, shortTitle } from "./text.js";

export const SEVERITIES = ["info", "low", "medium", "high", "critical"];
export const DISPOSITIONS = [
  ["true_positive", "true positive"],
  ["false_positive", "false positive"],
  ["benign", "benign"],
];
const VERDICT = Object.fromEntries(DISPOSITIONS);

/** The badge of an alert raised by a rule (or the model) in shadow mode: stored, not paged. */
export function shadowBadge(alert) {
  return alert.shadow ? el("span", { className: "badge shadow", title: "raised in shadow mode: never delivered" }, "shadow") : null;
}

/** An element with properties (className, type, ...) and children (strings become text). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node[name] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export function utc(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  return Number.isNaN(moment.getTime()) ? String(iso) : moment.toISOString().slice(0, 19).replace("T", " ");
}

export function severityClass(severity) {
  return SEVERITIES.includes(severity) ? `sev-${severity}` : "sev-unknown";
}

export function chip(severity) {
  return el("span", { className: `chip ${severityClass(severity)}` }, severity);
}

// The queue reads at a glance: titles and principals with IAM ARNs shortened ("user/alice"),
// the full text on hover.
export function alertRow(alert, onOpen) {
  const cells = [
    [chip(alert.severity)],
    [shortTitle(alert.title), alert.title],
    [alert.rule_id],
    [shortPrincipal(alert.principal), alert.principal],
    [alert.resource],
    [alert.status, null, shadowBadge(alert)],
    [alert.count],
    [utc(alert.last_seen)],
  ].map(([value, full, badge]) => {
    const cell = el("td", {}, value ?? "", badge ? " " : null, badge);
    const hover = full ?? value;
    if (typeof hover === "string" && hover) cell.title = hover;
    return cell;
  });
  const row = el("tr", { tabIndex: 0 }, ...cells);
  row.dataset.id = alert.id;
  row.addEventListener("click", () => onOpen(alert.id));
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter") onOpen(alert.id);
  });
  return row;
}

export function counts(summary) {
  const items = [el("span", { className: "count" }, `total ${summary.total}`)];
  for (const severity of [...SEVERITIES].reverse()) {
    const n = summary.by_severity[severity];
    if (n) items.push(el("span", { className: "count" }, chip(severity), ` ${n}`));
  }
  for (const [status, n] of Object.entries(summary.by_status)) {
    items.push(el("span", { className: "count" }, `${status} ${n}`));
  }
  for (const [disposition, n] of Object.entries(summary.by_disposition || {})) {
    if (n) items.push(el("span", { className: "count" }, `${VERDICT[disposition] || disposition} ${n}`));
  }
  return items;
}

function meta(pairs) {
  const list = el("dl", { className: "meta" });
  for (const [name, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    list.append(el("dt", {}, name), el("dd", {}, value));
  }
  return list;
}

function explanation(deviations) {
  if (!deviations || deviations.length === 0) return null;
  const rows = deviations.map((d) =>
    el("tr", {}, el("td", {}, d.feature), el("td", {}, d.observed === null || d.observed === undefined ? "" : String(d.observed)), el("td", {}, d.baseline)),
  );
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, el("th", {}, "feature"), el("th", {}, "observed"), el("th", {}, "baseline"))),
    el("tbody", {}, ...rows),
  );
}

// A runbook keeps its numbered steps as a list and its other lines as paragraphs; a runbook
// that is one http(s) URL is a link (any other scheme stays text).
function runbook(text) {
  if (!text) return null;
  const url = httpUrl(text.trim());
  if (url) return el("p", {}, el("a", { href: url.href, rel: "noopener noreferrer", target: "_blank" }, text));
  const blocks = runbookBlocks(text).map((block) =>
    block.steps
      ? el("ol", { start: block.start }, ...block.steps.map((step) => el("li", {}, step)))
      : el("p", {}, block.text),
  );
  return el("div", { className: "runbook" }, ...blocks);
}

function httpUrl(text) {
  if (/\s/.test(text)) return null;
  try {
    const url = new URL(text);
    return url.protocol === "https:" || url.protocol === "http:" ? url : null;
  } catch {
    return null;
  }
}

function history(entries) {
  if (!entries || entries.length === 0) return el("p", { className: "muted" }, "No triage yet.");
  const items = entries.map((h) => {
    const parts = [utc(h.at), " ", h.actor];
    if (h.status_to && h.status_to !== h.status_from) parts.push(`: ${h.status_from || "-"} → ${h.status_to}`);
    if (h.disposition) parts.push(`; verdict ${VERDICT[h.disposition] || h.disposition}`);
    if (h.assignee_to !== h.assignee_from) parts.push(`; assignee ${h.assignee_to || "none"}`);
    if (h.note) parts.push(el("pre", {}, h.note));
    return el("li", {}, ...parts);
  });
  return el("ul", { className: "history" }, ...items);
}

function shortBadged(alert) {
  const badge = shadowBadge(alert);
  return badge ? el("span", {}, shortTitle(alert.title), " ", badge) : shortTitle(alert.title);
}

/** The detail panel: facts, explanation, the alert's events, triage controls, suppression
 * form, evidence slot. Only nodes: a missing part is left out, never rendered as "null". */
export function detail(alert, actions) {
  const assignee = el("input", { maxLength: 200, value: alert.assignee || "", placeholder: "analyst" });
  const note = el("textarea", { maxLength: 10000, placeholder: "what you found" });
  const evidence = el("div", {}, el("button", { type: "button", onclick: () => actions.loadEvents(evidence) }, "Load evidence events"));
  const status = (label, to) =>
    el("button", { type: "button", disabled: alert.status === to, onclick: () => actions.patch({ status: to }) }, label);
  // Resolving takes the verdict; on a resolved alert the same control records (or changes) it.
  const verdict = el(
    "select",
    { name: "disposition", className: "verdict" },
    el("option", { value: "" }, "no verdict"),
    ...DISPOSITIONS.map(([value, label]) => el("option", { value, selected: alert.disposition === value }, label)),
  );
  const resolved = alert.status === "resolved";
  const resolve = el(
    "button",
    {
      type: "button",
      className: "resolve",
      onclick: () => {
        const changes = resolved ? {} : { status: "resolved" };
        if (verdict.value) changes.disposition = verdict.value;
        if (Object.keys(changes).length) actions.patch(changes);
      },
    },
    resolved ? "Record verdict" : "Resolve",
  );
  const title = el("h2", { title: alert.title }, chip(alert.severity), " ", shortBadged(alert));
  const around = [
    alert.principal ? ["principal", "Events of this principal (±1 h)"] : null,
    alert.resource ? ["resource", "Events on this resource (±1 h)"] : null,
  ].filter(Boolean);
  const parts = [
    title,
    meta([
      ["status", alert.status],
      ["verdict", VERDICT[alert.disposition] || alert.disposition],
      ["mode", alert.shadow ? "shadow: stored and counted, never delivered" : null],
      ["assignee", alert.assignee],
      ["detector / rule", [alert.detector, alert.rule_id].filter(Boolean).join(" / ")],
      ["provider", alert.provider],
      ["account", alert.account],
      ["principal", alert.principal],
      ["resource", alert.resource],
      ["first seen", `${utc(alert.first_seen)} UTC`],
      ["last seen", `${utc(alert.last_seen)} UTC`],
      ["count", alert.count],
      ["score", typeof alert.score === "number" ? alert.score.toFixed(2) : null],
      ["id", alert.id],
    ]),
    around.length
      ? el("div", { className: "actions" },
          ...around.map(([on, label]) =>
            el("button", { type: "button", className: "to-events", onclick: () => actions.openEvents(on) }, label),
          ),
        )
      : null,
    el("h3", {}, "Tags"),
    alert.tags && alert.tags.length ? el("div", {}, ...alert.tags.map((t) => el("span", { className: "tag" }, t))) : el("p", { className: "muted" }, "none"),
    alert.runbook ? el("h3", {}, "Runbook") : null,
    runbook(alert.runbook),
    alert.explanation && alert.explanation.length ? el("h3", {}, "Why it is anomalous") : null,
    explanation(alert.explanation),
    el("h3", {}, "Triage"),
    el("div", { className: "actions" },
      status("Acknowledge", "acknowledged"),
      el("label", {}, "verdict", verdict),
      resolve,
      status("Reopen", "open"),
    ),
    el("div", { className: "actions" },
      el("label", {}, "assignee", assignee),
      el("button", { type: "button", onclick: () => actions.patch({ assignee: assignee.value.trim() || null }) }, "Assign"),
    ),
    note,
    el("div", { className: "actions" },
      el("button", { type: "button", onclick: () => note.value.trim() && actions.patch({ note: note.value }) }, "Add note"),
    ),
    el("h3", {}, "History"),
    history(alert.history),
    el("h3", {}, "Suppress similar alerts"),
    suppressionForm(alert, actions.suppress),
    el("h3", {}, "Evidence"),
    evidence,
  ];
  return parts.filter((part) => part !== null && part !== undefined && part !== false);
}

function suppressionForm(alert, suppress) {
  const field = (label, value) => {
    const box = el("input", { type: "checkbox", checked: Boolean(value), disabled: !value });
    return { box, value, node: el("label", { className: "check" }, el("span", {}, box, ` ${label}: `, value || "(none)")) };
  };
  const rule = field("rule", alert.rule_id);
  const principal = field("principal", alert.principal);
  const resource = field("resource", alert.resource);
  const expires = el("input", { type: "datetime-local" });
  const reason = el("input", { maxLength: 2000, placeholder: "why these alerts are expected" });
  const submit = () => {
    const spec = { reason: reason.value.trim() };
    if (rule.box.checked) spec.rule_id = rule.value;
    if (principal.box.checked) spec.principal = principal.value;
    if (resource.box.checked) spec.resource = resource.value;
    const at = expires.value; // "YYYY-MM-DDTHH:MM", read as UTC
    if (at) spec.expires_at = `${at.length === 16 ? at + ":00" : at}Z`;
    suppress(spec);
  };
  return el("div", {},
    rule.node, principal.node, resource.node,
    el("div", { className: "actions" },
      el("label", {}, "expires (UTC, empty = never)", expires),
      el("label", {}, "reason", reason),
      el("button", { type: "button", onclick: submit }, "Create suppression"),
    ),
  );
}

/** One suppression; deleting takes two clicks (the first arms the button). */
export function suppressionRow(item, onDelete) {
  const expired = item.expires_at && new Date(item.expires_at) <= new Date();
  const remove = el("button", { type: "button" }, "Delete");
  remove.addEventListener("click", () => {
    if (remove.dataset.armed) onDelete(item.id);
    else {
      remove.dataset.armed = "1";
      remove.textContent = "Confirm delete";
    }
  });
  const cells = [
    item.rule_id, item.principal, item.resource, item.source_cidr, item.reason, item.created_by,
    utc(item.created_at), item.expires_at ? utc(item.expires_at) : "never",
  ].map((value) => {
    const cell = el("td", {}, value || "");
    if (value) cell.title = String(value);
    return cell;
  });
  const row = el("tr", { className: expired ? "expired" : "" }, ...cells, el("td", {}, remove));
  row.dataset.id = item.id;
  return row;
}

/** An event's normalized fields (not ``raw``) as a two-column table, empty ones left out. */
export function fieldsTable(record) {
  const rows = Object.entries(record)
    .filter(([name, value]) => name !== "raw" && value !== null && value !== "")
    .map(([name, value]) => el("tr", {}, el("td", {}, name), el("td", {}, typeof value === "object" ? JSON.stringify(value) : String(value))));
  return el("table", {}, el("tbody", {}, ...rows));
}

export function pretty(raw) {
  if (raw === null || raw === undefined) return "(no raw record)";
  if (typeof raw === "string") {
    try {
      return JSON.stringify(JSON.parse(raw), null, 2);
    } catch {
      return raw;
    }
  }
  return JSON.stringify(raw, null, 2);
}

/** Evidence events: the normalized fields, then the raw record as logged, pretty-printed. */
export function events(answer) {
  const out = answer.items.map((record) =>
    el("div", { className: "event" },
      el("strong", {}, `${utc(record.time)} ${record.raw_action || record.action || ""}`),
      fieldsTable(record),
      el("details", {}, el("summary", {}, "raw record"), el("pre", {}, pretty(record.raw))),
    ),
  );
  if (answer.missing.length) out.push(el("p", { className: "muted" }, `${answer.missing.length} evidence event(s) no longer in the lake`));
  if (!out.length) out.push(el("p", { className: "muted" }, "No evidence events."));
  return out;
}
