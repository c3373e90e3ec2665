// Drawing a chart of the charts workspace (../charts.js has the overview and the DOM
// contract): its traces (raw, smoothed, non-finite markers) with plotly, the message
// of a chart with only non-finite points, its legend, its note, and drawing again
// when a setting changes.

import { HEIGHTS, STARTED_AT, charts, settings } from "./state.js";
import { smoothed, xAxisOf } from "./series.js";
import { KIND_HOVER, countsText, escapeHtml, nonFiniteKind, plottable } from "../plots.js";
import { onRelayout } from "./loading.js";

const COLOR = "#2454c5";
const MARK_COLOR = "#b42318";
const RAW_FAINT = 0.25; // the raw line's opacity while smoothing is on

export function setNote(state, text) {
  let note = state.el.querySelector(".chart-note");
  if (!text) {
    if (note) note.remove();
    return;
  }
  if (!note) {
    note = document.createElement("p");
    note.className = "chart-note muted";
    state.el.insertBefore(note, state.legend);
  }
  note.textContent = text;
}

function isHidden(state, series) {
  return state.hidden.has(series);
}

export async function render(state) {
  state.stale = false;
  const points = state.points;
  const x = xAxisOf(points, settings.x, STARTED_AT);
  const steps = x.mode === "step" ? x.values : points.map((point) => point.step);
  const y = [];
  const counts = { nan: 0, pos: 0, neg: 0 };
  const marks = { x: [], y: [], steps: [], symbol: [], text: [] };
  let finite = 0;
  points.forEach((point, i) => {
    const value = plottable(point.value);
    y.push(value);
    if (value !== null) {
      finite += 1;
      return;
    }
    const kind = nonFiniteKind(point.value);
    counts[kind] += 1;
    marks.x.push(x.values[i]);
    marks.y.push(kind === "neg" ? 0 : 1);
    marks.steps.push(point.step);
    marks.symbol.push(kind === "nan" ? "x" : kind === "pos" ? "triangle-up" : "triangle-down");
    marks.text.push(KIND_HOVER[kind]);
  });
  state.xMode = x.mode;
  state.xNumbers = x.numbers;
  state.pointCount = points.length;
  const nonFinite = marks.x.length;

  if (points.length && !finite) {
    await showNonFiniteOnly(state, counts);
    return;
  }
  const message = state.el.querySelector(".chart-empty");
  if (message) message.remove();
  state.plot.classList.remove("non-finite-only");

  const weight = settings.smoothing;
  const smoothing = weight > 0;
  const logY = settings.logY.includes(state.key);
  const name = escapeHtml(state.key);
  const traces = [
    {
      x: x.values,
      y,
      customdata: steps,
      type: "scatter",
      mode: finite === 1 ? "markers" : "lines",
      // A NaN or ±∞ leaves no gap: its marker at the edge says where it was.
      connectgaps: true,
      name: smoothing ? `${name} (raw)` : name,
      line: { width: smoothing ? 1 : 1.5, color: COLOR },
      marker: { color: COLOR },
      opacity: smoothing ? RAW_FAINT : 1,
      visible: !isHidden(state, "raw"),
      hovertemplate: `${x.hover}<br>%{y}<extra></extra>`,
      meta: "raw",
    },
  ];
  if (smoothing) {
    traces.push({
      x: x.values,
      y: smoothed(y, weight),
      customdata: steps,
      type: "scatter",
      mode: finite === 1 ? "markers" : "lines",
      connectgaps: true,
      name: `${name} (smoothed)`,
      line: { width: 2, color: COLOR },
      marker: { color: COLOR },
      visible: !isHidden(state, "smoothed"),
      hovertemplate: `${x.hover}<br>%{y} (smoothed ${weight})<extra></extra>`,
      meta: "smoothed",
    });
  }
  if (nonFinite) {
    traces.push({
      x: marks.x,
      y: marks.y,
      customdata: marks.steps,
      text: marks.text,
      yaxis: "y2",
      type: "scatter",
      mode: "markers",
      name: "non-finite",
      marker: { color: MARK_COLOR, size: 9, symbol: marks.symbol, line: { width: 1.5, color: MARK_COLOR } },
      cliponaxis: false,
      visible: !isHidden(state, "nonfinite"),
      hovertemplate: `${x.hover}<br>%{text}<extra></extra>`,
      meta: "nonfinite",
    });
  }
  const xaxis = { ...x.axis, zeroline: false };
  if (state.range && x.mode === "step") {
    Object.assign(xaxis, { range: state.range.slice(), autorange: false });
  }
  const layout = {
    height: HEIGHTS[settings.size],
    margin: { l: 56, r: 14, t: 12, b: 40 },
    showlegend: false,
    hovermode: "closest",
    xaxis,
    yaxis: { automargin: true, zeroline: false, type: logY ? "log" : "linear" },
  };
  if (nonFinite) {
    layout.yaxis2 = { overlaying: "y", range: [0, 1], visible: false, fixedrange: true };
  }
  const config = {
    responsive: false, // a ResizeObserver follows the chart's box instead
    displaylogo: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "toImage"],
  };
  state.busy = true;
  try {
    await Plotly.react(state.plot, traces, layout, config);
  } finally {
    state.busy = false;
  }
  state.plotted = true;
  if (!state.listening) {
    state.plot.on("plotly_relayout", (event) => onRelayout(state, event));
    state.listening = true;
  }
  state.loaded = true;
  state.plot.classList.add("rendered");
  state.plot.dataset.traces = String(state.plot.data.length);
  state.png.disabled = false;
  renderLegend(state, [
    { series: "raw", label: smoothing ? `${state.key} (raw)` : state.key, swatch: smoothing ? "faint" : "line" },
    ...(smoothing ? [{ series: "smoothed", label: `${state.key} (smoothed)`, swatch: "line" }] : []),
    ...(nonFinite
      ? [{ series: "nonfinite", label: `${nonFinite.toLocaleString()} non-finite`, detail: `(${countsText(counts)})`, swatch: "mark" }]
      : []),
  ]);
}

