// A decoder evaluated in plain JavaScript, from the ops and float32 weights that
// aelab/explore/decoder_spec.py exports. Tensors are {data: Float32Array, shape}, one image
// at a time: shape [n] for vectors, [C, H, W] for feature maps (PyTorch's NCHW without N).
// Sums are accumulated in doubles (JS numbers) and stored as float32.
"use strict";

function base64Float32(text) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}

function base64Bytes(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function loadWeights(json) {
  const weights = {};
  for (const [name, w] of Object.entries(json)) weights[name] = { shape: w.shape, data: base64Float32(w.data) };
  return weights;
}

function pointwise(fn) {
  return (x) => ({ data: x.data.map(fn), shape: x.shape });
}

const OPS = {
  relu: () => pointwise((v) => (v > 0 ? v : 0)),
  sigmoid: () => pointwise((v) => 1 / (1 + Math.exp(-v))),
  tanh: () => pointwise(Math.tanh),
  identity: () => (x) => x,
  leakyrelu: (op) => pointwise((v) => (v > 0 ? v : v * op.slope)),
  elu: (op) => pointwise((v) => (v > 0 ? v : op.alpha * (Math.exp(v) - 1))),
  reshape: (op) => (x) => ({ data: x.data, shape: op.shape }),
  flatten: () => (x) => ({ data: x.data, shape: [x.data.length] }),

  linear: (op, w) => {
    const weight = w[op.weight], bias = op.bias ? w[op.bias].data : null;
    const [nOut, nIn] = weight.shape, W = weight.data;
    return (x) => {
      const out = new Float32Array(nOut), v = x.data;
      for (let o = 0; o < nOut; o++) {
        let s = bias ? bias[o] : 0;
        const row = o * nIn;
        for (let i = 0; i < nIn; i++) s += W[row + i] * v[i];
        out[o] = s;
      }
      return { data: out, shape: [nOut] };
    };
  },

  // weight (Cout, Cin, kh, kw): out[o, y, x] = b[o] + sum w[o, c, r, s] * in[c, y*sh - ph + r, x*sw - pw + s]
  conv2d: (op, w) => {
    const weight = w[op.weight], bias = op.bias ? w[op.bias].data : null;
    const [cOut, cIn, kh, kw] = weight.shape, W = weight.data;
    const [sh, sw] = op.stride, [ph, pw] = op.padding;
    return (x) => {
      const [, h, wd] = x.shape, v = x.data;
      const oh = Math.floor((h + 2 * ph - kh) / sh) + 1, ow = Math.floor((wd + 2 * pw - kw) / sw) + 1;
      const acc = new Float64Array(cOut * oh * ow);
      for (let o = 0; o < cOut; o++) {
        const plane = o * oh * ow;
        for (let c = 0; c < cIn; c++) {
          const src = c * h * wd;
          for (let r = 0; r < kh; r++) for (let s = 0; s < kw; s++) {
            const k = W[((o * cIn + c) * kh + r) * kw + s];
            for (let y = 0; y < oh; y++) {
              const iy = y * sh - ph + r;
              if (iy < 0 || iy >= h) continue;
              const row = src + iy * wd, dst = plane + y * ow;
              for (let xx = 0; xx < ow; xx++) {
                const ix = xx * sw - pw + s;
                if (ix >= 0 && ix < wd) acc[dst + xx] += k * v[row + ix];
              }
            }
          }
        }
      }
      return { data: addBias(acc, bias, cOut, oh * ow), shape: [cOut, oh, ow] };
    };
  },

  // weight (Cin, Cout, kh, kw): every input pixel scatters its kernel into the output at
  // (y*sh - ph + r, x*sw - pw + s); output size (h - 1)*sh - 2*ph + kh + output_padding.
  conv_transpose2d: (op, w) => {
    const weight = w[op.weight], bias = op.bias ? w[op.bias].data : null;
    const [cIn, cOut, kh, kw] = weight.shape, W = weight.data;
    const [sh, sw] = op.stride, [ph, pw] = op.padding, [eh, ew] = op.output_padding;
    return (x) => {
      const [, h, wd] = x.shape, v = x.data;
      const oh = (h - 1) * sh - 2 * ph + kh + eh, ow = (wd - 1) * sw - 2 * pw + kw + ew;
      const acc = new Float64Array(cOut * oh * ow);
      for (let c = 0; c < cIn; c++) for (let y = 0; y < h; y++) for (let xx = 0; xx < wd; xx++) {
        const value = v[(c * h + y) * wd + xx];
        if (value === 0) continue;  // ReLU maps and sparse (winner-take-all) codes are mostly zeros
        for (let o = 0; o < cOut; o++) {
          const kernel = (c * cOut + o) * kh * kw, plane = o * oh * ow;
          for (let r = 0; r < kh; r++) {
            const oy = y * sh - ph + r;
            if (oy < 0 || oy >= oh) continue;
            const row = plane + oy * ow, krow = kernel + r * kw;
            for (let s = 0; s < kw; s++) {
              const ox = xx * sw - pw + s;
              if (ox >= 0 && ox < ow) acc[row + ox] += value * W[krow + s];
            }
          }
        }
      }
      return { data: addBias(acc, bias, cOut, oh * ow), shape: [cOut, oh, ow] };
    };
  },

  // PyTorch's 'nearest': source index floor(dst * (in / out)), the scale in float32
  upsample_nearest: (op) => (x) => {
    const [c, h, wd] = x.shape, [oh, ow] = op.size, v = x.data;
    const rows = nearestIndex(h, oh), cols = nearestIndex(wd, ow);
    const out = new Float32Array(c * oh * ow);
    for (let k = 0; k < c; k++) for (let y = 0; y < oh; y++) {
      const src = (k * h + rows[y]) * wd, dst = (k * oh + y) * ow;
      for (let xx = 0; xx < ow; xx++) out[dst + xx] = v[src + cols[xx]];
    }
    return { data: out, shape: [c, oh, ow] };
  },
};

function nearestIndex(n, size) {
  const scale = Math.fround(n / size);
  return Array.from({ length: size }, (_, i) => Math.min(Math.floor(Math.fround(i * scale)), n - 1));
}

function addBias(acc, bias, channels, plane) {
  const out = new Float32Array(acc.length);
  for (let o = 0; o < channels; o++) {
    const b = bias ? bias[o] : 0;
    for (let i = o * plane; i < (o + 1) * plane; i++) out[i] = acc[i] + b;
  }
  return out;
}

// spec: {ops, weights} from decoder_spec.py; codeShape: one image's code, e.g. [10] or [8, 4, 4].
// Returns decode(Float32Array code) -> {data: Float32Array (C*H*W), shape: [C, H, W]}.
function makeDecoder(spec, codeShape) {
  const weights = loadWeights(spec.weights);
  const layers = spec.ops.map((op) => {
    if (!OPS[op.op]) throw new Error(`decoder.js has no op ${op.op}`);
    return OPS[op.op](op, weights);
  });
  return (code) => layers.reduce((x, layer) => layer(x), { data: Float32Array.from(code), shape: codeShape });
}
