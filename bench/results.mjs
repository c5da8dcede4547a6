// results.mjs — every figure a bench section prints is also recorded as one
// JSON line {name, value, unit, goal, baseline, ratio} appended to the file
// named by $BENCH_RESULTS (run.sh merges them into bench/results.json). Without
// $BENCH_RESULTS, record() does nothing, so a section runs on its own too.
//   name      section.figure, e.g. "create.about_blank.p50"
//   value     the figure (a number; null when it could not be measured)
//   unit      "ms", "MiB", "%", "sessions/s", …
//   goal      the goal as text ("<= 1.10 x baseline", ">= 2"), or null
//   baseline  the baseline measured in the same run, or null
//   ratio     value / baseline (computed when a baseline is given), or null
import fs from 'node:fs';

const round = (x) => (typeof x === 'number' && Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x ?? null);

export function record(name, value, unit, { goal = null, baseline = null, ratio } = {}) {
  const file = process.env.BENCH_RESULTS;
  if (!file) return;
  if (ratio === undefined) ratio = typeof baseline === 'number' && baseline && typeof value === 'number' ? value / baseline : null;
  const e = { name, value: round(value), unit, goal, baseline: round(baseline), ratio: round(ratio) };
  fs.appendFileSync(file, `${JSON.stringify(e)}\n`);
}
