// The explorer's state and controls. Each run keeps a current code; the map, the sliders and
// the walk move it, and every change decodes it (decoder.js, or the local server with --serve).
"use strict";

const DATA = JSON.parse(document.getElementById("aelab-data").textContent);
const SCALE = 4;  // on-screen pixels per image pixel
const MAX_SLIDERS = 24, NEAREST_TRAIN = 6, WALK_STEPS = 9, PATH_STEPS = 8;
const state = { hidden: new Set(), hover: -1, saved: {}, timings: [], lastDecoded: [], lastHover: [], walkImages: [], pathImages: [], nearestTraining: [] };

function prepareRun(json, index) {
  const d = json.code_shape.reduce((a, b) => a * b, 1);
  const run = {
    json, index, d, n: json.points.n, imageShape: json.image_shape,
    codes: base64Float32(json.points.codes), xy: base64Float32(json.map.xy),
    images: base64Bytes(json.points.images), labels: json.points.labels,
    trainCodes: base64Float32(json.train.codes), trainImages: base64Bytes(json.train.images), nTrain: json.train.n,
    mean: json.map.mean && base64Float32(json.map.mean), components: json.map.components && base64Float32(json.map.components),
    decode: json.decoder ? makeDecoder(json.decoder, json.code_shape) : null,
  };
  run.order = json.dims.score.map((s, i) => [s, i]).sort((a, b) => b[0] - a[0]).map((p) => p[1]);
  run.classMeans = classMeans(run);
  run.code = (i) => codeOf(run, i);
  run.current = run.code(0);
  return run;
}
function codeOf(run, i) { return run.codes.slice(i * run.d, (i + 1) * run.d); }
function classMeans(run) {
  const means = {}, counts = {};
  if (!run.labels) return means;
  for (let i = 0; i < run.n; i++) {
    const c = run.labels[i];
    if (!means[c]) { means[c] = new Float64Array(run.d); counts[c] = 0; }
    for (let k = 0; k < run.d; k++) means[c][k] += run.codes[i * run.d + k];
    counts[c]++;
  }
  for (const c in means) means[c] = Float32Array.from(means[c], (v) => v / counts[c]);
  return means;
}
const RUNS = DATA.runs.map(prepareRun);
const SHARED = Math.min(...RUNS.map((r) => r.n));  // map points that are the same image in every run

// ---- decoding -------------------------------------------------------------------------
async function decodeMany(run, codes) {
  if (run.decode) return codes.map((c) => run.decode(c).data);
  const reply = await fetch("/decode", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ run: run.index, codes: codes.map((c) => Array.from(c)) }) });
  if (!reply.ok) throw new Error(`the server could not decode: ${await reply.text()}`);
  return (await reply.json()).images.map(base64Float32);
}

// ---- map position -> code (page_data.py's docstring states the same rules) ---------------
function toCode(run, source, [x, y]) {
  if (run === source || DATA.shared_axes) {
    if (run.json.map.kind === "code") return Float32Array.from([x, y]);
    if (run.json.map.kind === "pca") {
      return Float32Array.from(run.mean, (m, k) => m + x * run.components[k] + y * run.components[run.d + k]);
    }
  }
  const near = source.map.nearest(x, y, source.json.map.neighbours, state.hidden).filter((i) => i < SHARED);
  const out = new Float64Array(run.d);
  for (const i of near) for (let k = 0; k < run.d; k++) out[k] += run.codes[i * run.d + k] / near.length;
  return Float32Array.from(out);
}
function project(run, code) {
  if (run.json.map.kind === "code") return [code[0], code[1]];
  if (run.json.map.kind !== "pca") return null;  // t-SNE has no projection of a new code
  let x = 0, y = 0;
  for (let k = 0; k < run.d; k++) { const c = code[k] - run.mean[k]; x += c * run.components[k]; y += c * run.components[run.d + k]; }
  return [x, y];
}

// ---- drawing images ------------------------------------------------------------------
function imageCanvas(run, scale = SCALE, title = "") {
  const [, h, w] = run.imageShape, canvas = document.createElement("canvas");
  canvas.width = w; canvas.height = h; canvas.style.width = `${w * scale}px`; canvas.style.height = `${h * scale}px`;
  canvas.title = title;
  return canvas;
}
function paint(canvas, run, pixels, offset = 0, bytes = false) {
  const [c, h, w] = run.imageShape, img = canvas.getContext("2d").createImageData(w, h), plane = h * w;
  for (let p = 0; p < plane; p++) for (let k = 0; k < 3; k++) {
    const v = pixels[offset + (c === 1 ? 0 : k) * plane + p];
    img.data[4 * p + k] = bytes ? v : Math.round(Math.min(1, Math.max(0, v)) * 255);
  }
  for (let p = 0; p < plane; p++) img.data[4 * p + 3] = 255;
  canvas.getContext("2d").putImageData(img, 0, 0);
}
const imageSize = (run) => run.imageShape.reduce((a, b) => a * b, 1);

