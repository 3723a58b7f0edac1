// A line diff of two texts, for the workflows page's "diff of two versions": the longest
// common subsequence of lines (after the common head and tail are set aside), as a list
// of {kind: "same" | "del" | "add", text, a, b} (a, b: 1-based line numbers in the old and
// new text, null where the line is not in that side). Quadratic in the differing middle
// only; past LIMIT cells of it the middle is shown as all deleted then all added.
const LIMIT = 16e6;

export function diffLines(oldText, newText) {
  const a = oldText.split("\n");
  const b = newText.split("\n");
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head &&
         a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const out = [];
  for (let i = 0; i < head; i++) out.push({ kind: "same", text: a[i], a: i + 1, b: i + 1 });
  const am = a.slice(head, a.length - tail);
  const bm = b.slice(head, b.length - tail);
  const n = am.length;
  const m = bm.length;
  if (n * m > LIMIT) {
    am.forEach((text, i) => out.push({ kind: "del", text, a: head + i + 1, b: null }));
    bm.forEach((text, j) => out.push({ kind: "add", text, a: null, b: head + j + 1 }));
  } else {
    // len[i][j]: LCS length of am[i..] and bm[j..], in one flat array.
    const w = m + 1;
    const len = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        len[i * w + j] = am[i] === bm[j] ? len[(i + 1) * w + j + 1] + 1
          : Math.max(len[(i + 1) * w + j], len[i * w + j + 1]);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && am[i] === bm[j]) {
        out.push({ kind: "same", text: am[i], a: head + i + 1, b: head + j + 1 });
        i++; j++;
      } else if (i < n && (j === m || len[(i + 1) * w + j] >= len[i * w + j + 1])) {
        out.push({ kind: "del", text: am[i], a: head + i + 1, b: null });
        i++;
      } else {
        out.push({ kind: "add", text: bm[j], a: null, b: head + j + 1 });
        j++;
      }
    }
  }
  for (let k = tail; k > 0; k--) {
    out.push({ kind: "same", text: a[a.length - k], a: a.length - k + 1, b: b.length - k + 1 });
  }
  return out;
}

// The diff as hunks: runs of changes with `context` unchanged lines around them; each
// hunk a list of diffLines entries. No change: no hunk.
export function hunks(lines, context = 3) {
  const keep = new Uint8Array(lines.length);
  lines.forEach((l, k) => {
    if (l.kind === "same") return;
    for (let x = Math.max(0, k - context); x <= Math.min(lines.length - 1, k + context); x++) keep[x] = 1;
  });
  const out = [];
  let cur = null;
  lines.forEach((l, k) => {
    if (!keep[k]) { cur = null; return; }
    if (!cur) out.push(cur = []);
    cur.push(l);
  });
  return out;
}
