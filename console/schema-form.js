// A form generated from an event's payload JSON Schema (draft-07 subset): titles and
// descriptions (JSON Schema wants strings: x-title / x-description give a Text,
// {"zh": ..., "en": ...}, and win), string / number / integer / boolean, enum (labels from
// x-enumTitles) and oneOf of consts as choices, format date / date-time, required,
// nested objects, arrays of strings, and files: a string (or an array of strings) of
// format bihuan-attachment is a file input whose files are uploaded on choose (POST
// /v1/attachments) and sent as their addresses. The server checks the payload; its problems
// (errors[].pointer, "/payload/...") are shown at the field they point to.
import { uploadFile } from "./api.js";
import { h } from "./dom.js";
import { lang, t, text } from "./i18n.js";

const esc = (name) => String(name).replace(/~/g, "~0").replace(/\//g, "~1");
let uid = 0;

function choicesOf(s) {
  if (Array.isArray(s.enum)) {
    const titles = Array.isArray(s["x-enumTitles"]) ? s["x-enumTitles"] : [];
    return s.enum.map((v, i) => ({ value: v, label: text(titles[i], String(v)) }));
  }
  const alts = s.oneOf || s.anyOf;
  if (Array.isArray(alts) && alts.length && alts.every((a) => a && "const" in a)) {
    return alts.map((a) => ({ value: a.const, label: text(a["x-title"] ?? a.title, String(a.const)) }));
  }
  return null;
}

function typeOf(s) {
  if (Array.isArray(s.type)) return s.type.find((x) => x !== "null") || "string";
  if (s.type) return s.type;
  if (s.properties) return "object";
  const c = choicesOf(s);
  if (c && c.length) return typeof c[0].value === "number" ? "number" : typeof c[0].value;
  return "string";
}

// One field: returns {el, get()} where get() is the value or undefined for "leave out".
function field(name, s, pointer, required, depth) {
  s = s && typeof s === "object" ? s : {};
  const id = `f${++uid}`;
  const type = typeOf(s);
  const label = text(s["x-title"] ?? s.title, name);
  const errId = `${id}-err`;
  const wrap = h("div", { class: "field", "data-pointer": pointer });
  const desc = s["x-description"] ?? s.description;
  const hint = desc ? h("p", { class: "hint", id: `${id}-hint`, text: text(desc) }) : null;
  const err = h("p", { class: "error", id: errId, role: "alert", hidden: true });
  const described = [hint && `${id}-hint`, errId].filter(Boolean).join(" ");
  const lab = h("label", { for: id }, label, required ? h("span", { class: "req", text: ` *` , title: t("required") }) : null);
  const choices = choicesOf(s);
  let control, get;

  if (type === "object" && s.properties && depth < 3) {
    const sub = object(s, pointer, depth + 1);
    const fs = h("fieldset", { class: "field group", "data-pointer": pointer },
      h("legend", {}, label, required ? h("span", { class: "req", text: " *" }) : null), hint, err, sub.el);
    return {
      el: fs, missing: sub.missing,
      get: () => { const v = sub.get(); return Object.keys(v).length || required ? v : undefined; },
    };
  }
  if (choices) {
    control = h("select", { id, name: pointer, "aria-describedby": described },
      h("option", { value: "", text: `— ${t("choose")} —` }),
      choices.map((c, i) => h("option", { value: String(i), text: c.label })));
    if (s.default !== undefined) {
      const i = choices.findIndex((c) => c.value === s.default);
      if (i >= 0) control.value = String(i);
    }
    get = () => (control.value === "" ? undefined : choices[Number(control.value)].value);
  } else if (type === "boolean") {
    control = h("input", { id, type: "checkbox", name: pointer, "aria-describedby": described });
    control.checked = s.default === true;
    wrap.classList.add("check");
    get = () => control.checked;
  } else if (type === "number" || type === "integer") {
    control = h("input", {
      id, type: "number", name: pointer, inputmode: type === "integer" ? "numeric" : "decimal",
      step: type === "integer" ? "1" : "any", min: s.minimum, max: s.maximum,
      "aria-describedby": described,
    });
    get = () => {
      if (control.value.trim() === "") return undefined;
      const n = Number(control.value);
      return Number.isNaN(n) ? control.value : n;
    };
  } else if ((type === "string" && s.format === "bihuan-attachment") ||
             (type === "array" && s.items?.format === "bihuan-attachment")) {
    // Files: each chosen one is uploaded at once; the payload gets the addresses.
    const many = type === "array";
    const addresses = [];
    const chosen = h("ul", { class: "files" });
    const input = h("input", { id, type: "file", name: pointer, "aria-describedby": described,
      accept: "image/jpeg,image/png,application/pdf", multiple: many ? true : undefined });
    const fail = (msg) => {
      err.textContent = msg;
      err.hidden = !msg;
      wrap.classList.toggle("invalid", !!msg);
    };
    input.addEventListener("change", async () => {
      fail("");
      const files = [...input.files];
      input.value = "";
      if (!many) { addresses.length = 0; chosen.replaceChildren(); }
      if (many && s.maxItems && addresses.length + files.length > s.maxItems) {
        fail(t("fileTooMany").replace("{n}", s.maxItems));
        return;
      }
      for (const file of files) {
        const li = h("li", { class: "uploading", text: `${file.name} ${t("uploading")}` });
        chosen.append(li);
        try {
          const r = await uploadFile(file);
          addresses.push(r.address);
          li.className = "uploaded";
          li.dataset.address = r.address;
          li.textContent = file.name;
          li.append(" ", h("button", { type: "button", class: "small", text: t("remove"),
            onclick: () => { addresses.splice(addresses.indexOf(r.address), 1); li.remove(); } }));
        } catch (e) {
          li.remove();
          const why = e?.status === 413 ? t("fileTooLarge") : e?.status === 415 ? t("fileWrongType") : e.message;
          fail(`${file.name}: ${why}`);
        }
      }
    });
    control = h("div", { class: "file-field" }, input, chosen);
    get = () => (many ? (addresses.length || required ? [...addresses] : undefined) : addresses[0]);
  } else if (type === "array" && (s.items?.type === "string" || !s.items)) {
    const list = h("div", { class: "list", id });
    const addRow = (v = "") => {
      const input = h("input", { type: "text", value: v, "aria-label": label });
      const row = h("div", { class: "row" }, input,
        h("button", { type: "button", class: "small", onclick: () => row.remove(), text: t("remove") }));
      list.append(row);
      return input;
    };
    control = h("div", {}, list,
      h("button", { type: "button", class: "small", onclick: () => addRow().focus(), text: `+ ${t("add")}` }));
    get = () => {
      const vals = [...list.querySelectorAll("input")].map((i) => i.value.trim()).filter(Boolean);
      return vals.length || required ? vals : undefined;
    };
  } else if (type === "string") {
    const attrs = { id, name: pointer, "aria-describedby": described, maxlength: s.maxLength };
    if (s.format === "date") control = h("input", { ...attrs, type: "date" });
    else if (s.format === "date-time") control = h("input", { ...attrs, type: "datetime-local" });
    else if ((s.maxLength ?? 0) >= 200) control = h("textarea", { ...attrs, rows: 3 });
    else control = h("input", { ...attrs, type: s.format === "email" ? "email" : "text" });
    if (typeof s.default === "string" && s.format !== "date-time") control.value = s.default;
    get = () => {
      const v = control.value.trim();
      if (v === "") return undefined;
      if (s.format === "date-time") return new Date(v).toISOString();
      return v;
    };
  } else {  // anything else: JSON text
    control = h("textarea", { id, name: pointer, rows: 3, class: "json", "aria-describedby": described });
    get = () => {
      const v = control.value.trim();
      if (v === "") return undefined;
      try { return JSON.parse(v); } catch { return v; }
    };
  }
  const parts = type === "boolean" ? [control, lab, hint, err] : [lab, hint, control, err];
  wrap.append(...parts.filter(Boolean));
  return { el: wrap, get };
}

function object(s, pointer, depth) {
  const req = new Set(Array.isArray(s.required) ? s.required : []);
  // Members in `required` order, then the others (the server's JSON keeps no order).
  const names = Object.keys(s.properties || {});
  const order = [...(s.required || []).filter((n) => names.includes(n)), ...names.filter((n) => !req.has(n))];
  const fields = order.map((name) => [name, s.properties[name]]).map(([name, sub]) =>
    [name, field(name, sub, `${pointer}/${esc(name)}`, req.has(name), depth)]);
  const el = h("div", { class: "fields" }, fields.map(([, f]) => f.el));
  return {
    el,
    // Pointers of required members left empty (in nested objects that are sent).
    missing() {
      const out = [];
      for (const [name, f] of fields) {
        const v = f.get();
        if (v === undefined && req.has(name)) out.push(`${pointer}/${esc(name)}`);
        else if (v !== undefined && f.missing) out.push(...f.missing());
      }
      return out;
    },
    get() {
      const out = {};
      for (const [name, f] of fields) {
        const v = f.get();
        if (v !== undefined) out[name] = v;
      }
      return out;
    },
  };
}

// The form for one event. onSubmit(payload) returns a promise; a rejection with
// {problem: {errors: [...]}} is shown at the fields.
export function eventForm(event, onSubmit) {
  const schema = event.payloadSchema && typeof event.payloadSchema === "object" ? event.payloadSchema : {};
  const root = object(schema, "/payload", 1);
  const status = h("p", { class: "form-status", role: "status" });
  const button = h("button", { type: "submit", class: "primary", text: t("submit") });
  const form = h("form", { class: "event-form", novalidate: true, "data-event": event.name },
    root.el, status, button);

  function clearErrors() {
    for (const f of form.querySelectorAll(".invalid")) f.classList.remove("invalid");
    for (const e of form.querySelectorAll(".error")) { e.textContent = ""; e.hidden = true; }
    for (const c of form.querySelectorAll("[aria-invalid]")) c.removeAttribute("aria-invalid");
    status.textContent = "";
    status.className = "form-status";
  }

  // Valijson's messages, said in Chinese when the interface is (the original stays in the
  // field's title).
  const ZH = [
    [/no fewer than (\d+) characters/, "至少 $1 个字符"],
    [/no more than (\d+) characters/, "最多 $1 个字符"],
    [/one of the values specified by the enum/, "请从选项中选择"],
    [/type not permitted/, "类型不对"],
    [/greater than or equal to ([-\d.]+)/, "不能小于 $1"],
    [/less than or equal to ([-\d.]+)/, "不能大于 $1"],
    [/valid date-time/, "请填写日期和时间"],
    [/valid date/, "请填写有效日期"],
    [/unknown member/, "不允许的字段"],
  ];
  function say(detail) {
    if (lang !== "zh") return detail;
    for (const [re, zh] of ZH) {
      const m = re.exec(detail);
      if (m) return zh.replace("$1", m[1] ?? "");
    }
    return detail;
  }

  // A problem at `pointer`: the field it names, else the nearest enclosing one, else the
  // form. "Missing required property 'x'" at an object points at its member x.
  function place(pointer, detail) {
    const missing = /Missing required property '([^']+)'/.exec(detail || "");
    if (missing) { pointer = `${pointer}/${esc(missing[1])}`; detail = t("required"); }
    let p = pointer;
    while (p && p.startsWith("/payload")) {
      const f = [...form.querySelectorAll("[data-pointer]")].find((x) => x.dataset.pointer === p);
      if (f) {
        const original = detail;
        detail = say(detail);
        f.classList.add("invalid");
        const e = f.querySelector(":scope > .error");
        if (!e.textContent.split("; ").includes(detail)) {
          e.textContent = e.textContent ? `${e.textContent}; ${detail}` : detail;
        }
        e.hidden = false;
        if (original !== detail) e.title = original;
        f.querySelector("input, select, textarea")?.setAttribute("aria-invalid", "true");
        return f;
      }
      p = p.slice(0, p.lastIndexOf("/"));
    }
    status.textContent = `${status.textContent ? status.textContent + " " : ""}${detail}`;
    return null;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    button.disabled = true;
    button.textContent = t("submitting");
    // Required members left empty are marked here too: the server reports a missing
    // member only when the payload has no deeper problem (JSON Schema validators
    // report the most specific errors).
    const missing = root.missing();
    try {
      await onSubmit(root.get());
      status.textContent = t("sent");
      status.classList.add("ok");
    } catch (e) {
      const errors = e?.problem?.errors || [];
      let first = null;
      const told = new Set(errors.map((x) => x.pointer));
      for (const p of missing) {
        if (told.has(p)) continue;
        const f = place(p, t("required"));
        first = first || f;
      }
      for (const x of errors) {
        const f = place(x.pointer || "", x.detail || x.code);
        first = first || f;
      }
      if (!errors.length) place("", e.message || String(e));
      else if (!status.textContent) status.textContent = t("fixErrors");
      status.classList.add("bad");
      (first?.querySelector("input, select, textarea") || status).focus?.();
    } finally {
      button.disabled = false;
      button.textContent = t("submit");
    }
  });
  return form;
}
