// The walk between two codes (class means or saved points), linear or spherical, as a strip of
// decoded images; a large image follows the mouse along the strip. Uses explorer.js's RUNS and state.
"use strict";

function interpolate(a, b, t, spherical) {
  if (spherical) {
    const na = Math.hypot(...a), nb = Math.hypot(...b);
    const cos = na && nb ? a.reduce((s, v, k) => s + v * b[k], 0) / (na * nb) : 1;
    const omega = Math.acos(Math.min(1, Math.max(-1, cos)));
    if (omega > 1e-6) {
      const wa = Math.sin((1 - t) * omega) / Math.sin(omega), wb = Math.sin(t * omega) / Math.sin(omega);
      return Float32Array.from(a, (v, k) => wa * v + wb * b[k]);
    }
  }
  return Float32Array.from(a, (v, k) => (1 - t) * v + t * b[k]);
}
function endpoint(run, choice) {
  if (choice.startsWith("class:")) return run.classMeans[Number(choice.slice(6))];
  return state.saved[choice] ? state.saved[choice][run.index] : null;
}
function buildWalk() {
  const start = document.getElementById("walk-start"), end = document.getElementById("walk-end"), mode = document.getElementById("walk-mode");
  const classes = Object.keys(RUNS[0].classMeans).map(Number);
  for (const select of [start, end]) {
    classes.forEach((c) => select.append(el("option", { value: `class:${c}` }, `mean of ${RUNS[0].json.class_names[c] ?? c}`)));
    ["A", "B"].forEach((k) => select.append(el("option", { value: k }, `saved point ${k}`)));
  }
  end.selectedIndex = classes.length > 1 ? 1 : classes.length;
  mode.value = RUNS[0].json.variational ? "spherical" : "linear";
  for (const k of ["A", "B"]) {
    document.getElementById(`save-${k}`).addEventListener("click", () => { state.saved[k] = RUNS.map((r) => Float32Array.from(r.current)); drawWalk(); });
  }
  [start, end, mode].forEach((e) => e.addEventListener("change", drawWalk));
  const strips = document.getElementById("walk-strips");
  strips.addEventListener("mousemove", (e) => {
    const r = strips.getBoundingClientRect();
    followWalk(Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)));
  });
}
function walkEnds(run) {
  return [endpoint(run, document.getElementById("walk-start").value), endpoint(run, document.getElementById("walk-end").value)];
}
async function drawWalk() {
  const strips = document.getElementById("walk-strips"), spherical = document.getElementById("walk-mode").value === "spherical";
  strips.replaceChildren();
  for (const run of RUNS) {
    const [a, b] = walkEnds(run);
    if (!a || !b) { strips.append(el("p", {}, "save points A and B first (buttons above), or pick class means")); return; }
    const codes = Array.from({ length: WALK_STEPS }, (_, j) => interpolate(a, b, j / (WALK_STEPS - 1), spherical));
    const images = await decodeMany(run, codes);
    state.walkImages[run.index] = images;
    const follow = imageCanvas(run, 2 * SCALE, "follows the mouse along the strip");
    run.ui.follow = follow;
    strips.append(el("div", { class: "strip walk" }, el("span", { class: "who" }, run.json.label),
      ...images.map((img) => { const c = imageCanvas(run, 2); paint(c, run, img); return c; }), follow));
  }
}
async function followWalk(t) {
  const spherical = document.getElementById("walk-mode").value === "spherical";
  for (const run of RUNS) {
    const [a, b] = walkEnds(run);
    if (!a || !b || !run.ui.follow) continue;
    const [image] = await decodeMany(run, [interpolate(a, b, t, spherical)]);
    paint(run.ui.follow, run, image);
  }
}
