// The compare page: metric overlays drawn as they scroll into view, the "only
// differing" toggle of the parameter table, the chosen metric's bars and the
// parallel-coordinates plot. The data comes from the page (json_script, see
// apps/portal/views/compare.py); histories from the URL pattern the page puts in
// #overlays[data-history-url] (the JSON API with the session, or a share link's own
// endpoint on /s/<token>), with "__run__" standing for the run's id.
//
// Run names, keys and param values are user text: they reach the DOM through
// textContent only, and plotly (which reads HTML-like tags in names, titles and
// tick labels) gets them through escapeHtml().
//
// What this page shares with the run page's charts (escaping, non-finite values, number
// formatting, the history fetch, MAX_POINTS) is in plots.js beside this file. The page
// loads this module with <script type="module">, which runs after the deferred
// plotly.min.js.
import { MAX_POINTS, escapeHtml, fetchHistory, formatNumber, plottable } from "./plots.js";

const dataNode = document.getElementById("compare-data");
if (dataNode) start(JSON.parse(dataNode.textContent));

function start(data) {
  const runs = data.runs;
  const MAX_AXES = 15; // parameter axes in the parallel plot; more is unreadable
  const CONFIG = { responsive: true, displaylogo: false };
  const overlays = document.getElementById("overlays");
  const HISTORY_URL = overlays ? overlays.dataset.historyUrl : "";

  // A run's value of the chosen metric; a run that did not log it says so.
  function shown(value) {
    return formatNumber(value, { missing: "not logged" });
  }

  function hasPlotly() {
    return typeof window.Plotly !== "undefined";
  }

  function say(element, text, className) {
    const p = document.createElement("p");
    p.className = className || "muted";
    p.textContent = text;
    element.replaceChildren(p);
  }

  // ---- metric overlays ---------------------------------------------------
  const withKey = {}; // key -> indexes of the runs that logged it
  for (const key of data.metric_keys) {
    withKey[key] = runs.map((_, i) => i).filter((i) => data.last[key][i] !== null);
  }

  async function history(run, key) {
    const base = HISTORY_URL.replace("__run__", encodeURIComponent(run.id));
    try {
      return await fetchHistory(base, key, { max_points: MAX_POINTS });
    } catch (error) {
      // A chart that fails names the run whose history did not come.
      if (error.status) throw new Error(`${error.status} for run ${run.id}`);
      throw error;
    }
  }

  async function drawOverlay(chart) {
    const key = chart.dataset.key;
    const plot = chart.querySelector(".plot");
    const members = withKey[key] || [];
    plot.setAttribute("aria-busy", "true");
    try {
      const bodies = await Promise.all(members.map((i) => history(runs[i], key)));
      const traces = bodies.map((body, n) => {
        const run = runs[members[n]];
        return {
          type: "scatter",
          mode: "lines",
          x: body.results.map((p) => p.step),
          y: body.results.map((p) => plottable(p.value)),
          name: escapeHtml(run.label),
          line: { color: run.color, width: 1.5 },
        };
      });
      if (!hasPlotly()) throw new Error("plotly.js did not load");
      await Plotly.newPlot(
        plot,
        traces,
        {
          height: 300,
          margin: { l: 50, r: 10, t: 10, b: 40 },
          xaxis: { title: { text: "step" } },
          // The colours are named once, in the list of runs at the top.
          showlegend: false,
        },
        CONFIG,
      );
      plot.classList.add("rendered");
      plot.dataset.traces = String(traces.length);
      if (members.length < runs.length) {
        const note = document.createElement("p");
        note.className = "help";
        note.textContent = `${members.length} of ${runs.length} runs logged this metric.`;
        chart.appendChild(note);
      }
    } catch (error) {
      say(plot, `This chart could not be drawn: ${error.message}`, "error");
    } finally {
      plot.removeAttribute("aria-busy");
    }
  }

  const charts = Array.from(document.querySelectorAll("#overlays .chart[data-key]"));
  if ("IntersectionObserver" in window) {
    const observer = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          if (!entry.isIntersecting) continue;
          observer.unobserve(entry.target);
          drawOverlay(entry.target);
        }
      },
      { rootMargin: "200px 0px" },
    );
    charts.forEach((chart) => observer.observe(chart));
  } else {
    charts.forEach(drawOverlay);
  }

  const keySearch = document.getElementById("key-search");
  const keyCount = document.getElementById("key-count");
  if (keySearch) {
    keySearch.addEventListener("input", () => {
      const needle = keySearch.value.trim().toLowerCase();
      let visible = 0;
      for (const chart of charts) {
        const match = !needle || chart.dataset.key.toLowerCase().includes(needle);
        chart.hidden = !match;
        if (match) visible += 1;
      }
      keyCount.textContent = needle
        ? `${visible} of ${charts.length} metric keys match.`
        : `${charts.length} metric keys.`;
    });
  }

  // ---- parameter table ---------------------------------------------------
  const onlyDiffering = document.getElementById("only-differing");
  const paramTable = document.getElementById("param-diff");
  if (onlyDiffering && paramTable) {
    const apply = () => paramTable.classList.toggle("only-differing", onlyDiffering.checked);
    onlyDiffering.addEventListener("change", apply);
    apply(); // the browser may restore the box checked
  }

  // ---- the chosen metric: bars and parallel coordinates ------------------
  const choice = document.getElementById("metric-choice");
  const bars = document.getElementById("summary-bars");
  const parallel = document.getElementById("parallel");
  const parallelNote = document.getElementById("parallel-note");

  function drawBars(key) {
    const values = data.last[key];
    Plotly.react(
      bars,
      [
        {
          type: "bar",
          x: runs.map((run) => escapeHtml(run.label)),
          y: values.map(plottable),
          marker: { color: runs.map((run) => run.color) },
          hovertext: runs.map((run, i) => `${escapeHtml(run.label)}: ${escapeHtml(shown(values[i]))}`),
          hoverinfo: "text",
        },
      ],
      {
        height: 340,
        margin: { l: 60, r: 10, t: 10, b: 90 },
        xaxis: { type: "category", automargin: true },
        yaxis: { title: { text: escapeHtml(key) }, automargin: true },
      },
      CONFIG,
    ).then(() => {
      bars.classList.add("rendered");
      bars.dataset.traces = "1";
    });
  }

  function categorical(values) {
    const labels = values.map((v) => (v === null ? "—" : v));
    const distinct = Array.from(new Set(labels)).sort((a, b) =>
      a.localeCompare(b, undefined, { numeric: true }),
    );
    const index = new Map(distinct.map((label, i) => [label, i]));
    return {
      values: labels.map((label) => index.get(label)),
      tickvals: distinct.map((_, i) => i),
      // Parcoords draws tick labels as plain text (d3), unlike its axis labels.
      ticktext: distinct.map((label) => (label.length > 30 ? `${label.slice(0, 29)}…` : label)),
    };
  }

  // The parallel plot's labels stay level and apart: no more axes than the width holds
  // with MIN_AXIS_GAP between them, and each label cut (in the middle, keeping its end,
  // which tells similar keys apart) to what fits in a gap. The full keys are in the
  // parameter table below.
  const SIDE_MARGIN = 90; // px left and right, for half of the outer axes' labels
  const MIN_AXIS_GAP = 90; // px: a label of about 11 characters
  const CHAR_WIDTH = 7.5; // px of a 12 px label character, rounded up
  const MAX_LABEL = Math.floor((2 * SIDE_MARGIN) / CHAR_WIDTH);

  function axesThatFit() {
    const width = Math.max(parallel.clientWidth - 2 * SIDE_MARGIN, 0);
    return Math.max(2, Math.floor(width / MIN_AXIS_GAP) + 1);
  }

  function axisLabel(text, room) {
    if (text.length <= room) return text;
    const tail = Math.ceil((room - 1) * 0.6);
    return `${text.slice(0, room - 1 - tail)}…${text.slice(-tail)}`;
  }

  // Labels for keys that may share a long start and end ("opt.warmup_0_steps",
  // "opt.warmup_1_steps"): a key too long for ``room`` keeps the part that differs from
  // the others and as much around it as fits, with "…" where it was cut.
  function axisLabels(keys, room) {
    if (keys.length < 2) return keys.map((text) => axisLabel(text, room));
    let prefix = 0;
    while (keys.every((k) => k.length > prefix && k[prefix] === keys[0][prefix])) prefix += 1;
    let suffix = 0;
    const fits = (k) => k.length - suffix - 1 > prefix;
    while (keys.every((k) => fits(k) && k.at(-1 - suffix) === keys[0].at(-1 - suffix))) {
      suffix += 1;
    }
    return keys.map((text) => {
      if (text.length <= room) return text;
      let start = Math.min(prefix, text.length - 1);
      let end = Math.max(text.length - suffix, start + 1);
      if (end - start > room - 2) {
        return start > 0
          ? `…${axisLabel(text.slice(start), room - 1)}`
          : axisLabel(text, room);
      }
      // Grow the window left and right in turn until it fills the room.
      while (end - start < room - 2) {
        if (start > 0) start -= 1;
        if (end - start < room - 2 && end < text.length) end += 1;
        if (start === 0 && end === text.length) break;
      }
      return `${start > 0 ? "…" : ""}${text.slice(start, end)}${end < text.length ? "…" : ""}`;
    });
  }

  function drawParallel(key) {
    const metric = key ? data.last[key].map(plottable) : null;
    // A run without a finite value of the metric has no place on its axis.
    const kept = runs.map((_, i) => i).filter((i) => !metric || metric[i] !== null);
    const notes = [];
    if (metric && kept.length < runs.length) {
      notes.push(`${runs.length - kept.length} run(s) without a finite ${key} are left out.`);
    }
    const withMetric = Boolean(metric && kept.length);
    const fit = Math.max(1, Math.min(MAX_AXES, axesThatFit() - (withMetric ? 1 : 0)));
    const params = data.differing_params.slice(0, fit);
    if (data.differing_params.length > params.length) {
      const wider = params.length < MAX_AXES ? " (a wider window shows more)" : "";
      notes.push(
        `Showing the first ${params.length} of ${data.differing_params.length} differing parameters${wider}.`,
      );
    }
    if (!data.differing_params.length) notes.push("No parameter differs between these runs.");
    const axes = params.length + (withMetric ? 1 : 0);
    const gap = (parallel.clientWidth - 2 * SIDE_MARGIN) / Math.max(axes - 1, 1);
    const room = Math.max(6, Math.min(MAX_LABEL, Math.floor(gap / CHAR_WIDTH) - 1));
    const labels = axisLabels(
      params.map((param) => param.key),
      room,
    );
    const dimensions = params.map((param, n) => {
      const label = escapeHtml(labels[n]);
      if (param.numbers) return { label, values: kept.map((i) => param.numbers[i]) };
      return { label, ...categorical(kept.map((i) => param.values[i])) };
    });
    if (withMetric) {
      dimensions.push({ label: escapeHtml(axisLabel(key, room)), values: kept.map((i) => metric[i]) });
    }
    // Each line in its run's colour, as in the list of runs, the bars and the overlays:
    // the value is the run's index, and the colour scale has one stop per run.
    const last = Math.max(runs.length - 1, 1);
    const line = {
      color: kept,
      cmin: 0,
      cmax: last,
      colorscale: runs.length > 1
        ? runs.map((run, i) => [i / last, run.color])
        : [[0, runs[0].color], [1, runs[0].color]],
      showscale: false,
    };
    parallelNote.textContent = notes.join(" ");
    if (!dimensions.length || !kept.length) {
      parallel.classList.remove("rendered");
      Plotly.purge(parallel);
      say(parallel, "Nothing to plot: the runs share every parameter and have no metric.");
      return;
    }
    if (!parallel.querySelector(".plot-container")) parallel.replaceChildren();
    Plotly.react(
      parallel,
      [
        {
          type: "parcoords",
          line,
          dimensions,
          labelfont: { size: 12, color: "#1d2330" },
          tickfont: { size: 11, color: "#1d2330" },
          rangefont: { size: 10, color: "#5b6475" },
        },
      ],
      { height: 360, margin: { l: SIDE_MARGIN, r: SIDE_MARGIN, t: 50, b: 20 } },
      CONFIG,
    ).then(
      () => parallel.classList.add("rendered"),
      (error) => say(parallel, `The plot could not be drawn: ${error.message}`, "error"),
    );
  }

  function drawChosen() {
    const key = choice ? choice.value : null;
    if (!hasPlotly()) {
      say(bars, "The charts could not load (plotly.js is missing).", "error");
      return;
    }
    if (key) drawBars(key);
    drawParallel(key);
  }

  if (choice) choice.addEventListener("change", drawChosen);
  if (bars && parallel) {
    drawChosen();
    // How many axes fit, and how long their labels may be, follows the plot's width.
    let resizing = null;
    let drawnWidth = parallel.clientWidth;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => {
        if (parallel.clientWidth === drawnWidth || !hasPlotly()) return;
        drawnWidth = parallel.clientWidth;
        drawParallel(choice ? choice.value : null);
      }, 200);
    });
  }
}
