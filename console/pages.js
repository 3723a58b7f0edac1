// The pages every signed-in person has: sign-in and the inbox. The instance page is
// instance.js; the others have a module each (app.js lists them).
import { api, ApiError, definition, session, whoAmI } from "./api.js";
import { h } from "./dom.js";
import { t, text, when } from "./i18n.js";
import { eventTitle, failure, overdue, stateTitle } from "./common.js";
import { begin, provider } from "./oidc.js";

// Sign in with a token, or through the identity provider when the server names one
// (oidc.js). `note`: why the last sign-in through the provider failed (an oidc.js code).
export function signInPage(main, done, note = "") {
  const input = h("input", { id: "token", type: "password", autocomplete: "off", spellcheck: "false", required: true });
  const msg = h("p", { class: "error", role: "alert", hidden: !note, text: note ? t(note) : "" });
  const sso = h("div", { class: "sso", id: "sso", hidden: true });
  const form = h("form", { class: "card signin", novalidate: true },
    h("h1", { text: t("signIn") }), sso,
    h("label", { for: "token", text: t("token") }), input,
    h("p", { class: "hint", text: t("tokenHelp") }), msg,
    h("button", { type: "submit", class: "primary", text: t("signIn") }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    msg.hidden = true;
    const token = input.value.trim();
    try {
      const me = await whoAmI(token);
      session.token = token;
      done(me);
    } catch (e) {
      msg.textContent = e instanceof ApiError && e.status === 401 ? t("badToken") : e.message;
      msg.hidden = false;
    }
  });
  main.append(form);
  input.focus();
  provider().then((p) => {
    if (!p) return;
    sso.append(
      h("button", { type: "button", class: "primary", id: "sso-button", text: `${t("signInWith")} ${text(p.title, t("ssoDefault"))}`,
        onclick: () => begin(p).catch((e) => { msg.textContent = t(e.message); msg.hidden = false; }) }),
      h("p", { class: "hint or", text: t("orToken") }));
    sso.hidden = false;
  });
}

export async function inboxPage(main) {
  const list = h("ul", { class: "tasks" });
  main.append(h("h1", { text: t("inbox") }), list);
  let page;
  try { page = await api("/v1/inbox?limit=100"); } catch (e) { main.append(failure(e)); return; }
  if (!page.items.length) { list.replaceWith(h("p", { class: "notice", text: t("noTasks") })); return; }
  // The server orders by deadline (due first, then those without one).
  for (const item of page.items) {
    const inst = item.instance;
    let def = null;
    try { def = await definition(inst.definition, inst.definitionVersion); } catch { /* titles fall back to ids */ }
    const late = overdue(item.deadline);
    list.append(h("li", { class: `task${late ? " late" : ""}`, "data-instance": inst.id },
      h("a", { href: `#/instance/${encodeURIComponent(inst.id)}` },
        h("span", { class: "wf", text: text(def?.title, inst.definition) }),
        h("span", { class: "st", text: stateTitle(def, inst.state) }),
        inst.businessKey ? h("span", { class: "bk", text: inst.businessKey }) : null,
        h("span", { class: "due" },
          late ? h("b", { class: "badge late", text: t("overdue") }) : null,
          item.deadline ? `${t("due")} ${when(item.deadline)}` : t("noDeadline")),
        h("span", { class: "evs", text: item.events.map((e) => eventTitle(def, inst.state, e)).join(" · ") }))));
  }
}
