// What the portal's two chart scripts share: charts.js (the run page's charts workspace,
// with its parts in charts/) and compare.js (the compare page). One definition each of
// escaping user text for plotly, the values that cannot be drawn (NaN and the
// infinities), how a metric value is written, fetching a metric's history, and how many
// points a downsampled history has. Both pages load their script with
// <script type="module">, which imports this one (the CSP allows scripts from the site
// only: no inline script, no eval).

// How many points a downsampled history has (the server keeps each bucket's min and max).
export const MAX_POINTS = 1000;

// Escaping ----------------------------------------------------------------------------

// Numeric entities for the quotes: plotly decodes numeric entities in names, titles and
// axis labels, but of the named ones only &amp; &lt; &gt; (and a few symbols), so a
// &quot; would be shown as written.
const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" };

// `text` (user text: a metric key, a run's name, a parameter's value) as plotly shows it
// as written: plotly reads HTML-like tags in the names, titles and tick labels it draws.
// Text for the DOM goes through textContent instead.
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

// Values that cannot be drawn ---------------------------------------------------------

// The API sends NaN and the infinities as the strings "NaN", "Infinity", "-Infinity":
// they are not drawn as values. The value to draw, or null for none (a gap).
export function plottable(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

// "nan", "pos" or "neg" for a value that is not a finite number, else null.
export function nonFiniteKind(value) {
  if (typeof value === "number") {
    if (Number.isFinite(value)) return null;
    if (Number.isNaN(value)) return "nan";
    return value > 0 ? "pos" : "neg";
  }
  if (value === "Infinity") return "pos";
  if (value === "-Infinity") return "neg";
  return "nan";
}

const KIND_TEXT = { nan: "NaN", pos: "+∞", neg: "-∞" };
export const KIND_HOVER = { nan: "NaN", pos: "+Infinity", neg: "-Infinity" };

// `counts` ({nan, pos, neg}: how many of each) as text, "3 NaN, 1 +∞"; kinds with none
// are left out.
export function countsText(counts) {
  return ["nan", "pos", "neg"]
    .filter((kind) => counts[kind])
    .map((kind) => `${counts[kind].toLocaleString()} ${KIND_TEXT[kind]}`)
    .join(", ");
}

// Numbers -----------------------------------------------------------------------------

// A metric value as the pages write it: a number to 6 significant digits without
// trailing zeros, anything else (the API's "NaN", "Infinity", "-Infinity") as given, and
// `missing` for no value at all (null or undefined).
export function formatNumber(value, { missing = "NaN" } = {}) {
  if (value === null || value === undefined) return missing;
  if (typeof value !== "number") return String(value);
  return String(Number(value.toPrecision(6)));
}

// Metric history ----------------------------------------------------------------------

// The JSON body of a GET of `url` with the session. An answer that is not 2xx throws an
// Error whose message is the API's error message (else "HTTP <status>") and whose
// `status` is the HTTP status.
export async function getJson(url) {
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
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

// The URL of `key`'s history at `base` (a run's history endpoint) with the query
// `params` (page_size, after_step, min_step, max_step, max_points); those null or
// undefined are left out.
export function historyUrl(base, key, params = {}) {
  const query = new URLSearchParams({ key });
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) query.set(name, String(value));
  }
  return `${base}?${query}`;
}

// One page of `key`'s history at `base` (see historyUrl), as the API answers it:
// {results: [{step, value, timestamp}], next, downsampled, total, ...}. Throws as getJson.
export function fetchHistory(base, key, params = {}) {
  return getJson(historyUrl(base, key, params));
}