// ---- layout ----------------------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) k === "class" ? (e.className = v) : (e[k] = v);
  e.append(...children);
  return e;
}
function buildMaps() {
  const bounds = DATA.shared_axes ? boundsOf(RUNS.map((r) => r.xy)) : null;
  for (const run of RUNS) {
    const canvas = el("canvas", { width: 440, height: 440, className: "map-canvas" });
    canvas.dataset.run = run.index;
    document.getElementById("maps").append(el("figure", { class: "map" }, canvas, el("figcaption", {}, mapCaption(run))));
    run.map = new LatentMap(canvas, run.xy, run.labels, bounds || boundsOf([run.xy]));
    attachMapEvents(run);
  }
}
function mapCaption(run) {
  const j = run.json, kind = j.map.kind, shown = `${run.n.toLocaleString()} of ${j.points.of.toLocaleString()} test images`;
  const how = { code: "the code itself: a position is the code", pca: "PCA of the codes: a position decodes as mean + x PC1 + y PC2",
    tsne: `t-SNE of the codes: a position decodes as the mean code of its ${j.map.neighbours} nearest points` }[kind];
  return `${j.label} (${j.model}, code ${j.code_shape.join("x")}): ${shown}; ${how}`;
}
function buildLegend() {
  const names = RUNS[0].json.class_names, legend = document.getElementById("legend");
  if (!RUNS[0].labels) { legend.textContent = "no labels: points are grey"; return; }
  const present = new Set(RUNS[0].labels);
  names.forEach((name, c) => {
    if (!present.has(c)) return;
    const button = el("button", { class: "class-toggle", type: "button" }, el("span", { class: "swatch" }), name);
    button.querySelector(".swatch").style.background = classColour(c);
    button.dataset.label = c;
    button.addEventListener("click", () => {
      state.hidden.has(c) ? state.hidden.delete(c) : state.hidden.add(c);
      button.classList.toggle("off", state.hidden.has(c));
      RUNS.forEach((r) => r.map.drawPoints(state.hidden));
    });
    legend.append(button);
  });
}
function buildPanel(run) {
  const hoverInput = imageCanvas(run, SCALE, "hovered test image"), hoverRecon = imageCanvas(run, SCALE, "its reconstruction");
  const decoded = imageCanvas(run, 2 * SCALE, "decoded current point");
  const timing = el("div", { class: "timing" });
  const nearest = el("div", { class: "strip nearest" });
  const sliders = el("div", { class: "sliders" });
  run.ui = { hoverInput, hoverRecon, decoded, timing, nearest, sliders, sliderInputs: {} };
  const panel = el("section", { class: "panel" }, el("h2", {}, run.json.label),
    el("div", { class: "row" },
      el("figure", {}, decoded, el("figcaption", {}, "decoded current point"), timing),
      el("div", {}, el("div", { class: "row" }, el("figure", {}, hoverInput, el("figcaption", {}, "hovered input")),
        el("figure", {}, hoverRecon, el("figcaption", {}, "reconstruction"))),
        el("figure", {}, nearest, el("figcaption", {}, `nearest of the first ${run.nTrain.toLocaleString()} training images (code distance)`)))),
    el("h3", {}, `code dimensions, by ${run.json.dims.score_name}`), sliders);
  for (let j = 0; j < NEAREST_TRAIN && j < run.nTrain; j++) nearest.append(imageCanvas(run, 2));
  buildSliders(run);
  document.getElementById("panels").append(panel);
}
function buildSliders(run) {
  const dims = run.json.dims, shown = run.order.slice(0, MAX_SLIDERS);
  for (const d of shown) {
    const sd = dims.std[d] || 1, lo = run.json.variational ? Math.min(-3, dims.mean[d] - 3 * sd) : dims.mean[d] - 3 * sd;
    const hi = run.json.variational ? Math.max(3, dims.mean[d] + 3 * sd) : dims.mean[d] + 3 * sd;
    const input = el("input", { type: "range", min: lo, max: hi, step: (hi - lo) / 400, value: run.current[d] });
    input.dataset.dim = d;
    const value = el("span", { class: "value" });
    input.addEventListener("input", () => { run.current[d] = Number(input.value); value.textContent = Number(input.value).toFixed(2); showCurrent(run); });
    const inactive = dims.inactive[d];
    run.ui.sliders.append(el("label", { class: inactive ? "slider inactive" : "slider" },
      el("span", { class: "dim" }, `z${d}${inactive ? " inactive" : ""}`), input, value,
      el("span", { class: "score" }, dims.score[d].toPrecision(3))));
    run.ui.sliderInputs[d] = [input, value];
  }
  if (run.d > shown.length) run.ui.sliders.append(el("p", { class: "note" }, `the ${shown.length} highest of ${run.d} dimensions; the others keep their values`));
}
function syncSliders(run) {
  for (const [d, [input, value]] of Object.entries(run.ui.sliderInputs)) { input.value = run.current[d]; value.textContent = run.current[d].toFixed(2); }
}

