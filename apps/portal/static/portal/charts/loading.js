// When the charts of the workspace load (../charts.js has the overview): a chart is
// fetched when it scrolls into view, a few at a time, and fetched again when what it
// should show changes (a zoom, its reset, the full-resolution toggle); its plot
// follows its box's width.

import { charts, fullToggle } from "./state.js";
import { FULL_CAP, ZOOM_FULL_CAP, fetchSeries } from "./data.js";
import { wallMs } from "./series.js";
import { render, setNote } from "./draw.js";

const CONCURRENCY = 4;

function capFor(state) {
  if (fullToggle && fullToggle.checked) return FULL_CAP;
  return state.range ? ZOOM_FULL_CAP : 0;
}

function describe(state, series) {
  const where = state.range ? ` in steps ${state.range[0]}–${state.range[1]}` : "";
  if (series.capped) {
    return `${series.total.toLocaleString()} points${where}: more than ${capFor(state).toLocaleString()}, so shown downsampled to ${series.points.length.toLocaleString()} (each bucket's min and max kept).`;
  }
  if (series.downsampled) {
    return `${series.points.length.toLocaleString()} of ${series.total.toLocaleString()} points${where} (downsampled; each bucket's min and max kept).`;
  }
  return state.range ? `All ${series.total.toLocaleString()} points${where}.` : "";
}

// state.version counts the changes of what data a chart should show (zoom, reset,
// toggle, too many live points); state.drawn is the version on screen. Settings
// (smoothing, x axis, size, log y, hidden series) only draw the same data again.
export function outdated(state) {
  return state.drawn !== state.version;
}

export function invalidate(state) {
  state.version += 1;
  state.failed = false;
}

async function load(state) {
  state.loading = true;
  const version = state.version;
  try {
    const series = await fetchSeries(state.key, state.range, capFor(state));
    if (state.version !== version) return; // changed meanwhile: the next load draws
    state.points = series.points.slice();
    state.lastStep = state.points.length ? state.points[state.points.length - 1].step : null;
    state.downsampled = series.downsampled || Boolean(series.capped);
    await render(state);
    state.drawn = version;
    setNote(state, describe(state, series));
  } catch (error) {
    state.failed = true;
    setNote(state, `Could not load this chart: ${error.message}`);
  } finally {
    state.loading = false;
    if (state.visible && !state.failed && outdated(state)) schedule(state, true);
  }
}

// Zoom fetches the range (at full resolution when it is small enough); a
// double-click (autorange) goes back to the whole run. On a time axis the range is
// the steps of the points drawn inside it.
export function onRelayout(state, event) {
  if (state.busy) return;
  if (event["xaxis.autorange"] === true) {
    if (state.range) {
      state.range = null;
      invalidate(state);
      schedule(state, true);
    }
    return;
  }
  let range = null;
  if (event["xaxis.range[0]"] !== undefined && event["xaxis.range[1]"] !== undefined) {
    range = [event["xaxis.range[0]"], event["xaxis.range[1]"]];
  } else if (Array.isArray(event["xaxis.range"])) {
    range = event["xaxis.range"];
  }
  if (!range) return;
  const steps = stepsIn(state, range);
  if (!steps) return;
  state.range = steps;
  invalidate(state);
  schedule(state, true);
}

function stepsIn(state, range) {
  if (state.xMode === "step") {
    const lo = Math.floor(Number(range[0]));
    const hi = Math.ceil(Number(range[1]));
    return Number.isFinite(lo) && Number.isFinite(hi) && hi >= lo ? [lo, hi] : null;
  }
  const position = state.xMode === "wall" ? wallMs : Number;
  const from = position(range[0]);
  const to = position(range[1]);
  if (!Number.isFinite(from) || !Number.isFinite(to)) return null;
  let lo = null;
  let hi = null;
  state.points.forEach((point, i) => {
    const at = state.xNumbers[i];
    if (at === null || at < from || at > to) return;
    lo = lo === null ? point.step : Math.min(lo, point.step);
    hi = hi === null ? point.step : Math.max(hi, point.step);
  });
  return lo === null ? null : [lo, hi];
}

// A few charts load at a time, those on screen first; one scrolled away before its
// turn waits until it is back.
const queue = [];
let active = 0;

export function schedule(state, first) {
  if (state.queued) return;
  state.queued = true;
  if (first) queue.unshift(state);
  else queue.push(state);
  pump();
}

function pump() {
  while (active < CONCURRENCY && queue.length) {
    const state = queue.shift();
    state.queued = false;
    if (!state.visible || state.loading || !outdated(state)) continue;
    active += 1;
    load(state).finally(() => {
      active -= 1;
      pump();
    });
  }
}

export const observer = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      const state = charts.get(entry.target.dataset.key);
      if (!state) continue;
      state.visible = entry.isIntersecting;
      if (!state.visible) continue;
      state.failed = false; // back on screen: try again
      if (outdated(state)) schedule(state, false);
      else if (state.stale && !state.loading) render(state).catch(() => {});
    }
  },
  { rootMargin: "300px 0px" },
);

// A chart's box changes width with the window, the grid and the chart size: its
// plot follows.
export const resizer = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const state = charts.get(entry.target.dataset.key);
    if (!state || !state.plotted) continue;
    const width = Math.round(entry.contentRect.width);
    if (width === state.width) continue;
    state.width = width;
    if (state.plot.offsetParent !== null) Plotly.Plots.resize(state.plot);
  }
});
