// A small SVG chart of our own for the host dashboard: stacked bars per
// time bucket (granted at the bottom, failed on top, hatched as well as
// coloured so colour is not the only cue), a y axis with round steps and a
// few x labels. Colours come from the page's CSS (classes below), so dark
// mode applies. No external resources, no library.

const NS = 'http://www.w3.org/2000/svg';
let uid = 0;

/** Creates an SVG element; attribute values go in as strings. */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined && v !== false) el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** A "nice" step (1, 2 or 5 × 10^k) so that about `ticks` steps cover `max`. */
export function niceStep(max, ticks = 4) {
  if (!(max > 0)) return 1;
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((x) => x >= raw);
  return Math.max(1, step); // counts are whole numbers
}

/**
 * Draws stacked bars.
 * points: [{ok, failed, ...}] in order; opts:
 *   width, height: pixels (the SVG is drawn at that size, so text stays readable on phones);
 *   title(p): the tooltip of one bar;
 *   tick(p, i): an x label for bucket i, or null;
 *   labelledBy: id of the element that describes the chart in words;
 *   empty: the text shown when every bucket is zero.
 */
export function stackedBars(points, opts) {
  const width = Math.max(240, Math.floor(opts.width));
  const height = Math.max(140, Math.floor(opts.height));
  const m = { left: 40, right: 10, top: 12, bottom: 30 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const max = points.reduce((a, p) => Math.max(a, p.ok + p.failed), 0);
  const step = niceStep(max);
  const yMax = Math.max(step, Math.ceil(max / step) * step);
  const y = (v) => m.top + plotH - (v / yMax) * plotH;
  const band = plotW / Math.max(1, points.length);
  const barW = Math.max(1, Math.min(band - 1, band * 0.75));
  const hatch = `hd-hatch-${++uid}`;

  const svg = s('svg', {
    class: 'hd-svg', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-labelledby': opts.labelledBy, focusable: 'false',
  });
  svg.append(s('defs', {}, s('pattern', { id: hatch, width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
    s('rect', { class: 'hd-c-failed', width: 6, height: 6 }),
    s('line', { class: 'hd-hatch', x1: 0, y1: 0, x2: 0, y2: 6 }))));

  // Grid and y labels.
  const grid = s('g', { class: 'hd-grid', 'aria-hidden': 'true' });
  for (let v = 0; v <= yMax; v += step) {
    grid.append(
      s('line', { x1: m.left, x2: width - m.right, y1: y(v), y2: y(v), class: v === 0 ? 'hd-axis' : 'hd-gridline' }),
      s('text', { x: m.left - 6, y: y(v), dy: '0.32em', 'text-anchor': 'end', class: 'hd-tick' }, String(v)),
    );
  }
  svg.append(grid);

  // Bars.
  const bars = s('g', { class: 'hd-bars' });
  points.forEach((p, i) => {
    const x = m.left + i * band + (band - barW) / 2;
    const g = s('g', { class: 'hd-bucket', 'data-ok': p.ok, 'data-failed': p.failed },
      s('title', {}, opts.title(p)));
    if (p.ok > 0) {
      g.append(s('rect', { class: 'hd-bar-ok hd-c-ok', x, width: barW, y: y(p.ok), height: Math.max(1, y(0) - y(p.ok)) }));
    }
    if (p.failed > 0) {
      const top = y(p.ok + p.failed);
      g.append(s('rect', { class: 'hd-bar-failed', fill: `url(#${hatch})`, x, width: barW, y: top, height: Math.max(1, y(p.ok) - top) }));
    }
    // An invisible full-height target, so the tooltip shows on empty buckets too.
    g.append(s('rect', { class: 'hd-hit', x: m.left + i * band, width: band, y: m.top, height: plotH }));
    bars.append(g);
  });
  svg.append(bars);

  // X labels: the caller picks which buckets get one; labels that would
  // collide with the previous one are left out.
  const xs = s('g', { class: 'hd-xlabels', 'aria-hidden': 'true' });
  let lastRight = -Infinity;
  points.forEach((p, i) => {
    const label = opts.tick(p, i);
    if (!label) return;
    const cx = m.left + i * band + band / 2;
    const half = label.length * 3.4;
    if (cx - half < lastRight + 4) return;
    const anchor = cx - half < 0 ? 'start' : cx + half > width ? 'end' : 'middle';
    xs.append(s('line', { class: 'hd-axis', x1: cx, x2: cx, y1: y(0), y2: y(0) + 4 }),
      s('text', { class: 'hd-tick', x: cx, y: height - m.bottom + 18, 'text-anchor': anchor }, label));
    lastRight = anchor === 'middle' ? cx + half : anchor === 'start' ? cx + 2 * half : cx;
  });
  svg.append(xs);

  if (max === 0) {
    svg.append(s('text', { class: 'hd-empty', x: m.left + plotW / 2, y: m.top + plotH / 2, 'text-anchor': 'middle' }, opts.empty));
  }
  return svg;
}
