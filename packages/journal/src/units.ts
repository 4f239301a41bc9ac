import picomatch from 'picomatch';

/** Whether an entry of this stream and unit is read; null when every entry is. */
export type UnitFilter = ((stream: string, unit: string | undefined) => boolean) | null;

/**
 * The filter of `journal.units`: each glob is tried on the entry's unit (`nginx.service`) and on
 * its stream name (`nginx`, a container's name, an identifier such as `kernel`), so `nginx`,
 * `nginx.service` and `nginx*` all select nginx's entries, `docker.service` every container's,
 * and `web-*` the containers named so. A `*` alone reads everything, the entries without any unit too.
 */
export function unitFilter(globs: readonly string[]): UnitFilter {
  if (globs.includes('*')) return null;
  const matchers = globs.map((g) => picomatch(g));
  return (stream, unit) => matchers.some((m) => m(stream) || (unit !== undefined && m(unit)));
}
