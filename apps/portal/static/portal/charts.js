// The run page's charts workspace: one plotly chart per metric key, drawn only when it
// scrolls into view (a run may have 1,000 keys), downsampled by the server keeping each
// bucket's min and max, with a full-resolution toggle, zoom that fetches the range, a
// key search, and live refresh while the run is RUNNING.
//
// Controls for every chart (remembered in localStorage, see charts/state.js): smoothing (a
// debiased exponential moving average, as TensorBoard draws it, with the raw line kept
// faint), the x axis (step, time since the run started, wall-clock time in UTC) and the
// chart size. Controls of each chart: a logarithmic y axis (remembered per metric key),
// hide/show each series (its legend), the data as CSV (every point, fetched page by
// page) and the chart as PNG. NaN and ±Infinity cannot be drawn: each is marked at the
// chart's edge (+∞ and NaN at the top, -∞ at the bottom) and counted in the legend; a
// chart whose points are all non-finite says so instead of drawing empty axes.
//
// DOM contract (the browser tests rely on it): #charts[data-size] >
// details.chart-group[data-prefix] > .charts > .chart[data-key] > h4, .chart-actions
// (button.log-y[aria-pressed], button.csv, button.png), .chart-facts, .chart-legend
// (button.series[data-series="raw"|"smoothed"|"nonfinite"][aria-pressed]), .plot.
// Once drawn, .plot gets class "rendered" and data-traces="N": trace 0 is the raw line,
// then the smoothed line when smoothing is on, then the non-finite markers when there
// are any. A chart with only non-finite points has no plot: its .plot is "rendered"
// with data-traces="0" and holds a p.chart-empty saying so. Metric keys are user text: they reach the page
// through textContent and plotly through escapeHtml (plots.js), never as markup.
//
// What this page shares with the compare page (escaping, non-finite values, number
// formatting, the history fetch, MAX_POINTS) is in plots.js beside this file. The parts,
// one concept each, are the modules in charts/: state.js
// (the run's facts, the chart states, the settings remembered), series.js (smoothing,
// the x axes), data.js (history fetches and paging), draw.js
// (plotly traces, legends, notes), loading.js (lazy loading, zoom, resizing),
// controls.js (each chart's buttons), toolbar.js (the controls of every chart, the key
// search) and live.js (live refresh). This entry module starts them; the pages load it
// with <script type="module">, which runs after the deferred plotly.min.js.
import { readSettings, section } from "./charts/state.js";
import { register } from "./charts/controls.js";
import { bindToolbar, showSettings } from "./charts/toolbar.js";
import { startLive } from "./charts/live.js";

if (section && typeof Plotly !== "undefined") {
  readSettings();
  showSettings();
  section.querySelectorAll(".chart[data-key]").forEach(register);
  bindToolbar();
  startLive();
}