// ---- what the controls do --------------------------------------------------------------
async function showCurrent(run) {
  const start = performance.now();
  const [image] = await decodeMany(run, [run.current]);
  paint(run.ui.decoded, run, image);
  state.lastDecoded[run.index] = image;
  showNearestTraining(run);
  const ms = performance.now() - start;
  state.timings.push(ms);
  run.ui.timing.textContent = `decoded in ${ms.toFixed(1)} ms`;
  run.map.marks.current = project(run, run.current);
  run.map.render();
}
function showNearestTraining(run) {
  const dist = [];
  for (let t = 0; t < run.nTrain; t++) {
    let s = 0;
    for (let k = 0; k < run.d; k++) s += (run.trainCodes[t * run.d + k] - run.current[k]) ** 2;
    dist.push([s, t]);
  }
  dist.sort((a, b) => a[0] - b[0]);
  [...run.ui.nearest.children].forEach((canvas, j) => {
    if (j >= dist.length) return;
    paint(canvas, run, run.trainImages, dist[j][1] * imageSize(run), true);
    canvas.title = `training image ${dist[j][1]}, distance ${Math.sqrt(dist[j][0]).toFixed(3)}`;
  });
  state.nearestTraining[run.index] = dist.slice(0, NEAREST_TRAIN).map((p) => p[1]);
}
async function showHover(i) {
  state.hover = i;
  RUNS.forEach((r) => { r.map.marks.hover = i < r.n ? i : -1; r.map.render(); });
  if (i < 0) return;
  for (const run of RUNS) {
    if (i >= run.n) continue;
    paint(run.ui.hoverInput, run, run.images, i * imageSize(run), true);
    const [recon] = await decodeMany(run, [run.code(i)]);
    paint(run.ui.hoverRecon, run, recon);
    state.lastHover[run.index] = recon;
  }
}
function setCurrentFrom(source, position, picked) {
  for (const run of RUNS) {
    run.current = picked >= 0 && picked < run.n ? run.code(picked) : toCode(run, source, position);
    syncSliders(run);
    showCurrent(run);
  }
}
async function showPath(source, path) {
  const length = path.reduce((s, p, j) => s + (j ? Math.hypot(p[0] - path[j - 1][0], p[1] - path[j - 1][1]) : 0), 0);
  const stops = [];
  for (let j = 0; j < PATH_STEPS; j++) stops.push(pointAlong(path, (length * j) / (PATH_STEPS - 1)));
  const strip = document.getElementById("path");
  strip.replaceChildren();
  for (const run of RUNS) {
    const images = await decodeMany(run, stops.map((p) => toCode(run, source, p)));
    state.pathImages[run.index] = images;
    strip.append(el("div", { class: "strip" }, `${run.json.label}: `, ...images.map((img) => { const c = imageCanvas(run, 2); paint(c, run, img); return c; })));
  }
}
function pointAlong(path, distance) {
  for (let j = 1; j < path.length; j++) {
    const [a, b] = [path[j - 1], path[j]], step = Math.hypot(b[0] - a[0], b[1] - a[1]);
    if (distance <= step && step > 0) return [a[0] + ((b[0] - a[0]) * distance) / step, a[1] + ((b[1] - a[1]) * distance) / step];
    distance -= step;
  }
  return path[path.length - 1];
}
let pending = null;  // hover work waits for the next frame: many mouse events, one redraw
function attachMapEvents(run) {
  const canvas = run.map.canvas;
  let drag = null;
  const position = (e) => { const r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
  canvas.addEventListener("mousedown", (e) => { drag = { start: position(e), path: [run.map.toData(...position(e))] }; });
  canvas.addEventListener("mousemove", (e) => {
    const [px, py] = position(e);
    if (drag) {
      drag.path.push(run.map.toData(px, py));
      RUNS.forEach((r) => { r.map.marks.path = r === run || DATA.shared_axes ? drag.path : []; r.map.render(); });
      return;
    }
    if (!pending) requestAnimationFrame(() => { showHover(pending.run.map.pointAt(...pending.at, state.hidden)); pending = null; });
    pending = { run, at: [px, py] };
  });
  window.addEventListener("mouseup", (e) => {
    if (!drag) return;
    const end = position(e), moved = Math.hypot(end[0] - drag.start[0], end[1] - drag.start[1]);
    const path = drag.path;
    drag = null;
    if (moved < 4) setCurrentFrom(run, run.map.toData(...end), run.map.pointAt(...end, state.hidden));
    else showPath(run, path);
  });
}

function start() {
  buildMaps();
  buildLegend();
  RUNS.forEach(buildPanel);
  buildWalk();
  RUNS.forEach((r) => r.map.drawPoints(state.hidden));
  RUNS.forEach(showCurrent);
  showHover(0);
  drawWalk().then(() => followWalk(0.5));
  window.aelab = { runs: RUNS, state, toCode, project, interpolate, benchmarkDecode, measureHover, ready: true };
}
try { start(); } catch (err) { document.body.prepend(el("p", { class: "error" }, `the explorer failed to start: ${err}`)); throw err; }
