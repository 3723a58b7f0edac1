// Chinese first, English switchable. Interface strings are here; workflow, state and
// event titles come from the definitions' Text values ({"zh": ..., "en": ...} or a string).
const STRINGS = {
  zh: {
    app: "闭环", signIn: "登录", signOut: "退出", token: "访问令牌",
    tokenHelp: "令牌只保存在本标签页中，关闭标签页即失效。",
    badToken: "令牌无效。", inbox: "待办", noTasks: "没有待办事项。",
    overdue: "已逾期", due: "截止", noDeadline: "无截止时间", state: "状态",
    status: "进度", businessKey: "业务编号", data: "数据", deadline: "截止时间",
    history: "处理记录", actions: "可以办理", noActions: "您现在没有可办理的事项。",
    submit: "提交", submitting: "正在提交…", sent: "已提交。", back: "返回待办",
    required: "必填", fixErrors: "请修改标出的内容后再提交。", choose: "请选择",
    yes: "是", add: "添加", remove: "删除", loadFailed: "加载失败",
    fileTooLarge: "文件太大，超过了允许的大小。", fileWrongType: "不接受这种文件（只接受照片 JPEG/PNG 或 PDF）。",
    fileTooMany: "文件太多：最多 {n} 个。", uploading: "正在上传…",
    notFound: "没有这个案件，或您无权查看。", field: "字段", value: "值",
    created: "创建", running: "办理中", completed: "已办结", cancelled: "已撤销",
    changed: "变更", lang: "English", langName: "中文", actorsRule: "提交时由服务器核对办理人。",
    start: "创建", event: "事件", by: "办理人", more: "更多",
    expectedNumber: "请输入数字", expectedInteger: "请输入整数",
    navInbox: "待办", navDashboard: "概览", navInstances: "案件", navWorkflows: "流程",
    navOperations: "运维", comingSoon: "这一页还在建设中。",
    signInWith: "通过", ssoDefault: "统一身份认证登录", orToken: "或者用访问令牌登录：",
    "signin-refused": "身份认证服务拒绝了登录。", "signin-state": "登录已过期或不是从这个标签页发起的，请重新登录。",
    "signin-exchange": "无法从身份认证服务取得令牌。", "needs-secure-context": "通过身份认证服务登录需要 https。",
  },
  en: {
    app: "Bihuan", signIn: "Sign in", signOut: "Sign out", token: "Access token",
    tokenHelp: "The token is kept in this tab only and is gone when the tab closes.",
    badToken: "The token is not valid.", inbox: "Inbox", noTasks: "Nothing to do.",
    overdue: "Overdue", due: "Due", noDeadline: "No deadline", state: "State",
    status: "Status", businessKey: "Business key", data: "Data", deadline: "Deadline",
    history: "History", actions: "You can", noActions: "Nothing you can do here now.",
    submit: "Submit", submitting: "Submitting…", sent: "Submitted.", back: "Back to inbox",
    required: "required", fixErrors: "Please fix the marked fields and submit again.",
    choose: "Choose", yes: "Yes", add: "Add", remove: "Remove", loadFailed: "Could not load",
    fileTooLarge: "The file is too large.", fileWrongType: "This kind of file is not accepted (photos in JPEG/PNG, or PDF).",
    fileTooMany: "Too many files: at most {n}.", uploading: "Uploading…",
    notFound: "No such case, or you may not see it.", field: "Field", value: "Value",
    created: "Created", running: "Running", completed: "Completed", cancelled: "Cancelled",
    changed: "Changes", lang: "中文", langName: "English",
    actorsRule: "The server checks who may send this when it is submitted.",
    start: "Started", event: "Event", by: "By", more: "More",
    expectedNumber: "Enter a number", expectedInteger: "Enter a whole number",
    navInbox: "Inbox", navDashboard: "Dashboard", navInstances: "Instances", navWorkflows: "Workflows",
    navOperations: "Operations", comingSoon: "This page is not built yet.",
    signInWith: "Sign in with", ssoDefault: "single sign-on", orToken: "Or sign in with an access token:",
    "signin-refused": "The identity provider refused the sign-in.",
    "signin-state": "The sign-in expired or was not started in this tab; please sign in again.",
    "signin-exchange": "Could not get a token from the identity provider.",
    "needs-secure-context": "Signing in through the identity provider needs https.",
  },
};

const LANG_KEY = "bihuan.lang";
export let lang = localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh";

export function setLang(l) {
  lang = l === "en" ? "en" : "zh";
  localStorage.setItem(LANG_KEY, lang);
  document.documentElement.lang = lang;
}
document.documentElement.lang = lang;

export function t(key) { return STRINGS[lang][key] ?? STRINGS.zh[key] ?? key; }

// A page module adds its own strings: addStrings({ zh: {...}, en: {...} }). A key already
// present is a mistake (two modules would disagree): it is reported, not overwritten.
export function addStrings(more) {
  for (const l of ["zh", "en"]) {
    for (const [k, v] of Object.entries(more[l] || {})) {
      if (k in STRINGS[l]) console.warn(`i18n: ${l}.${k} is defined twice`);
      else STRINGS[l][k] = v;
    }
  }
}

// A definition's Text: a string, or an object of language tag -> string.
export function text(value, fallback = "") {
  if (value == null) return fallback;
  if (typeof value === "string") return value;
  if (typeof value === "object") {
    return value[lang] ?? value.zh ?? value.en ?? Object.values(value).find((v) => typeof v === "string") ?? fallback;
  }
  return String(value);
}

// Times as the server wrote them (ISO with offset), shown in the reader's locale.
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
}
