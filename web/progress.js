/* progress.js: how far a run of the classify queue has come, in words: done of
   total and the time left, estimated as the CLI's predict estimates it, and
   what a CSV taken mid-run holds. Pure functions: queue.js shows them. */

// Seconds left, as the CLI's estimate (apps/cli/output.c, progress_count): the
// time spent over the images done, times the images left. done may count a
// part of the image under way; NaN before anything is done.
export function secondsLeft(spentSeconds, done, total) {
  return done > 0 ? (spentSeconds * (total - done)) / done : NaN;
}

// "about 40 s left", "about 3 min left", "about 1 h 05 min left".
export function timeLeftText(seconds) {
  if (!Number.isFinite(seconds)) return "estimating the time left…";
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `about ${s} s left`;
  if (s < 3600) return `about ${Math.round(s / 60)} min left`;
  return `about ${Math.floor(s / 3600)} h ${String(Math.floor(s / 60) % 60).padStart(2, "0")} min left`;
}

// The progress line of a run: the image under way (fraction of it done), its
// place among those of the run, and the time left.
export function progressText(name, done, fraction, total, spentSeconds) {
  return `Classifying ${name} (${done + 1} of ${total}) · ` +
    timeLeftText(secondsLeft(spentSeconds, done + fraction, total));
}

// Where the images stand: classified, failed (or stopped), still to come.
export function tally(items) {
  let done = 0, failed = 0;
  for (const item of items) {
    if (item.result) done++;
    else if (item.error) failed++;
  }
  return { done, failed, running: items.length - done - failed, total: items.length };
}

// What a CSV taken now holds, when it is not every image: "289 of 300 images;
// 11 still running"; "" once nothing is left to run.
export function partialText({ done, failed, running, total }) {
  if (!running) return "";
  return `${done} of ${total} images; ${running} still running` +
    (failed ? `; ${failed} could not be classified` : "");
}
