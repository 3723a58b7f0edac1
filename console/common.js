// What several pages share: titles from a definition's source, idempotency keys, the
// overdue test, a load failure as a notice.
import { ApiError, engineNow } from "./api.js";
import { h } from "./dom.js";
import { t, text } from "./i18n.js";

// A state's or event's Text from a definition's source (states nest under "states").
export function findState(states, name) {
  for (const [n, st] of Object.entries(states || {})) {
    if (n === name) return st;
    const inner = findState(st?.states, name);
    if (inner) return inner;
  }
  return null;
}
export function stateTitle(def, name) { return text(findState(def?.source?.states, name)?.title, name); }
export function eventTitle(def, stateName, event) {
  const st = findState(def?.source?.states, stateName);
  const direct = st?.on?.[event]?.title;
  if (direct) return text(direct, event);
  for (const s of Object.values(def?.source?.states || {})) {
    const stack = [s];
    while (stack.length) {
      const x = stack.pop();
      if (x?.on?.[event]?.title) return text(x.on[event].title, event);
      stack.push(...Object.values(x?.states || {}));
    }
  }
  return event;
}
// crypto.randomUUID needs a secure context (https or loopback); elsewhere the same from
// getRandomValues.
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}
// At the engine's clock (api.js, engineNow), not the browser's.
export const overdue = (iso) => iso && new Date(iso).getTime() < engineNow();
export const statusText = (s) => t(s) || s;

export function failure(e) {
  if (e instanceof ApiError && e.status === 404) return h("p", { class: "notice bad", text: t("notFound") });
  return h("p", { class: "notice bad", text: `${t("loadFailed")}: ${e.message}` });
}
