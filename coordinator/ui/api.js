// The coordinator's REST API as the UI uses it. Every answer is JSON; an error answer is
// {"error":{"code","message"}} and becomes a thrown ApiError carrying both. The bearer token
// (when the coordinator runs with --api-token) lives in sessionStorage: it is gone when the tab
// closes, and never leaves this origin.

const TOKEN_KEY = "txc.apiToken";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;  // HTTP status; 0 when the coordinator could not be reached
    this.code = code;      // "not_found", "unauthenticated", ...
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// GET (or POST) `path` and return the parsed body; throws ApiError.
export async function request(method, path) {
  const headers = { Accept: "application/json" };
  if (token()) headers.Authorization = "Bearer " + token();
  let res;
  try {
    res = await fetch(path, { method, headers, cache: "no-store" });
  } catch (e) {
    throw new ApiError(0, "unavailable", "cannot reach the coordinator (" + e.message + ")");
  }
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    body = null;
  }
  if (!res.ok) {
    const err = body && body.error ? body.error : {};
    throw new ApiError(res.status, err.code || "http_" + res.status,
                       err.message || "HTTP " + res.status + " " + res.statusText);
  }
  return body;
}

// The list query: only set filters are sent (the API refuses unknown or empty values).
export function listTransactions({ state, protocol, attention, cursor, limit }) {
  const q = new URLSearchParams();
  if (state) q.set("state", state);
  if (protocol) q.set("protocol", protocol);
  if (attention) q.set("needs_attention", "true");
  if (limit) q.set("limit", String(limit));
  if (cursor) q.set("cursor", cursor);
  const qs = q.toString();
  return request("GET", "/v1/transactions" + (qs ? "?" + qs : ""));
}

export function getTransaction(id) {
  return request("GET", "/v1/transactions/" + encodeURIComponent(id));
}

export function abortTransaction(id) {
  return request("POST", "/v1/transactions/" + encodeURIComponent(id) + "/abort");
}

export function retryTransaction(id) {
  return request("POST", "/v1/transactions/" + encodeURIComponent(id) + "/retry");
}

export function listParticipants() {
  return request("GET", "/v1/participants");
}
