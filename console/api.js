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

// An evidence file (docs/attachments.md): POST /v1/attachments with the file's bytes and
// the tab's token; answers {address, size, contentType}, throws ApiError (413 too large,
// 415 not an accepted type).
export async function uploadFile(file, { token } = {}) {
  const t = token ?? session.token;
  const res = await fetch("/v1/attachments", {
    method: "POST", body: file, cache: "no-store", credentials: "omit",
    headers: { Accept: "application/json", "Content-Type": "application/octet-stream", ...(t ? { Authorization: `Bearer ${t}` } : {}) },
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// A file the API serves (an attachment, a preview) as a Blob, fetched with the tab's token;
// throws ApiError with the problem when refused.
export async function fetchBlob(path, { token } = {}) {
  const t = token ?? session.token;
  const res = await fetch(path, {
    cache: "no-store", credentials: "omit", headers: t ? { Authorization: `Bearer ${t}` } : {},
  });
  if (res.ok) return res.blob();
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  throw new ApiError(res.status, data);
}

// The engine's clock less the browser's, in ms, from /v1/me's `now` (0 until known):
// "overdue" is judged at the engine's clock (a virtual one in the demo), not the browser's.
let clockOffset = 0;
export const engineNow = () => Date.now() + clockOffset;

// Who the token is: GET /v1/me when the server has it ({id, roles, attrs, now}), else the
// inbox's `actor` member (an id only).
export async function whoAmI(token) {
  try {
    const me = await api("/v1/me", { token });
    const now = Date.parse(me?.now ?? "");
    if (!Number.isNaN(now)) clockOffset = now - Date.now();
    return me;
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
