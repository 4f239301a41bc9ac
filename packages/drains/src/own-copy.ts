/** V8 copies slices shorter than this; longer ones are views into the string they came from. */
const MIN_SLICED_LENGTH = 13;

/**
 * A string with storage of its own. The core hands drains each event as a slice of its decoded
 * batch (bus decodeBatch), and V8 makes such a slice a view that keeps the whole batch string
 * alive: a slow drain holding 10,000 events of 50-event batches held 138 MiB instead of 4 MiB
 * (scripts/drain-heap.mjs). Concatenating makes a new string, which slicing flattens into new
 * storage of its own; the batch can then die young. Whatever keeps a piece of a batch for long
 * (a drain's buffer, the core's routing cache) keeps it through this.
 */
export function ownCopy(text: string): string {
  return text.length < MIN_SLICED_LENGTH ? text : (' ' + text).slice(1);
}
