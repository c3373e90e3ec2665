// The controls of each chart of the workspace (../charts.js has the overview and the
// DOM contract): a logarithmic y axis (remembered per metric key), showing and hiding
// each series from its legend, the data as CSV and the chart as PNG. `register` gives
// a .chart its controls and its state, and starts watching it.

import { FILE_NAME, HEIGHTS, LOG_KEYS_KEPT, charts, saveSettings, settings } from "./state.js";
import { fetchAll } from "./data.js";
import { redraw, setNote } from "./draw.js";
import { observer, resizer } from "./loading.js";

// A file name for a download: the run's name and the key, nothing a file system minds.
function fileStem(key) {
  return `${FILE_NAME}-${key}`.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 120);
}

function saveFile(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function button(className, text, key, title) {
  const element = document.createElement("button");
  element.type = "button";
  element.className = `chart-action ${className}`;
  element.title = title;
  element.append(text);
  const hidden = document.createElement("span");
  hidden.className = "vh";
  hidden.textContent = ` (${key})`;
  element.append(hidden);
  return element;
}

async function downloadCsv(state) {
  const { csv } = state;
  csv.disabled = true;
  csv.setAttribute("aria-busy", "true");
  try {
    const points = await fetchAll(state.key, null, null);
    const lines = ["step,value,timestamp"];
    for (const point of points) {
      // Numbers as JavaScript writes them (they read back to the same double);
      // NaN and the infinities as the API spells them.
      lines.push(`${point.step},${String(point.value)},${point.timestamp}`);
    }
    saveFile(new Blob([`${lines.join("\n")}\n`], { type: "text/csv" }), `${fileStem(state.key)}.csv`);
  } catch (error) {
    setNote(state, `Could not download the data: ${error.message}`);
  } finally {
    csv.disabled = false;
    csv.removeAttribute("aria-busy");
  }
}

function downloadPng(state) {
  if (!state.plotted) return;
  Plotly.downloadImage(state.plot, {
    format: "png",
    filename: fileStem(state.key),
    width: Math.max(state.plot.clientWidth, 320),
    height: HEIGHTS[settings.size],
  }).catch((error) => setNote(state, `Could not make the image: ${error.message}`));
}

function toggleLog(state) {
  const on = !settings.logY.includes(state.key);
  settings.logY = settings.logY.filter((key) => key !== state.key);
  if (on) settings.logY.push(state.key);
  settings.logY = settings.logY.slice(-LOG_KEYS_KEPT);
  saveSettings();
  state.logButton.setAttribute("aria-pressed", on ? "true" : "false");
  redraw(state);
}

export function register(el) {
  const key = el.dataset.key;
  const actions = document.createElement("div");
  actions.className = "chart-actions";
  actions.setAttribute("role", "group");
  actions.setAttribute("aria-label", `Chart of ${key}`);
  const logButton = button("log-y", "Log y", key, "A logarithmic y axis (values ≤ 0 are not drawn)");
  logButton.setAttribute("aria-pressed", settings.logY.includes(key) ? "true" : "false");
  const csv = button("csv", "CSV", key, "Download every point as CSV (step, value, timestamp)");
  const png = button("png", "PNG", key, "Download the chart as a PNG image");
  png.disabled = true; // until it is drawn
  actions.append(logButton, csv, png);
  const title = el.querySelector("h4");
  if (title) title.after(actions);
  else el.prepend(actions);
  const legend = document.createElement("div");
  legend.className = "chart-legend";
  const plot = el.querySelector(".plot");
  el.insertBefore(legend, plot);
  const state = {
    key,
    el,
    plot,
    legend,
    logButton,
    csv,
    png,
    range: null,
    visible: false,
    loaded: false,
    loading: false,
    failed: false,
    plotted: false,
    stale: false,
    version: 0,
    drawn: -1,
    queued: false,
    lastStep: null,
    pointCount: 0,
    points: [],
    hidden: new Set(),
    width: null,
  };
  logButton.addEventListener("click", () => toggleLog(state));
  csv.addEventListener("click", () => downloadCsv(state));
  png.addEventListener("click", () => downloadPng(state));
  legend.addEventListener("click", (event) => {
    const pressed = event.target.closest("button.series");
    if (!pressed) return;
    const series = pressed.dataset.series;
    if (state.hidden.has(series)) state.hidden.delete(series);
    else state.hidden.add(series);
    redraw(state);
  });
  charts.set(key, state);
  observer.observe(el);
  resizer.observe(el);
  return state;
}