async function showNonFiniteOnly(state, counts) {
  if (state.plotted) {
    Plotly.purge(state.plot); // its listeners go with it
    state.plotted = false;
    state.listening = false;
  }
  let message = state.el.querySelector(".chart-empty");
  if (!message) {
    message = document.createElement("p");
    message.className = "chart-empty";
    state.plot.append(message);
  }
  const shown = state.downsampled ? "Every point shown" : "Every point";
  message.textContent = `${shown} of ${state.key} is non-finite (${countsText(counts)}): there is no line to draw.`;
  state.loaded = true;
  state.plot.classList.add("rendered", "non-finite-only");
  state.plot.dataset.traces = "0";
  state.png.disabled = true;
  renderLegend(state, []);
}

// The chart's legend: one toggle button per series (aria-pressed: shown).
function renderLegend(state, entries) {
  state.legend.replaceChildren();
  for (const entry of entries) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "series";
    button.dataset.series = entry.series;
    const shown = !isHidden(state, entry.series);
    button.setAttribute("aria-pressed", shown ? "true" : "false");
    button.title = shown ? "Shown: press to hide this series" : "Hidden: press to show this series";
    const swatch = document.createElement("span");
    swatch.className = `legend-swatch ${entry.swatch}`;
    swatch.setAttribute("aria-hidden", "true");
    const label = document.createElement("span");
    label.textContent = entry.label;
    button.append(swatch, label);
    if (entry.detail) {
      const detail = document.createElement("span");
      detail.className = "muted";
      detail.textContent = ` ${entry.detail}`;
      button.append(detail);
    }
    state.legend.append(button);
  }
}

export function redraw(state) {
  if (!state.loaded) return;
  if (state.visible) render(state).catch(() => {});
  else state.stale = true;
}

// Settings apply to every chart drawn; those off screen draw again when next seen.
let redrawQueued = false;
export function redrawAll() {
  if (redrawQueued) return;
  redrawQueued = true;
  requestAnimationFrame(() => {
    redrawQueued = false;
    for (const state of charts.values()) redraw(state);
  });
}
