// What the parts of the run page's charts workspace share (../charts.js has the
// overview and the DOM contract): the run's facts from #charts' data attributes, the
// controls more than one part reads, the state of each chart by metric key, and the
// settings remembered in localStorage.

export const section = document.getElementById("charts");
const facts = section ? section.dataset : {};
export const METRICS_URL = facts.metricsUrl;
export const HISTORY_URL = facts.historyUrl;
export const STARTED_AT = Date.parse(facts.startedAt || "");
export const FILE_NAME = facts.fileName || "run";
export const HEIGHTS = { s: 200, m: 260, l: 340 }; // plot height per chart size
const SETTINGS_KEY = "kiroku.run-charts";
export const LOG_KEYS_KEPT = 500; // metric keys remembered with a log y axis

export const fullToggle = document.getElementById("full-resolution");
export const search = document.getElementById("key-search");
export const searchCount = document.getElementById("key-search-count");
export const charts = new Map(); // key -> state

// Settings ------------------------------------------------------------------------

export const X_MODES = ["step", "relative", "wall"];
export const settings = { smoothing: 0, x: "step", size: "m", logY: [] };

export function readSettings() {
  let stored = null;
  try {
    stored = JSON.parse(window.localStorage.getItem(SETTINGS_KEY) || "null");
  } catch (_) {
    return; // storage refused or unreadable: the defaults
  }
  if (!stored || typeof stored !== "object") return;
  const smoothing = Number(stored.smoothing);
  if (Number.isFinite(smoothing) && smoothing >= 0 && smoothing <= 0.99) {
    settings.smoothing = smoothing;
  }
  if (X_MODES.includes(stored.x)) settings.x = stored.x;
  if (Object.prototype.hasOwnProperty.call(HEIGHTS, stored.size)) settings.size = stored.size;
  if (Array.isArray(stored.logY)) {
    settings.logY = stored.logY.filter((key) => typeof key === "string").slice(-LOG_KEYS_KEPT);
  }
}

export function saveSettings() {
  try {
    window.localStorage.setItem(SETTINGS_KEY, JSON.stringify(settings));
  } catch (_) {
    // private mode or full: the settings last as long as the page
  }
}
