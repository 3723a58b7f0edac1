// Evidence files on the instance page (docs/attachments.md): every attachment address a
// step's payload or changes name, and every one in the data, as a row of thumbnails. The
// files are fetched with the tab's token (never put in a URL) and shown through blob: URLs:
// an image's preview (GET .../attachments/{address}/preview) as the thumbnail, the file
// itself in a dialog on a tap; a file without a preview (a PDF) opens as a download.
import { ApiError, fetchBlob } from "./api.js";
import { h } from "./dom.js";
import { addStrings, t } from "./i18n.js";

addStrings({
  zh: { evFiles: "证据文件", evPhoto: "证据照片 {n}", evFile: "文件", evOpen: "打开 {name}",
    evClose: "关闭", evMissing: "文件不可用", evNoPreview: "无预览" },
  en: { evFiles: "Evidence files", evPhoto: "Evidence photo {n}", evFile: "File", evOpen: "Open {name}",
    evClose: "Close", evMissing: "File unavailable", evNoPreview: "No preview" },
});

const ADDRESS = /^sha256:[0-9a-f]{64}$/;
const enc = encodeURIComponent;

// The attachment addresses anywhere in `value`, each once, in order of appearance.
export function addressesIn(value, out = []) {
  if (typeof value === "string") { if (ADDRESS.test(value) && !out.includes(value)) out.push(value); }
  else if (Array.isArray(value)) value.forEach((v) => addressesIn(v, out));
  else if (value && typeof value === "object") Object.values(value).forEach((v) => addressesIn(v, out));
  return out;
}

const fileUrl = (id, address) => `/v1/instances/${enc(id)}/attachments/${enc(address)}`;
const shortName = (address) => address.slice(7, 19);

// The file full size: an image in a dialog, anything else saved under its short name.
async function openFile(id, address, item) {
  try {
    const blob = await fetchBlob(fileUrl(id, address));
    const url = URL.createObjectURL(blob);
    if (!blob.type.startsWith("image/")) {
      const ext = blob.type === "application/pdf" ? ".pdf" : "";
      h("a", { href: url, download: shortName(address) + ext }).click();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      return;
    }
    const dialog = h("dialog", { class: "evidence-view", "data-address": address },
      h("img", { src: url, alt: item.getAttribute("aria-label") || "" }),
      h("form", { method: "dialog" }, h("button", { type: "submit", text: t("evClose") })));
    dialog.addEventListener("close", () => { URL.revokeObjectURL(url); dialog.remove(); });
    document.body.append(dialog);
    dialog.showModal();
  } catch (e) {
    item.classList.add("missing");
    item.title = e instanceof ApiError ? `${t("evMissing")}: ${e.message}` : t("evMissing");
  }
}

// A list of the files at `addresses` of instance `id`; thumbnails load as they come.
export function evidenceList(id, addresses) {
  return h("ul", { class: "evidence" }, addresses.map((address, i) => {
    const name = `${t("evPhoto").replace("{n}", i + 1)}`;
    const face = h("span", { class: "face", text: t("evFile") });
    const item = h("button", { type: "button", class: "file", "data-address": address,
      "aria-label": t("evOpen").replace("{name}", name), title: address,
      onclick: () => openFile(id, address, item) }, face, h("small", { text: shortName(address) }));
    fetchBlob(`${fileUrl(id, address)}/preview`).then((blob) => {
      const url = URL.createObjectURL(blob);
      const img = h("img", { src: url, alt: name });
      img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
      face.replaceChildren(img);
      item.classList.add("image");
    }).catch((e) => {
      const none = e instanceof ApiError && e.problem?.code === "no-preview";
      item.classList.add(none ? "no-preview" : "missing");
      if (!none) face.textContent = t("evMissing");
    });
    return h("li", {}, item);
  }));
}
