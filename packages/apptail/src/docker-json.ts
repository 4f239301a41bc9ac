/**
 * Docker's json-file log driver: one JSON record a line, `{"log":"...","stream":"stdout","time":"..."}`.
 * Docker cuts an output line longer than 16 KiB into several records; all but the last have no
 * `\n` at the end of `log` (partial records). A container's last output without a newline is
 * such a record too, with nothing after it.
 */

/** A record is parsed whole: Docker's 16 KiB of `log`, escaped up to 6 times, fits well. */
export const DOCKER_RECORD_MAX_BYTES = 256 * 1024;

export interface DockerRecord {
  log: string;
  stream?: string;
  unixTime?: number;
}

/** A docker json-file record, or null when the line is not one. */
export function parseDockerLine(line: string): DockerRecord | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || typeof (v as { log?: unknown }).log !== 'string') return null;
  const rec = v as { log: string; stream?: unknown; time?: unknown };
  const out: DockerRecord = { log: rec.log };
  if (typeof rec.stream === 'string' && rec.stream !== '') out.stream = rec.stream;
  if (typeof rec.time === 'string') {
    const ms = Date.parse(rec.time);
    if (Number.isFinite(ms)) out.unixTime = ms / 1000;
  }
  return out;
}

/** A whole line, as the container wrote it, with the stream it wrote it to. */
export interface DockerLine {
  text: string;
  /** Docker's `stream`, if the record had one. */
  stream: string | undefined;
  /** The time of the line's first record. */
  unixTime: number | undefined;
}

interface Held {
  parts: string[];
  length: number;
  stream: string | undefined;
  unixTime: number | undefined;
  /** Who read the first part, and where in its file it starts. */
  owner: object;
  offset: number;
  /** When the last part came (ms). */
  at: number;
}

/**
 * Joins Docker's partial records back into lines, per `stream`: a stderr line written between
 * two parts of a long stdout line stays apart from it. One joiner serves a log file and the files
 * it was rotated into (a line's parts may straddle a rotation). A part that waits longer than the
 * quiet time is let out as it is (a last line without newline); so is a line that reaches
 * `maxJoined` characters before its end comes.
 */
export class DockerLineJoiner {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly emit: (line: DockerLine) => void,
    private readonly maxJoined: number,
  ) {}

  /** One record, read by `owner` at `offset` of its file. */
  record(rec: DockerRecord, owner: object, offset: number): void {
    const streamKey = rec.stream ?? '';
    const held = this.held.get(streamKey);
    if (rec.log.endsWith('\n')) {
      const end = rec.log.endsWith('\r\n') ? -2 : -1;
      if (!held) {
        this.emit({ text: rec.log.slice(0, end), stream: rec.stream, unixTime: rec.unixTime });
        return;
      }
      this.held.delete(streamKey);
      held.parts.push(rec.log.slice(0, end));
      this.emit({ text: held.parts.join(''), stream: held.stream, unixTime: held.unixTime });
      return;
    }
    if (rec.log === '') return;
    if (held) {
      held.parts.push(rec.log);
      held.length += rec.log.length;
      held.at = Date.now();
      if (held.length >= this.maxJoined) this.flush(streamKey, held);
      return;
    }
    const fresh: Held = { parts: [rec.log], length: rec.log.length, stream: rec.stream, unixTime: rec.unixTime, owner, offset, at: Date.now() };
    this.held.set(streamKey, fresh);
    if (fresh.length >= this.maxJoined) this.flush(streamKey, fresh);
  }

  /** The offset of the first part `owner` read that is still held, if any. */
  heldFrom(owner: object): number | undefined {
    let from: number | undefined;
    for (const h of this.held.values()) {
      if (h.owner === owner && (from === undefined || h.offset < from)) from = h.offset;
    }
    return from;
  }

  /** Lets out the parts that have waited `quietMs` for the rest of their line. */
  flushQuiet(quietMs: number, now = Date.now()): void {
    for (const [streamKey, h] of this.held) if (now - h.at >= quietMs) this.flush(streamKey, h);
  }

  flushAll(): void {
    for (const [streamKey, h] of this.held) this.flush(streamKey, h);
  }

  private flush(streamKey: string, h: Held): void {
    this.held.delete(streamKey);
    this.emit({ text: h.parts.join(''), stream: h.stream, unixTime: h.unixTime });
  }
}
