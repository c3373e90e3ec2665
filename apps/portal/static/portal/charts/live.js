// Live refresh of the charts workspace (../charts.js has the overview and the DOM
// contract): while the run is RUNNING, new metric keys get their chart (and their
// group) and drawn charts get their new points.

import { METRICS_URL, charts, search, searchCount } from "./state.js";
import { PAGE_SIZE, history } from "./data.js";
import { MAX_POINTS, formatNumber, getJson } from "../plots.js";
import { redraw } from "./draw.js";
import { invalidate, outdated, schedule } from "./loading.js";
import { register } from "./controls.js";
import { applySearch } from "./toolbar.js";

const RELOAD_AFTER = 5 * MAX_POINTS; // live points appended before downsampling again
const LIVE_MS = 5000;
const groupsBox = document.getElementById("chart-groups");

// While the status badge says RUNNING, every LIVE_MS ask for every key's summary;
// add charts for new keys, and extend drawn charts whose last step moved on.
function running() {
  const badge = document.getElementById("run-status");
  return Boolean(badge && badge.classList.contains("RUNNING"));
}

const OTHER = "other";
const SYSTEM = "system";

function prefixOf(key) {
  const slash = key.indexOf("/");
  return slash > 0 ? key.slice(0, slash) : OTHER;
}

function groupOrder(prefix) {
  return [prefix === SYSTEM ? 1 : prefix === OTHER ? 2 : 0, prefix];
}

function before(a, b) {
  const [x, y] = [groupOrder(a), groupOrder(b)];
  return x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
}

function groupTitle(prefix) {
  if (prefix === SYSTEM) return "system/ (CPU, memory, GPUs)";
  if (prefix === OTHER) return OTHER;
  return `${prefix}/`;
}

function ensureGroup(prefix) {
  for (const group of groupsBox.querySelectorAll("details.chart-group")) {
    if (group.dataset.prefix === prefix) return group;
  }
  const group = document.createElement("details");
  group.className = "chart-group";
  group.dataset.prefix = prefix;
  group.open = true;
  const summary = document.createElement("summary");
  const heading = document.createElement("h3");
  heading.textContent = `${groupTitle(prefix)} `;
  const count = document.createElement("span");
  count.className = "muted count";
  heading.appendChild(count);
  summary.appendChild(heading);
  const box = document.createElement("div");
  box.className = "charts";
  group.append(summary, box);
  const next = Array.from(groupsBox.querySelectorAll("details.chart-group")).find((g) =>
    before(prefix, g.dataset.prefix),
  );
  groupsBox.insertBefore(group, next || null);
  return group;
}

function addChart(summary) {
  const group = ensureGroup(prefixOf(summary.key));
  const el = document.createElement("div");
  el.className = "chart";
  el.dataset.key = summary.key;
  const title = document.createElement("h4");
  title.textContent = summary.key;
  const facts = document.createElement("p");
  facts.className = "muted chart-facts";
  const plot = document.createElement("div");
  plot.className = "plot";
  el.append(title, facts, plot);
  const box = group.querySelector(".charts");
  const next = Array.from(box.querySelectorAll(".chart[data-key]")).find(
    (chart) => chart.dataset.key > summary.key,
  );
  box.insertBefore(el, next || null);
  group.querySelector("summary .count").textContent = String(
    box.querySelectorAll(".chart[data-key]").length,
  );
  const empty = document.getElementById("charts-empty");
  if (empty) empty.remove();
  return register(el);
}

async function extend(state, lastStep) {
  if (state.loading || outdated(state) || state.lastStep === null || lastStep <= state.lastStep) {
    return;
  }
  const tooMany = state.downsampled && state.pointCount > RELOAD_AFTER;
  if (state.range || tooMany) {
    // A zoomed chart shows its range; a long live tail is downsampled again.
    if (tooMany) {
      invalidate(state);
      if (state.visible) schedule(state, false);
    }
    return;
  }
  const version = state.version;
  const body = await history(state.key, { page_size: PAGE_SIZE, after_step: state.lastStep });
  if (!body.results.length || state.loading || state.version !== version) return;
  for (const point of body.results) state.points.push(point);
  state.lastStep = body.results[body.results.length - 1].step;
  state.pointCount = state.points.length;
  redraw(state);
  if (body.next) {
    // More than a page arrived at once: draw it again from the server.
    invalidate(state);
    if (state.visible) schedule(state, false);
  }
}

function showKeyMetric(summary) {
  const list = document.getElementById("key-metrics");
  if (!list) return;
  for (const item of list.querySelectorAll("div[data-key]")) {
    if (item.dataset.key !== summary.key) continue;
    const value = item.querySelector("dd");
    if (value) value.textContent = formatNumber(summary.last);
  }
}

async function refresh() {
  const body = await getJson(METRICS_URL);
  for (const summary of body.results) {
    let state = charts.get(summary.key);
    if (!state) state = addChart(summary);
    const facts = state.el.querySelector(".chart-facts");
    if (facts) {
      facts.textContent = `last ${formatNumber(summary.last)} · ${summary.count} point${summary.count === 1 ? "" : "s"}`;
    }
    showKeyMetric(summary);
    if (state.loaded && summary.last_step !== null) {
      try {
        await extend(state, summary.last_step);
      } catch (_) {
        invalidate(state); // drawn again from scratch when next seen
      }
    }
  }
  const heading = document.querySelector("#charts-title .count");
  if (heading) heading.textContent = String(charts.size);
  if (search && search.value) applySearch();
  else if (searchCount) searchCount.textContent = `${charts.size} metric${charts.size === 1 ? "" : "s"}.`;
}

function tick() {
  if (document.hidden) {
    setTimeout(tick, LIVE_MS);
    return;
  }
  // One more round after the run has ended picks up its last points.
  const wasRunning = running();
  refresh()
    .catch(() => {})
    .finally(() => {
      if (wasRunning) setTimeout(tick, LIVE_MS);
    });
}

// Refreshing starts when the page opens on a RUNNING run.
export function startLive() {
  if (running()) setTimeout(tick, LIVE_MS);
}
