// rnnlab explore: the page's script. Plain DOM and canvas, no library, no network.
// The unit-finder arithmetic mirrors rnnlab/explore/finder.py step for step (sums in index
// order, in doubles), so the page and Python give the same scores and the same spans.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const meta = JSON.parse($("meta").textContent);
  const S = { layer: 0, q: "h", unit: 0, sel: null, picked: [], fire: [], ranked: [], window: [0, 0] };
  const api = { meta: meta, state: S, errors: [] };
  window.explore = api;
  window.addEventListener("error", (e) => api.errors.push(String(e.message)));

  // ---- data -------------------------------------------------------------------------
  async function decodeBlob() {
    const el = $("blob");
    let bytes;
    if (Uint8Array.fromBase64) bytes = Uint8Array.fromBase64(el.textContent.trim());  // native where the browser has it
    else {
      const bin = atob(el.textContent.trim());
      bytes = new Uint8Array(bin.length);
      for (let k = 0; k < bin.length; k++) bytes[k] = bin.charCodeAt(k);
    }
    if (el.dataset.encoding !== "deflate") return bytes.buffer;
    if (typeof DecompressionStream === "undefined")
      throw new Error("this browser lacks DecompressionStream (Chromium 80+, Firefox 113+ have it)");
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return await new Response(stream).arrayBuffer();
  }
  function view(buf, d) {
    const T = { uint8: Uint8Array, uint16: Uint16Array, float32: Float32Array }[d.dtype];
    return new T(buf, d.offset, d.length);
  }

  const N = meta.shown;
  const isText = meta.kind === "text";
  const tokens = isText ? Array.from(meta.text) : meta.tokens;
  let buf = null;
  function Qd() { return meta.layers[S.layer].quantities[S.q]; }
  // steps at which a quantity is kept: h at all; C and the gates at the first meta.detail when the
  // page had to stay within its size budget
  const stepsOf = (layer, q) => meta.layers[layer].quantities[q].steps;
  function codes(layer, q, unit) {  // unit-major: one unit's series is contiguous
    const d = meta.layers[layer].quantities[q].data, n = stepsOf(layer, q);
    return new Uint8Array(buf, d.offset + unit * n, n);
  }
  // the value the page shows: lo + q · step, in doubles, as finder.py / quantize.py compute it
  function series(layer, q, unit) {
    const c = codes(layer, q, unit), Qx = meta.layers[layer].quantities[q];
    const lo = Qx.lo[unit], st = Qx.step[unit], out = new Float64Array(c.length);
    for (let t = 0; t < c.length; t++) out[t] = lo + c[t] * st;
    return out;
  }
  api.value = (layer, q, unit, t) => series(layer, q, unit)[t];

  // ---- colours ------------------------------------------------------------------------
  // signed quantities (h, C, C̃): blue above 0, red below; gates (never below 0): blue by value
  function colour(v, scale, signed) {
    const a = Math.min(1, Math.abs(v) / (scale || 1));
    const w = Math.round(255 * (1 - a));
    if (!signed || v >= 0) return `rgb(${w},${Math.round(255 - a * 135)},255)`;
    return `rgb(255,${w},${w})`;
  }
  function palette(layer, q, unit) {  // 256 colours, one per code
    const Qx = meta.layers[layer].quantities[q], lo = Qx.lo[unit], st = Qx.step[unit];
    const hi = lo + 255 * st, signed = lo < 0, scale = Math.max(Math.abs(lo), Math.abs(hi));
    const p = new Array(256);
    for (let k = 0; k < 256; k++) p[k] = colour(lo + k * st, scale, signed);
    return p;
  }
  function legend() {
    const c = document.createElement("canvas");
    c.width = 160; c.height = 14;
    const g = c.getContext("2d"), Qx = Qd(), lo = Qx.lo[S.unit], hi = lo + 255 * Qx.step[S.unit];
    const pal = palette(S.layer, S.q, S.unit);
    for (let x = 0; x < 160; x++) { g.fillStyle = pal[Math.round(x * 255 / 159)]; g.fillRect(x, 0, 1, 14); }
    $("legend").replaceChildren(`${fmt(lo)} `, c, ` ${fmt(hi)}`);
  }
  const fmt = (v) => (Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(3));

  // ---- text view ----------------------------------------------------------------------
  const spans = new Array(N);
  const VISIBLE = { "\n": "\u21b5\n", "\t": "\u21e5\t" };
  function buildText() {
    const frag = document.createDocumentFragment();
    const starts = new Map(meta.segments.map((s, k) => [s[0], k]));
    for (let t = 0; t < N; t++) {
      if (!isText && starts.has(t)) {
        const k = starts.get(t), head = document.createElement("span");
        head.className = "seg";
        head.textContent = `sample ${k + 1}` + taskNote(k);
        frag.appendChild(head);
      }
      const s = document.createElement("span");
      s.className = isText ? "t" : "t tok";
      s.textContent = isText ? (VISIBLE[tokens[t]] || tokens[t]) : tokens[t];
      s._i = t;
      spans[t] = s;
      frag.appendChild(s);
    }
    $("text").replaceChildren(frag);
  }
  function taskNote(k) {
    const out = meta.outputs[k], y = meta.targets[k];
    if (meta.task === "adding") return `: target ${y[0]}, model ${out[0]}`;
    if (meta.task === "digits") return `: label ${y}, model says ${argmax(out)}`;
    const last = out.map(argmax).slice(-10).join(" ");
    return `: the model's last 10 outputs ${last}`;
  }
  const argmax = (a) => a.reduce((b, v, k) => (v > a[b] ? k : b), 0);
  function colourText() {
    const c = codes(S.layer, S.q, S.unit), pal = palette(S.layer, S.q, S.unit);
    for (let t = 0; t < N; t++) spans[t].style.backgroundColor = t < c.length ? pal[c[t]] : "#e4e4e4";
    legend();
  }

  // hover: the value and the top-5 next characters
  let top = null;
  function tipText(t) {
    const Qx = Qd();
    const x = series(S.layer, S.q, S.unit);
    let s = `position ${t}  ${JSON.stringify(tokens[t])}\n${Qx.label} of unit ${S.unit} = ` +
      (t < x.length ? fmt(x[t]) : `(kept for the first ${x.length} positions only)`);
    if (top) {
      s += "\nnext character:";
      for (let j = 0; j < top.k; j++) {
        const ch = meta.vocab[top.ids[t * top.k + j]];
        s += `\n  ${JSON.stringify(ch)}  ${(top.p[t * top.k + j] / 255).toFixed(3)}`;
      }
    }
    return s;
  }
  function onHover(e) {
    const el = e.target;
    const tip = $("tip");
    if (el._i === undefined) { tip.hidden = true; return; }
    tip.textContent = tipText(el._i);
    tip.hidden = false;
    tip.style.left = Math.min(e.clientX + 14, innerWidth - 260) + "px";
    tip.style.top = Math.min(e.clientY + 14, innerHeight - 160) + "px";
    if (!isText) drawInput(segmentOf(el._i), el._i);
  }
  api.tipText = tipText;

  // ---- selection -> unit finder ------------------------------------------------------
  function indexAt(node, offset, isEnd) {
    // a DOM boundary point -> a position in the text; ends are exclusive
    if (node.nodeType === 3) {
      const s = node.parentElement;
      if (s && s._i !== undefined) return s._i + (offset > 0 ? (isEnd ? 1 : (offset >= node.length ? 1 : 0)) : 0);
      node = node.parentElement; offset = 0;
    }
    if (node._i !== undefined) return node._i + (offset > 0 ? 1 : 0);
    const kids = node.childNodes;
    for (let k = offset; k < kids.length; k++) if (kids[k]._i !== undefined) return kids[k]._i;
    return N;
  }
  function onSelect() {
    const sel = window.getSelection();
    if (!sel.rangeCount || sel.isCollapsed) return;
    const r = sel.getRangeAt(0);
    if (!$("text").contains(r.commonAncestorContainer)) return;
    const a = indexAt(r.startContainer, r.startOffset, false), b = indexAt(r.endContainer, r.endOffset, true);
    if (b > a) select(a, b);
  }
  function select(a, b) {
    if (!(0 <= a && a < b && b <= N) || b - a === N) return;
    if (S.sel) for (let t = S.sel[0]; t < S.sel[1]; t++) spans[t].classList.remove("sel");
    S.sel = [a, b];
    for (let t = a; t < b; t++) spans[t].classList.add("sel");
    const shown = tokens.slice(a, Math.min(b, a + 60)).join(isText ? "" : " ");
    $("selection").textContent = `selection [${a}, ${b}): ${JSON.stringify(shown)}${b - a > 60 ? "…" : ""}`;
    rank();
    fire();
  }
  api.select = select;

  // mean inside, mean outside, std: finder.stats
  function stats(x, a, b) {
    const n = x.length;
    let si = 0, so = 0, s = 0;
    for (let t = 0; t < n; t++) { if (t >= a && t < b) { si += x[t]; so += 0; } else { si += 0; so += x[t]; } s += x[t]; }
    const mean = s / n;
    let v = 0;
    for (let t = 0; t < n; t++) { const d = x[t] - mean; v += d * d; }
    return [si / (b - a), so / (n - (b - a)), Math.sqrt(v / n)];
  }
  // the finder can rank a quantity only where it is kept, and needs positions outside the selection
  function finderReady() {
    const n = stepsOf(S.layer, S.q);
    if (S.sel[1] <= n && S.sel[1] - S.sel[0] < n) return true;
    $("ranked").replaceChildren(Object.assign(document.createElement("li"), { textContent:
      `${Qd().label} is kept for the first ${n} positions only: select there, or rank by h` }));
    S.ranked = [];
    return false;
  }
  function rank() {
    if (!finderReady()) return;
    const H = meta.layers[S.layer].units, [a, b] = S.sel, out = [];
    for (let u = 0; u < H; u++) {
      const [mi, mo, sd] = stats(series(S.layer, S.q, u), a, b);
      out.push({ unit: u, score: sd > 0 ? (mi - mo) / sd : 0, mi: mi, mo: mo });
    }
    out.sort((p, q) => q.score - p.score || p.unit - q.unit);
    S.ranked = out;
    const ol = $("ranked"), best = Math.max(1e-9, Math.abs(out[0].score));
    ol.replaceChildren(...out.slice(0, 30).map((r) => {
      const li = document.createElement("li");
      li.dataset.unit = r.unit;
      li.dataset.score = String(r.score);
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = S.picked.includes(r.unit);
      box.addEventListener("change", () => pick(r.unit, box.checked));
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = Math.max(0, 80 * r.score / best) + "px";
      li.append(box, ` unit ${r.unit}  score ${r.score.toFixed(3)}`, bar);
      li.addEventListener("click", (e) => { if (e.target !== box) setUnit(r.unit); });
      return li;
    }));
  }
  function pick(unit, on) {
    S.picked = S.picked.filter((u) => u !== unit);
    if (on) S.picked.push(unit);
    fire();
    drawGates();
  }
  api.pick = pick;

  // positions where every picked unit is on; runs within a segment: finder.firing_spans
  function fire() {
    for (const [a, b] of S.fire) for (let t = a; t < b; t++) spans[t].classList.remove("fire");
    S.fire = [];
    const ol = $("matches");
    if (!S.sel || !S.picked.length || !S.ranked.length) { ol.replaceChildren(); $("fire-caption").textContent = ""; return; }
    const on = new Uint8Array(N).fill(1).fill(0, stepsOf(S.layer, S.q));
    for (const u of S.picked) {
      const x = series(S.layer, S.q, u), [mi, mo] = stats(x, S.sel[0], S.sel[1]), mid = (mi + mo) / 2;
      for (let t = 0; t < x.length; t++) if (!(mi >= mo ? x[t] > mid : x[t] < mid)) on[t] = 0;
    }
    const cut = new Uint8Array(N + 1);
    for (const s of meta.segments) cut[s[0]] = 1;
    let start = -1;
    for (let t = 0; t <= N; t++) {
      if (start >= 0 && (t === N || !on[t] || cut[t])) { S.fire.push([start, t]); start = -1; }
      if (t < N && on[t] && start < 0) start = t;
    }
    for (const [a, b] of S.fire) for (let t = a; t < b; t++) spans[t].classList.add("fire");
    const n = S.fire.reduce((s, [a, b]) => s + b - a, 0);
    $("fire-caption").textContent = `units ${S.picked.join(", ")} of ${Qd().label}: ${S.fire.length} spans fire (${n} of ${N} positions)` +
      (S.fire.length > 300 ? "; the first 300 listed" : "");
    ol.replaceChildren(...S.fire.slice(0, 300).map(([a, b]) => {
      const li = document.createElement("li");
      li.dataset.start = a; li.dataset.end = b;
      const ctx = (p, q) => tokens.slice(Math.max(0, p), Math.min(N, q)).join(isText ? "" : " ").replace(/\n/g, "\u21b5");
      li.append(`[${a}, ${b}) ${ctx(a - 12, a)}`, Object.assign(document.createElement("b"), { textContent: ctx(a, Math.min(b, a + 40)) }), ctx(b, b + 12));
      li.addEventListener("click", () => spans[a].scrollIntoView({ block: "center" }));
      return li;
    }));
  }

  // ---- gates over time ----------------------------------------------------------------
  const WINDOW = 200;
  function firstVisible() {
    const box = $("text"), top = box.scrollTop + box.offsetTop;
    let lo = 0, hi = N - 1;  // spans are in reading order: binary search on their offsetTop
    while (lo < hi) { const m = (lo + hi) >> 1; if (spans[m].offsetTop + spans[m].offsetHeight <= top) lo = m + 1; else hi = m; }
    return lo;
  }
  function segmentOf(t) { return meta.segments.findIndex((s) => t >= s[0] && t < s[1]); }
  function drawGates() {
    const a = isText ? firstVisible() : meta.segments[Math.max(0, segmentOf(firstVisible()))][0];
    const b = isText ? Math.min(N, a + WINDOW) : meta.segments[segmentOf(a)][1];
    S.window = [a, b];
    const L = meta.layers[S.layer], units = S.picked.length ? S.picked.slice(0, 8) : [S.unit];
    const names = Object.keys(L.quantities), rows = [];
    for (const q of names) for (const u of units) rows.push({ q: q, unit: u, values: Array.from(series(S.layer, q, u).subarray(a, b)) });  // shorter where q is not kept
    api.gates = { start: a, end: b, rows: rows };
    const c = $("gates"), g = c.getContext("2d"), left = 90, cw = Math.max(3, Math.min(14, (c.width - left) / (b - a))), rh = 14;
    c.height = rows.length * rh + 34;
    g.clearRect(0, 0, c.width, c.height);
    g.font = "11px sans-serif"; g.textBaseline = "middle";
    rows.forEach((r, k) => {
      const pal = palette(S.layer, r.q, r.unit), cd = codes(S.layer, r.q, r.unit);
      g.fillStyle = "#222";
      g.fillText(`${L.quantities[r.q].label.split(" ")[0]}  unit ${r.unit}`, 2, k * rh + rh / 2);
      for (let t = a; t < b; t++) { g.fillStyle = t < cd.length ? pal[cd[t]] : "#e4e4e4"; g.fillRect(left + (t - a) * cw, k * rh, cw, rh - 1); }
    });
    g.fillStyle = "#222"; g.textBaseline = "top";
    if (isText && cw >= 7) for (let t = a; t < b; t++) g.fillText(tokens[t] === "\n" ? "\u21b5" : String(tokens[t]).slice(0, 2), left + (t - a) * cw, rows.length * rh + 2);
    $("gates-caption").textContent = `positions [${a}, ${b}) of ${L.title}; colours as in the text, each row on its own unit's range (scroll the text to move the window)`;
    c.onmousemove = (e) => {
      const rect = c.getBoundingClientRect(), x = (e.clientX - rect.left) * c.width / rect.width, y = (e.clientY - rect.top) * c.height / rect.height;
      const k = Math.floor(y / rh), t = a + Math.floor((x - left) / cw);
      if (k >= 0 && k < rows.length && t - a >= rows[k].values.length) { $("tip").hidden = true; return; }
      const tip = $("tip");
      if (k < 0 || k >= rows.length || t < a || t >= b) { tip.hidden = true; return; }
      tip.textContent = `position ${t} ${JSON.stringify(tokens[t])}\n${L.quantities[rows[k].q].label}, unit ${rows[k].unit} = ${fmt(rows[k].values[t - a])}`;
      tip.hidden = false; tip.style.left = e.clientX + 14 + "px"; tip.style.top = e.clientY + 14 + "px";
    };
    c.onmouseleave = () => { $("tip").hidden = true; };
  }

  // ---- task inputs, drawn as what they are -----------------------------------------------
  function drawInput(k, t) {
    if (isText || k < 0) return;
    const c = $("input"), g = c.getContext("2d"), seq = meta.inputs[k], T = seq.length, s0 = meta.segments[k][0];
    const h = series(S.layer, S.q, S.unit), pal = palette(S.layer, S.q, S.unit), cd = codes(S.layer, S.q, S.unit);
    c.height = meta.draw.draw === "digits" ? 150 : 120;
    g.clearRect(0, 0, c.width, c.height);
    g.font = "12px sans-serif"; g.fillStyle = "#222";
    if (meta.draw.draw === "digits") {
      // the image, then the same grid coloured by the unit's value after reading each pixel (or row)
      const rowsMode = meta.draw.mode === "rows", px = 16;
      for (let r = 0; r < 8; r++) for (let q = 0; q < 8; q++) {
        const v = rowsMode ? seq[r][q] : seq[r * 8 + q][0], step = rowsMode ? r : r * 8 + q;
        const grey = Math.round(255 * (1 - v));
        g.fillStyle = `rgb(${grey},${grey},${grey})`; g.fillRect(10 + q * px, 18 + r * px, px, px);
        g.fillStyle = pal[cd[s0 + step]]; g.fillRect(170 + q * px, 18 + r * px, px, px);
        if (t !== undefined && step === t - s0) { g.strokeStyle = "#e67e00"; g.strokeRect(170 + q * px, 18 + r * px, px, px); }
      }
      g.fillStyle = "#222";
      g.fillText(`sample ${k + 1}: the digit (read ${rowsMode ? "row by row" : "pixel by pixel"})`, 10, 10);
      g.fillText(`unit ${S.unit}, ${Qd().label}, after each step`, 170, 10);
      return;
    }
    const w = (c.width - 20) / T;
    g.fillText(`sample ${k + 1}: ${meta.task === "adding" ? "values (bars), the two marked steps in orange" : "symbols read (· blank, | delimiter)"}; below: unit ${S.unit}`, 10, 10);
    for (let j = 0; j < T; j++) {
      if (meta.task === "adding") {
        const v = seq[j][0], marked = seq[j][1] > 0.5;
        g.fillStyle = marked ? "#e67e00" : "#8aa";
        g.fillRect(10 + j * w, 80 - v * 60, Math.max(1, w - 1), v * 60);
      } else {
        g.fillStyle = "#222";
        g.fillText(tokens[s0 + j], 10 + j * w, 50);
      }
      g.fillStyle = pal[cd[s0 + j]]; g.fillRect(10 + j * w, 90, Math.max(1, w - 1), 20);
    }
    if (t !== undefined) { g.strokeStyle = "#000"; g.strokeRect(10 + (t - s0) * w, 18, w, 94); }
  }

  // ---- gradient flow --------------------------------------------------------------------
  function drawFlow() {
    const f = meta.gradflow, c = $("flow"), g = c.getContext("2d");
    if (!f || f.unavailable) { $("flow-caption").textContent = "not available: " + (f ? f.unavailable : "no sample"); return; }
    const series_ = Object.keys(f).filter((k) => Array.isArray(f[k]) && k !== "lag");
    const all = series_.flatMap((k) => f[k]).filter((v) => v > 0);
    const ylo = Math.floor(Math.log10(Math.min(...all))), yhi = Math.ceil(Math.log10(Math.max(...all)));
    const L = 50, B = c.height - 30, W = c.width - L - 10, n = f.lag.length;
    g.clearRect(0, 0, c.width, c.height);
    g.strokeStyle = "#ccc"; g.fillStyle = "#444"; g.font = "11px sans-serif";
    for (let e = ylo; e <= yhi; e++) {
      const y = B - (e - ylo) / Math.max(1, yhi - ylo) * (B - 10);
      g.beginPath(); g.moveTo(L, y); g.lineTo(L + W, y); g.stroke();
      g.fillText(`1e${e}`, 4, y + 4);
    }
    g.fillText("lag T − t", L + W / 2 - 20, c.height - 4);
    g.fillText("0", L, B + 14); g.fillText(String(n - 1), L + W - 14, B + 14);
    const colours = { h: "#1f5fb4", c: "#d2691e" };
    series_.forEach((k, j) => {
      g.strokeStyle = colours[k] || "#393"; g.lineWidth = 2; g.beginPath();
      let drawn = false;  // zeros (e.g. ∂L/∂C_T when the loss reads h_T only) have no place on a log axis
      f[k].forEach((v, lag) => {
        if (!(v > 0)) { drawn = false; return; }
        const x = L + lag / Math.max(1, n - 1) * W, y = B - (Math.log10(v) - ylo) / Math.max(1, yhi - ylo) * (B - 10);
        drawn ? g.lineTo(x, y) : g.moveTo(x, y);
        drawn = true;
      });
      g.stroke(); g.lineWidth = 1;
      g.fillStyle = colours[k] || "#393"; g.fillText(`‖∂L/∂${k === "c" ? "C" : k}‖`, L + W - 70, 14 + 14 * j);
    });
    $("flow-caption").textContent = `layer ${f.layer}: ${f.samples} samples of ${f.steps} steps from the data shown, zero initial state; the loss is the model's at the last step`;
  }

  // ---- controls ---------------------------------------------------------------------------
  function setUnit(u) {
    const H = meta.layers[S.layer].units;
    S.unit = Math.max(0, Math.min(H - 1, u | 0));
    $("unit").value = S.unit;
    colourText();
    drawGates();
    if (!isText) drawInput(Math.max(0, segmentOf(S.window[0])));
  }
  api.setUnit = setUnit;
  function fillQuantities() {
    const L = meta.layers[S.layer];
    if (!(S.q in L.quantities)) S.q = "h";
    $("quantity").replaceChildren(...Object.entries(L.quantities).map(([k, v]) => new Option(v.label, k, false, k === S.q)));
    $("unit").max = L.units - 1;
  }
  function refresh() { setUnit(S.unit); if (S.sel) { rank(); fire(); } }

  function describe() {
    const L = meta.layers;
    const cut = meta.cut ? ` — cut: the first ${N.toLocaleString("en")} of ${meta.total.toLocaleString("en")} characters (--max-chars)` : "";
    $("info").textContent = (isText ? `${N.toLocaleString("en")} characters` : `${meta.segments.length} sequences of the ${meta.task} task`) +
      cut + "; " + L.map((l) => l.title).join("; ");
    const errs = Object.entries(L[0].quantities).map(([k, q]) => `${q.label.split(" ")[0]} ${q.error.toExponential(1)}`);
    const kept = meta.detail < N ? ` To stay within the page's size budget, C and the gates are kept for the first ${meta.detail.toLocaleString("en")} positions; h for all ${N.toLocaleString("en")}.` : "";
    $("quant").textContent = `States stored as 8-bit codes, each unit on its own range (error at most half a step, 1/510 of the unit's range). ` +
      `Largest error${L.length > 1 ? " (first layer)" : ""}: ${errs.join(", ")}; probabilities to 1/255.` + kept;
  }

  async function main() {
    const t0 = performance.now();
    buf = await decodeBlob();
    if (meta.top) top = { k: meta.top.k, ids: view(buf, meta.top.ids), p: view(buf, meta.top.p) };
    describe();
    $("layer").replaceChildren(...meta.layers.map((l, k) => new Option(l.title, k)));
    fillQuantities();
    buildText();
    colourText();
    drawGates();
    drawFlow();
    if (!isText) { $("input").style.display = "block"; drawInput(0); } else $("input").style.display = "none";
    $("layer").addEventListener("change", (e) => { S.layer = +e.target.value; S.picked = []; S.unit = 0; fillQuantities(); refresh(); });
    $("quantity").addEventListener("change", (e) => { S.q = e.target.value; refresh(); });
    $("unit").addEventListener("change", (e) => setUnit(+e.target.value));
    $("text").addEventListener("mouseover", onHover);
    $("text").addEventListener("mouseleave", () => { $("tip").hidden = true; });
    $("text").addEventListener("mouseup", onSelect);
    let pending = false;
    $("text").addEventListener("scroll", () => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; drawGates(); });
    });
    api.decodeMs = performance.now() - t0;
    api.readyMs = performance.now();  // since navigation start
    $("status").textContent = `ready in ${(api.readyMs / 1000).toFixed(2)} s`;
    document.body.dataset.ready = "1";
  }
  main().catch((err) => {
    api.errors.push(String(err));
    $("status").innerHTML = "";
    $("status").append(Object.assign(document.createElement("span"), { className: "error", textContent: "could not open the data: " + err.message }));
    document.body.dataset.ready = "error";
    throw err;
  });
})();
