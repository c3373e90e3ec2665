// The run page's charts: one plotly chart per metric key, drawn only when it scrolls
// into view (a run may have 1,000 keys), downsampled by the server keeping each
// bucket's min and max, with a full-resolution toggle, zoom that fetches the range,
// a key search, and live refresh while the run is RUNNING.
//
// DOM contract (the browser tests rely on it): #charts > details.chart-group[data-prefix]
// > .chart[data-key] > .plot; once drawn, .plot gets class "rendered" and
// data-traces="N". Metric keys are user text: they reach the page through textContent
// and plotly through escapeHtml, never as markup.
(function () {
  "use strict";
  const section = document.getElementById("charts");
  if (!section || typeof Plotly === "undefined") return;

  const METRICS_URL = section.dataset.metricsUrl;
  const HISTORY_URL = section.dataset.historyUrl;
  const MAX_POINTS = 1000; // a downsampled chart
  const PAGE_SIZE = 10000; // the API's largest page
  const FULL_CAP = 200000; // "Full resolution" up to this many points per chart
  const ZOOM_FULL_CAP = 20000; // a zoomed range at full resolution up to this many
  const RELOAD_AFTER = 5 * MAX_POINTS; // live points appended before downsampling again
  const LIVE_MS = 5000;
  const CONCURRENCY = 4;

  const groupsBox = document.getElementById("chart-groups");
  const fullToggle = document.getElementById("full-resolution");
  const search = document.getElementById("key-search");
  const searchCount = document.getElementById("key-search-count");
  const charts = new Map(); // key -> state

  function escapeHtml(text) {
    const map = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
    return String(text).replace(/[&<>"']/g, (c) => map[c]);
  }

  // The API sends NaN and the infinities as strings: they become gaps.
  function plottable(value) {
    return typeof value === "number" && Number.isFinite(value) ? value : null;
  }

  function formatNumber(value) {
    if (typeof value !== "number") return value === null || value === undefined ? "NaN" : String(value);
    return String(Number.parseFloat(value.toPrecision(6)));
  }

  async function getJson(url) {
    const response = await fetch(url, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) {
      let message = `HTTP ${response.status}`;
      try {
        const body = await response.json();
        if (body && body.error && body.error.message) message = body.error.message;
      } catch (_) {
        // not JSON: keep the status
      }
      throw new Error(message);
    }
    return response.json();
  }

  function historyUrl(key, params) {
    const query = new URLSearchParams({ key });
    for (const [name, value] of Object.entries(params)) {
      if (value !== undefined && value !== null) query.set(name, String(value));
    }
    return `${HISTORY_URL}?${query}`;
  }

  function bounds(range) {
    return range ? { min_step: range[0], max_step: range[1] } : {};
  }

  // The points of `key` in `range` (the whole run when null): every point when there
  // are at most `cap` of them, otherwise MAX_POINTS downsampled (cap 0: always).
  async function fetchSeries(key, range, cap) {
    let first = null;
    if (cap) {
      first = await getJson(historyUrl(key, { page_size: PAGE_SIZE, ...bounds(range) }));
      if (!first.next) return { points: first.results, downsampled: false, total: first.results.length };
    }
    const sampled = await getJson(historyUrl(key, { max_points: MAX_POINTS, ...bounds(range) }));
    if (!sampled.downsampled || !cap || sampled.total > cap) {
      return {
        points: sampled.results,
        downsampled: sampled.downsampled,
        total: sampled.total,
        capped: Boolean(cap) && sampled.total > cap,
      };
    }
    const points = first.results.slice();
    let after = points[points.length - 1].step;
    for (;;) {
      const page = await getJson(
        historyUrl(key, { page_size: PAGE_SIZE, after_step: after, ...bounds(range) }),
      );
      for (const point of page.results) points.push(point);
      if (!page.next || !page.results.length) break;
      after = page.results[page.results.length - 1].step;
    }
    return { points, downsampled: false, total: points.length };
  }

  function capFor(state) {
    if (fullToggle && fullToggle.checked) return FULL_CAP;
    return state.range ? ZOOM_FULL_CAP : 0;
  }

  function setNote(state, text) {
    let note = state.el.querySelector(".chart-note");
    if (!text) {
      if (note) note.remove();
      return;
    }
    if (!note) {
      note = document.createElement("p");
      note.className = "chart-note muted";
      state.el.insertBefore(note, state.plot);
    }
    note.textContent = text;
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

  // state.version counts the changes of what a chart should show (zoom, reset,
  // toggle, too many live points); state.drawn is the version on screen.
  function outdated(state) {
    return state.drawn !== state.version;
  }

  function invalidate(state) {
    state.version += 1;
    state.failed = false;
  }

  async function load(state) {
    state.loading = true;
    const version = state.version;
    const range = state.range;
    try {
      const series = await fetchSeries(state.key, range, capFor(state));
      if (state.version !== version) return; // changed meanwhile: the next load draws
      await draw(state, series);
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

  async function draw(state, series) {
    const x = [];
    const y = [];
    for (const point of series.points) {
      x.push(point.step);
      y.push(plottable(point.value));
    }
    state.lastStep = x.length ? x[x.length - 1] : null;
    state.pointCount = x.length;
    state.downsampled = series.downsampled || Boolean(series.capped);
    const trace = {
      x,
      y,
      type: "scatter",
      mode: x.length === 1 ? "markers" : "lines",
      name: escapeHtml(state.key),
      line: { width: 1.5 },
      hovertemplate: "step %{x}<br>%{y}<extra></extra>",
    };
    const xaxis = { title: { text: "step" }, zeroline: false };
    if (state.range) Object.assign(xaxis, { range: state.range.slice(), autorange: false });
    const layout = {
      height: 240,
      margin: { l: 56, r: 12, t: 8, b: 40 },
      showlegend: false,
      hovermode: "closest",
      xaxis,
      yaxis: { automargin: true, zeroline: false },
    };
    const config = {
      responsive: true,
      displaylogo: false,
      modeBarButtonsToRemove: ["select2d", "lasso2d"],
    };
    state.busy = true;
    try {
      await Plotly.react(state.plot, [trace], layout, config);
    } finally {
      state.busy = false;
    }
    if (!state.listening) {
      state.plot.on("plotly_relayout", (event) => onRelayout(state, event));
      state.listening = true;
    }
    state.loaded = true;
    state.plot.classList.add("rendered");
    state.plot.dataset.traces = String(state.plot.data.length);
  }

  // Zoom fetches the range (at full resolution when it is small enough); a
  // double-click (autorange) goes back to the whole run.
  function onRelayout(state, event) {
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
    const lo = Math.floor(Number(range[0]));
    const hi = Math.ceil(Number(range[1]));
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi < lo) return;
    state.range = [lo, hi];
    invalidate(state);
    schedule(state, true);
  }

  // A few charts load at a time, those on screen first; one scrolled away before its
  // turn waits until it is back.
  const queue = [];
  let active = 0;

  function schedule(state, first) {
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

  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        const state = charts.get(entry.target.dataset.key);
        if (!state) continue;
        state.visible = entry.isIntersecting;
        if (!state.visible) continue;
        state.failed = false; // back on screen: try again
        if (outdated(state)) schedule(state, false);
      }
    },
    { rootMargin: "300px 0px" },
  );

  function register(el) {
    const state = {
      key: el.dataset.key,
      el,
      plot: el.querySelector(".plot"),
      range: null,
      visible: false,
      loaded: false,
      loading: false,
      failed: false,
      version: 0,
      drawn: -1,
      queued: false,
      lastStep: null,
      pointCount: 0,
    };
    charts.set(state.key, state);
    observer.observe(el);
    return state;
  }

  section.querySelectorAll(".chart[data-key]").forEach(register);

  if (fullToggle) {
    fullToggle.addEventListener("change", () => {
      for (const state of charts.values()) {
        if (!state.loaded && !state.failed) continue;
        invalidate(state);
        if (state.visible) schedule(state, false);
      }
    });
  }

  // The key search only hides and shows charts: nothing is fetched until a chart
  // that matches scrolls into view.
  function applySearch() {
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

  if (search) {
    let timer = null;
    search.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(applySearch, 120);
    });
  }

  // Live refresh: while the status badge says RUNNING, every LIVE_MS ask for every
  // key's summary; add charts for new keys, and extend drawn charts whose last step
  // moved on.
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
    const body = await getJson(
      historyUrl(state.key, { page_size: PAGE_SIZE, after_step: state.lastStep }),
    );
    if (!body.results.length || state.loading || state.version !== version) return;
    const x = body.results.map((point) => point.step);
    const y = body.results.map((point) => plottable(point.value));
    Plotly.extendTraces(state.plot, { x: [x], y: [y] }, [0]);
    state.lastStep = x[x.length - 1];
    state.pointCount += x.length;
    if (body.next) {
      // More than a page arrived at once: draw it again from the server.
      invalidate(state);
      if (state.visible) schedule(state, false);
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

  if (running()) setTimeout(tick, LIVE_MS);
})();
