/**
 * Wire format between publishers and the core: one ZeroMQ frame per batch,
 *
 *   "LY1\n" then, per event, "<key> <event JSON>\n"
 *
 * A key has no spaces and JSON.stringify never emits a raw newline, so the batch is
 * self-delimiting and the core can route events by slicing, without parsing their JSON.
 */
export const WIRE_MAGIC = 'LY1\n';

export function encodeBatch(lines: readonly string[]): string {
  return WIRE_MAGIC + lines.join('\n') + '\n';
}

/** One event line of a batch (without its newline). */
export function wireLine(key: string, json: string): string {
  return key + ' ' + json;
}

export type MalformedReason = 'bad_batch' | 'bad_key' | 'bad_event';

export interface BatchSink {
  event(key: string, json: string): void;
  malformed(reason: MalformedReason, count: number): void;
}

const KEY_RE = /^[A-Za-z0-9_:-]+(?:\.[A-Za-z0-9_:-]+)*$/;

/**
 * Splits a batch into events. Checks framing, the key and that each event is an object
 * (starts with "{" and ends with "}"); it does not parse the JSON, which is the job of the
 * drains that need fields. A frame without the magic is one malformed batch.
 */
export function decodeBatch(frame: Buffer, sink: BatchSink): number {
  if (frame.length < WIRE_MAGIC.length || frame.toString('latin1', 0, WIRE_MAGIC.length) !== WIRE_MAGIC) {
    sink.malformed('bad_batch', 1);
    return 0;
  }
  const s = frame.toString('utf8', WIRE_MAGIC.length);
  let pos = 0;
  let good = 0;
  let badKey = 0;
  let badEvent = 0;
  const end = s.length;
  while (pos < end) {
    let nl = s.indexOf('\n', pos);
    if (nl < 0) nl = end;
    const sp = s.indexOf(' ', pos);
    if (sp < 0 || sp > nl) {
      if (nl > pos) badEvent++;
    } else {
      const key = s.slice(pos, sp);
      if (key.length > 255 || !KEY_RE.test(key)) badKey++;
      else if (s.charCodeAt(sp + 1) !== 123 /* { */ || s.charCodeAt(nl - 1) !== 125 /* } */) badEvent++;
      else {
        sink.event(key, s.slice(sp + 1, nl));
        good++;
      }
    }
    pos = nl + 1;
  }
  if (badKey) sink.malformed('bad_key', badKey);
  if (badEvent) sink.malformed('bad_event', badEvent);
  return good;
}
