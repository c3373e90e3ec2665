// The controls of every chart of the workspace, above the charts (../charts.js has
// the overview): smoothing, the x axis and the chart size (remembered, see
// state.js), full resolution, and the key search.

import { HEIGHTS, X_MODES, charts, fullToggle, saveSettings, search, searchCount, section, settings } from "./state.js";
import { redrawAll } from "./draw.js";
import { invalidate, schedule } from "./loading.js";

const smoothingInput = document.getElementById("chart-smoothing");
const smoothingValue = document.getElementById("chart-smoothing-value");
const xSelect = document.getElementById("chart-x");
const sizeSelect = document.getElementById("chart-size");

export function showSettings() {
  section.dataset.size = settings.size;
  if (smoothingInput) smoothingInput.value = String(settings.smoothing);
  if (smoothingValue) smoothingValue.textContent = String(settings.smoothing);
  if (xSelect) xSelect.value = settings.x;
  if (sizeSelect) sizeSelect.value = settings.size;
}

// The key search only hides and shows charts: nothing is fetched until a chart
// that matches scrolls into view.
export function applySearch() {
  const needle = (search.value || "").trim().toLowerCase();
  let shown = 0;
  section.querySelectorAll("details.chart-group").forEach((group) => {
    let inGroup = 0;
    group.querySelectorAll(".chart[data-key]").forEach((chart) => {
      const match = !needle || chart.dataset.key.toLowerCase().includes(needle);
      chart.hidden = !match;
      if (match) inGroup += 1;
    });
    group.hidden = inGroup === 0;
    shown += inGroup;
  });
  const total = charts.size;
  searchCount.textContent = needle
    ? `${shown} of ${total} metric${total === 1 ? "" : "s"} match “${search.value.trim()}”.`
    : `${total} metric${total === 1 ? "" : "s"}.`;
}

// The toolbar's controls start to act on the charts.
export function bindToolbar() {
  if (smoothingInput) {
    smoothingInput.addEventListener("input", () => {
      const weight = Number(smoothingInput.value);
      settings.smoothing = Number.isFinite(weight) ? Math.min(Math.max(weight, 0), 0.99) : 0;
      if (smoothingValue) smoothingValue.textContent = String(settings.smoothing);
      saveSettings();
      redrawAll();
    });
  }
  if (xSelect) {
    xSelect.addEventListener("change", () => {
      settings.x = X_MODES.includes(xSelect.value) ? xSelect.value : "step";
      saveSettings();
      redrawAll();
    });
  }
  if (sizeSelect) {
    sizeSelect.addEventListener("change", () => {
      settings.size = Object.prototype.hasOwnProperty.call(HEIGHTS, sizeSelect.value) ? sizeSelect.value : "m";
      section.dataset.size = settings.size;
      saveSettings();
      redrawAll();
    });
  }

  if (fullToggle) {
    fullToggle.addEventListener("change", () => {
      for (const state of charts.values()) {
        if (!state.loaded && !state.failed) continue;
        invalidate(state);
        if (state.visible) schedule(state, false);
      }
    });
  }

  if (search) {
    let timer = null;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(applySearch, 120);
    });
  }
}
