// Fetching a metric's history for the charts workspace (../charts.js has the
// overview): every point, page by page, or the points downsampled by the server
// (each bucket's min and max kept), of the whole run or of a range of steps.

import { HISTORY_URL } from "./state.js";
import { MAX_POINTS, fetchHistory } from "../plots.js";

export const PAGE_SIZE = 10000; // the API's largest page
export const FULL_CAP = 200000; // "Full resolution" up to this many points per chart
export const ZOOM_FULL_CAP = 20000; // a zoomed range at full resolution up to this many

// One page of this run's history of `key` (see fetchHistory in ../plots.js).
export function history(key, params) {
  return fetchHistory(HISTORY_URL, key, params);
}

function bounds(range) {
  return range ? { min_step: range[0], max_step: range[1] } : {};
}

// Every point of `key` in `range` (all of them when null), page after page, from
// the first page's answer `first` (fetched here when not given).
export async function fetchAll(key, range, first) {
  const head = first || (await history(key, { page_size: PAGE_SIZE, ...bounds(range) }));
  const points = head.results.slice();
  let page = head;
  while (page.next && page.results.length) {
    const after = page.results[page.results.length - 1].step;
    page = await history(key, { page_size: PAGE_SIZE, after_step: after, ...bounds(range) });
    for (const point of page.results) points.push(point);
  }
  return points;
}

// The points of `key` in `range` (the whole run when null): every point when there
// are at most `cap` of them, otherwise MAX_POINTS downsampled (cap 0: always).
export async function fetchSeries(key, range, cap) {
  let first = null;
  if (cap) {
    first = await history(key, { page_size: PAGE_SIZE, ...bounds(range) });
    if (!first.next) return { points: first.results, downsampled: false, total: first.results.length };
  }
  const sampled = await history(key, { max_points: MAX_POINTS, ...bounds(range) });
  if (!sampled.downsampled || !cap || sampled.total > cap) {
    return {
      points: sampled.results,
      downsampled: sampled.downsampled,
      total: sampled.total,
      capped: Boolean(cap) && sampled.total > cap,
    };
  }
  const points = await fetchAll(key, range, first);
  return { points, downsampled: false, total: points.length };
}
