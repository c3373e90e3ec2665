// The series math of the charts workspace (../charts.js has the overview): smoothing
// and the x values of each x axis (which values are drawn, and how NaN and the
// infinities are named and counted, are in ../plots.js, shared with the compare page).
// Functions of their arguments only: no page, no fetch.

// TensorBoard's smoothing: an exponential moving average debiased by the weight of
// the points seen so far, so the line starts at the first value rather than at 0.
// A value that is not drawn (NaN, ±∞) is skipped: it stays null, and the average
// goes on from the values around it.
export function smoothed(values, weight) {
  const out = new Array(values.length);
  let last = 0;
  let seen = 0;
  for (let i = 0; i < values.length; i += 1) {
    const value = values[i];
    if (value === null) {
      out[i] = null;
      continue;
    }
    last = last * weight + (1 - weight) * value;
    seen += 1;
    out[i] = last / (1 - Math.pow(weight, seen));
  }
  return out;
}

// Wall-clock time as plotly's date axis takes it, in UTC: "YYYY-MM-DD HH:MM:SS.sss".
function wallText(ms) {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

// A position on a date axis (plotly answers text in UTC, as given) in milliseconds.
export function wallMs(value) {
  if (typeof value === "number") return value;
  const text = String(value).trim();
  const iso = text.includes(" ") ? text.replace(" ", "T") : text.length <= 10 ? `${text}T00:00:00` : text;
  return Date.parse(`${iso}Z`);
}

const UNITS = [
  { upTo: 120, seconds: 1, name: "s" },
  { upTo: 2 * 3600, seconds: 60, name: "min" },
  { upTo: Infinity, seconds: 3600, name: "h" },
];

// The x values of `points` for the x axis `mode` ("step", "relative" or "wall"), with
// the axis and hover text. `numbers` are the positions as numbers (steps, time units,
// milliseconds), which map a zoomed range back to steps. Relative time counts from
// `startedAt` (milliseconds), or from the first point with a time when that is NaN.
export function xAxisOf(points, mode, startedAt) {
  const steps = points.map((point) => point.step);
  if (mode === "step") {
    return { mode: "step", values: steps, numbers: steps, axis: { title: { text: "step" } }, hover: "step %{x}" };
  }
  const times = points.map((point) => Date.parse(point.timestamp));
  if (mode === "wall") {
    return {
      mode: "wall",
      values: times.map((ms) => (Number.isFinite(ms) ? wallText(ms) : null)),
      numbers: times,
      axis: { title: { text: "wall time (UTC)" }, type: "date" },
      hover: "%{x|%Y-%m-%d %H:%M:%S} UTC · step %{customdata}",
    };
  }
  const origin = Number.isFinite(startedAt) ? startedAt : times.find(Number.isFinite);
  let span = 0;
  for (const ms of times) if (Number.isFinite(ms)) span = Math.max(span, (ms - origin) / 1000);
  const unit = UNITS.find((candidate) => span <= candidate.upTo);
  const numbers = times.map((ms) => (Number.isFinite(ms) ? (ms - origin) / 1000 / unit.seconds : null));
  return {
    mode: "relative",
    values: numbers,
    numbers,
    axis: { title: { text: `time since the run started (${unit.name})` } },
    hover: `%{x:.3~f} ${unit.name} · step %{customdata}`,
  };
}
