// The console's entry: the header (who is signed in, the pages, language, sign out) and
// the pages by location hash: #/inbox, #/instance/<id>, #/<page>[/<arg>] for the modules
// in PAGES. docs/console.md.
import { session, whoAmI } from "./api.js";
import { clear, h } from "./dom.js";
import { lang, setLang, t } from "./i18n.js";
import { inboxPage, signInPage } from "./pages.js";
import { instancePage } from "./instance.js";
import { finish } from "./oidc.js";
import * as dashboard from "./dashboard.js";
import * as instances from "./instances.js";
import * as workflows from "./workflows.js";
import * as operations from "./operations.js";

// A global administrator: role admin and no unit (docs/authorization.md).
const globalAdmin = (me) => me?.roles?.includes("admin") && !me?.attrs?.unit;
// The pages in the header, in order; `shown(me)` decides whether the link is drawn (the
// server decides what each caller may read and do: a hidden link is only tidiness).
const PAGES = [
  { name: "inbox", title: "navInbox", shown: () => true },
  { name: "dashboard", title: "navDashboard", module: dashboard, shown: () => true },
  { name: "instances", title: "navInstances", module: instances, shown: () => true },
  { name: "workflows", title: "navWorkflows", module: workflows, shown: () => true },
  { name: "operations", title: "navOperations", module: operations, shown: globalAdmin },
];

const main = document.getElementById("main");
const who = document.getElementById("who");
let me = null;
let flash = "";  // shown once at the top of the next page

function header() {
  clear(who);
  document.querySelector(".brand").textContent = t("app");
  const toggle = h("button", { type: "button", class: "link", id: "lang", lang: lang === "zh" ? "en" : "zh",
    text: t("lang"), onclick: () => { setLang(lang === "zh" ? "en" : "zh"); render(); } });
  if (!me) { who.append(toggle); return; }
  const current = (location.hash || "#/inbox").split("/")[1] || "inbox";
  const nav = h("span", { class: "pages", id: "pages" }, PAGES.filter((p) => p.shown(me)).map((p) =>
    h("a", { href: `#/${p.name}`, "data-page": p.name, class: p.name === current ? "current" : "",
      "aria-current": p.name === current ? "page" : null, text: t(p.title) })));
  who.append(nav, h("span", { class: "me", id: "me", text: me.id }), toggle,
    h("button", { type: "button", class: "link", id: "signout", text: t("signOut"),
      onclick: () => { session.token = ""; me = null; location.hash = ""; render(); } }));
}

// Each render draws into a fresh element: a render overtaken by another (a click while
// the page loads) draws into one no longer shown.
async function render() {
  header();
  const view = h("div", { class: "view" });
  clear(main).append(view);
  main.setAttribute("aria-busy", "true");
  try {
    if (!session.token || !me) {
      // The identity provider's answer (?code=&state=): exchanged for a token (oidc.js).
      let note = "";
      try {
        const token = await finish();
        if (token) session.token = token;
      } catch (e) { note = e.message; }
      if (session.token) {
        try { me = await whoAmI(session.token); } catch { session.token = ""; if (!note) note = "badToken"; }
        if (me) return render();
      }
      signInPage(view, (m) => { me = m; if (!location.hash) location.hash = "#/inbox"; else render(); }, note);
      return;
    }
    const [, page, arg] = (location.hash || "#/inbox").split("/");
    if (page === "instance" && arg) {
      const note = flash;
      flash = "";
      if (note) view.append(h("p", { class: "notice ok", id: "flash", role: "status", text: note }));
      await instancePage(view, decodeURIComponent(arg), () => { flash = t("sent"); render(); });
    } else if (PAGES.some((p) => p.name === page && p.module)) {
      const rest = location.hash.split("/").slice(2).map(decodeURIComponent).join("/");
      await PAGES.find((p) => p.name === page).module.page(view, rest, me);
    } else {
      await inboxPage(view);
    }
  } finally {
    if (view.isConnected) main.removeAttribute("aria-busy");
    main.dataset.page = location.hash.split("/")[1] || "inbox";
  }
}

window.addEventListener("hashchange", render);
render();
