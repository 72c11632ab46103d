// The only module that talks to the server: every call goes to /v1 with the analyst's key.
// The key lives in sessionStorage (gone when the tab closes); never localStorage, a cookie
// or a URL. Errors come back as problem+json and are raised as ApiError with its detail.

const KEY_SLOT = "functrail.apiKey";

export function getKey() {
  return sessionStorage.getItem(KEY_SLOT);
}

export function setKey(key) {
  sessionStorage.setItem(KEY_SLOT, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_SLOT);
}

export class ApiError extends Error {
  constructor(status, problem) {
    const title = (problem && problem.title) || "request failed";
    const detail = (problem && problem.detail) || "";
    super(`${status} ${title}${detail ? ": " + detail : ""}`);
    this.status = status;
    this.problem = problem;
  }
}

async function call(method, path, { query = {}, body } = {}) {
  const key = getKey();
  if (!key) throw new ApiError(401, { title: "no API key", detail: "enter an API key first" });
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Authorization: `Bearer ${key}`, Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
    redirect: "error",
  });
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

const one = (id) => encodeURIComponent(id);

export const listAlerts = (filters, cursor) =>
  call("GET", "/v1/alerts", { query: { ...filters, cursor, limit: 50 } });
export const alertSummary = (filters) => call("GET", "/v1/alerts/summary", { query: filters });
export const getAlert = (id) => call("GET", `/v1/alerts/${one(id)}`);
export const alertEvents = (id) => call("GET", `/v1/alerts/${one(id)}/events`);
export const patchAlert = (id, changes) =>
  call("PATCH", `/v1/alerts/${one(id)}`, { body: changes });
export const createSuppression = (spec) => call("POST", "/v1/suppressions", { body: spec });
export const listSuppressions = (active, cursor) =>
  call("GET", "/v1/suppressions", { query: { active: active ? "true" : "false", cursor, limit: 50 } });
export const deleteSuppression = (id) => call("DELETE", `/v1/suppressions/${one(id)}`);
export const searchEvents = (filters, cursor, limit = 50) =>
  call("GET", "/v1/events", { query: { ...filters, cursor, limit } });
export const coverage = () => call("GET", "/v1/coverage");
