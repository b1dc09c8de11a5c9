// The latent map on a canvas: every point drawn once into an offscreen layer, so hovering
// over 10,000 points redraws one image and a few marks, never the points themselves.
"use strict";

const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const HIT_RADIUS = 6;  // pixels: a point under the mouse
const MARGIN = 14;

function classColour(label) {
  return label == null || label < 0 ? "#555" : PALETTE[label % PALETTE.length];
}

class LatentMap {
  // xy: Float32Array (2N); labels: array or null; bounds: [xmin, xmax, ymin, ymax] (shared axes pass the same)
  constructor(canvas, xy, labels, bounds) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.xy = xy;
    this.labels = labels;
    this.n = xy.length / 2;
    this.bounds = bounds;
    this.layer = document.createElement("canvas");
    this.layer.width = canvas.width;
    this.layer.height = canvas.height;
    this.pixels = new Float32Array(this.n * 2);
    for (let i = 0; i < this.n; i++) {
      const [px, py] = this.toPixel(xy[2 * i], xy[2 * i + 1]);
      this.pixels[2 * i] = px;
      this.pixels[2 * i + 1] = py;
    }
    this.buildGrid();
    this.marks = { hover: -1, current: null, path: [] };
  }

  toPixel(x, y) {
    const [x0, x1, y0, y1] = this.bounds, w = this.canvas.width - 2 * MARGIN, h = this.canvas.height - 2 * MARGIN;
    return [MARGIN + ((x - x0) / (x1 - x0)) * w, MARGIN + (1 - (y - y0) / (y1 - y0)) * h];
  }

  toData(px, py) {
    const [x0, x1, y0, y1] = this.bounds, w = this.canvas.width - 2 * MARGIN, h = this.canvas.height - 2 * MARGIN;
    return [x0 + ((px - MARGIN) / w) * (x1 - x0), y0 + (1 - (py - MARGIN) / h) * (y1 - y0)];
  }

  // points bucketed by HIT_RADIUS-sized cells: a hover looks at 9 cells, not all points
  buildGrid() {
    this.cols = Math.ceil(this.canvas.width / HIT_RADIUS) + 1;
    this.grid = new Map();
    for (let i = 0; i < this.n; i++) {
      const key = this.cell(this.pixels[2 * i], this.pixels[2 * i + 1]);
      if (!this.grid.has(key)) this.grid.set(key, []);
      this.grid.get(key).push(i);
    }
  }

  cell(px, py) {
    return Math.floor(py / HIT_RADIUS) * this.cols + Math.floor(px / HIT_RADIUS);
  }

  // the visible point nearest (px, py) within HIT_RADIUS, or -1
  pointAt(px, py, hidden) {
    let best = -1, bestDist = HIT_RADIUS * HIT_RADIUS;
    const cx = Math.floor(px / HIT_RADIUS), cy = Math.floor(py / HIT_RADIUS);
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
      for (const i of this.grid.get((cy + dy) * this.cols + cx + dx) || []) {
        if (this.labels && hidden.has(this.labels[i])) continue;
        const d = (this.pixels[2 * i] - px) ** 2 + (this.pixels[2 * i + 1] - py) ** 2;
        if (d <= bestDist) { best = i; bestDist = d; }
      }
    }
    return best;
  }

  // indices of the k visible points nearest a data position, on the map
  nearest(x, y, k, hidden) {
    const order = [];
    for (let i = 0; i < this.n; i++) {
      if (this.labels && hidden.has(this.labels[i])) continue;
      order.push([(this.xy[2 * i] - x) ** 2 + (this.xy[2 * i + 1] - y) ** 2, i]);
    }
    order.sort((a, b) => a[0] - b[0]);
    return order.slice(0, k).map((p) => p[1]);
  }

  drawPoints(hidden) {
    const g = this.layer.getContext("2d");
    g.fillStyle = "#fff";
    g.fillRect(0, 0, this.layer.width, this.layer.height);
    g.strokeStyle = "#ddd";
    g.strokeRect(0.5, 0.5, this.layer.width - 1, this.layer.height - 1);
    const size = this.n > 2000 ? 2 : 3;
    g.globalAlpha = this.n > 2000 ? 0.6 : 0.8;
    for (let i = 0; i < this.n; i++) {
      const label = this.labels ? this.labels[i] : null;
      if (label != null && hidden.has(label)) continue;
      g.fillStyle = classColour(label);
      g.fillRect(this.pixels[2 * i] - size / 2, this.pixels[2 * i + 1] - size / 2, size, size);
    }
    g.globalAlpha = 1;
    this.render();
  }

  render() {
    const g = this.ctx, m = this.marks;
    g.drawImage(this.layer, 0, 0);
    if (m.path.length > 1) {
      g.strokeStyle = "#000";
      g.lineWidth = 1.5;
      g.beginPath();
      m.path.forEach(([x, y], j) => { const [px, py] = this.toPixel(x, y); j ? g.lineTo(px, py) : g.moveTo(px, py); });
      g.stroke();
    }
    if (m.hover >= 0) {
      g.strokeStyle = "#000";
      g.lineWidth = 2;
      g.beginPath();
      g.arc(this.pixels[2 * m.hover], this.pixels[2 * m.hover + 1], 5, 0, 2 * Math.PI);
      g.stroke();
    }
    if (m.current) {
      const [px, py] = this.toPixel(m.current[0], m.current[1]);
      g.strokeStyle = "#d00";
      g.lineWidth = 2;
      g.beginPath();
      g.moveTo(px - 7, py); g.lineTo(px + 7, py); g.moveTo(px, py - 7); g.lineTo(px, py + 7);
      g.stroke();
    }
  }
}

function boundsOf(xyList) {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const xy of xyList) for (let i = 0; i < xy.length; i += 2) {
    x0 = Math.min(x0, xy[i]); x1 = Math.max(x1, xy[i]); y0 = Math.min(y0, xy[i + 1]); y1 = Math.max(y1, xy[i + 1]);
  }
  const padX = (x1 - x0) * 0.05 || 1, padY = (y1 - y0) * 0.05 || 1;
  return [x0 - padX, x1 + padX, y0 - padY, y1 + padY];
}
