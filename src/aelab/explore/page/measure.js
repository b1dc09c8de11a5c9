// Measurements the docs quote (benchmarks/explore_speed.py and the tests call them).
"use strict";

function quantile(sorted, q) { return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]; }
function benchmarkDecode(runIndex, repeats) {
  const run = RUNS[runIndex], times = [];
  for (let j = 0; j < repeats; j++) {
    const code = Float32Array.from(run.code(j % run.n), (v) => v + 0.1 * Math.sin(j + v));
    const start = performance.now();
    paint(run.ui.decoded, run, run.decode(code).data);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { median: quantile(times, 0.5), p95: quantile(times, 0.95), repeats };
}
// sweeps synthetic mouse moves over the map, one per frame, and times the frames
function measureHover(durationMs) {
  const canvas = RUNS[0].map.canvas, rect = canvas.getBoundingClientRect(), stamps = [];
  return new Promise((resolve) => {
    const t0 = performance.now();
    function frame(now) {
      stamps.push(now);
      const f = (now - t0) / durationMs, x = rect.left + rect.width * (0.1 + 0.8 * f), y = rect.top + rect.height * (0.5 + 0.4 * Math.sin(12 * f));
      canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: x, clientY: y, bubbles: true }));
      if (now - t0 < durationMs) requestAnimationFrame(frame);
      else {
        const gaps = stamps.slice(1).map((s, j) => s - stamps[j]).sort((a, b) => a - b);
        resolve({ frames: gaps.length, median: quantile(gaps, 0.5), p95: quantile(gaps, 0.95), max: gaps[gaps.length - 1] });
      }
    }
    requestAnimationFrame(frame);
  });
}
