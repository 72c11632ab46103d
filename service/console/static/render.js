// Builds the page's DOM from API data. Every value from an alert or event is attacker-
// influenced (titles, principals, resources, user agents, raw records), so values enter the
// page only as text nodes (append/textContent) or as properties of elements built here;
// this module never parses data as HTML.

export const SEVERITIES = ["info", "low", "medium", "high", "critical"];

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

export function alertRow(alert, onOpen) {
  const cells = [
    chip(alert.severity),
    alert.title,
    alert.rule_id,
    alert.principal || "",
    alert.resource || "",
    alert.status,
    alert.count,
    utc(alert.last_seen),
  ].map((value) => {
    const cell = el("td", {}, value);
    if (typeof value === "string") cell.title = value;
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
    el("tr", {}, el("td", {}, d.feature), el("td", {}, String(d.observed)), el("td", {}, d.baseline)),
  );
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, el("th", {}, "feature"), el("th", {}, "observed"), el("th", {}, "baseline"))),
    el("tbody", {}, ...rows),
  );
}

function runbook(text) {
  if (!text) return null;
  let url = null;
  try {
    url = new URL(text);
  } catch {
    return el("p", {}, text);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return el("p", {}, text);
  return el("p", {}, el("a", { href: url.href, rel: "noopener noreferrer", target: "_blank" }, text));
}

function history(entries) {
  if (!entries || entries.length === 0) return el("p", { className: "muted" }, "No triage yet.");
  const items = entries.map((h) => {
    const parts = [utc(h.at), " ", h.actor];
    if (h.status_to && h.status_to !== h.status_from) parts.push(`: ${h.status_from || "-"} → ${h.status_to}`);
    if (h.assignee_to !== h.assignee_from) parts.push(`; assignee ${h.assignee_to || "none"}`);
    if (h.note) parts.push(el("pre", {}, h.note));
    return el("li", {}, ...parts);
  });
  return el("ul", { className: "history" }, ...items);
}

/** The detail panel: facts, explanation, triage controls, suppression form, evidence slot. */
export function detail(alert, actions) {
  const assignee = el("input", { maxLength: 200, value: alert.assignee || "", placeholder: "analyst" });
  const note = el("textarea", { maxLength: 10000, placeholder: "what you found" });
  const evidence = el("div", {}, el("button", { type: "button", onclick: () => actions.loadEvents(evidence) }, "Load evidence events"));
  const status = (label, to) =>
    el("button", { type: "button", disabled: alert.status === to, onclick: () => actions.patch({ status: to }) }, label);
  return [
    el("h2", {}, chip(alert.severity), " ", alert.title),
    meta([
      ["status", alert.status],
      ["assignee", alert.assignee],
      ["detector / rule", `${alert.detector} / ${alert.rule_id}`],
      ["provider", alert.provider],
      ["account", alert.account],
      ["principal", alert.principal],
      ["resource", alert.resource],
      ["first seen", `${utc(alert.first_seen)} UTC`],
      ["last seen", `${utc(alert.last_seen)} UTC`],
      ["count", alert.count],
      ["score", alert.score.toFixed(2)],
      ["id", alert.id],
    ]),
    el("h3", {}, "Tags"),
    alert.tags.length ? el("div", {}, ...alert.tags.map((t) => el("span", { className: "tag" }, t))) : el("p", { className: "muted" }, "none"),
    alert.runbook ? el("h3", {}, "Runbook") : null,
    runbook(alert.runbook),
    alert.explanation && alert.explanation.length ? el("h3", {}, "Why it is anomalous") : null,
    explanation(alert.explanation),
    el("h3", {}, "Triage"),
    el("div", { className: "actions" },
      status("Acknowledge", "acknowledged"),
      status("Resolve", "resolved"),
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

function fieldsTable(record) {
  const rows = Object.entries(record)
    .filter(([name, value]) => name !== "raw" && value !== null && value !== "")
    .map(([name, value]) => el("tr", {}, el("td", {}, name), el("td", {}, typeof value === "object" ? JSON.stringify(value) : String(value))));
  return el("table", {}, el("tbody", {}, ...rows));
}

function pretty(raw) {
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
