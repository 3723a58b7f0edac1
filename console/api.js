// The HTTP API as the console uses it: the tab's token (sessionStorage only), JSON in and
// out, and problems (RFC 9457) thrown as ApiError with their status and errors[].
const KEY = "bihuan.token";

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export const session = {
  get token() { return sessionStorage.getItem(KEY) || ""; },
  set token(t) { t ? sessionStorage.setItem(KEY, t) : sessionStorage.removeItem(KEY); },
};

export async function api(path, { method = "GET", body, headers = {}, token } = {}) {
  const h = { Accept: "application/json", ...headers };
  const t = token ?? session.token;
  if (t) h.Authorization = `Bearer ${t}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method, headers: h, body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store", credentials: "omit",
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// Who the token is: GET /v1/me when the server has it ({id, roles, attrs}), else the
// inbox's `actor` member (an id only).
export async function whoAmI(token) {
  try {
    return await api("/v1/me", { token });
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
  }
  const inbox = await api("/v1/inbox?limit=1", { token });
  return { id: inbox.actor, roles: null, attrs: null };
}

// Definitions by "id@version", fetched once per page load.
const defs = new Map();
export async function definition(id, version) {
  const k = `${id}@${version}`;
  if (!defs.has(k)) {
    defs.set(k, api(`/v1/definitions/${encodeURIComponent(id)}?version=${version}`)
      .catch((e) => { defs.delete(k); throw e; }));
  }
  return defs.get(k);
}
