import { NOTICE_KEY } from '@logyard/bus';
import { compileFormat, parseEventObject, type Formatter } from '@logyard/drains';
import { usageError } from '../errors.js';

/** How `tail` and `recent` print an event. */
export interface PrintOptions {
  /** The event JSON alone. */
  json?: boolean;
  /** `<key> <event JSON>`. */
  raw?: boolean;
  /** A named format or an inline template for every event. */
  format?: string;
  /** Named formats of config and store. */
  formats: Record<string, string>;
  /** Only events whose node_id is this. */
  nodeId?: string;
  /** ERROR red, WARN yellow (a terminal without --no-color). */
  color: boolean;
}

/** One event to its output line ('\n' included), or null when it is filtered out. */
export type EventPrinter = (key: string, json: string) => string | null;

const RED = '\x1b[31m';
const YELLOW = '\x1b[33m';
const RESET = '\x1b[0m';
/** Streams that have a default format of their own (docs/drains.md): by the key's first segment. */
const STREAM_FORMATS: Record<string, string> = { systail: 'systail', apptail: 'apptail', event: 'event' };

/**
 * Builds the printer once: formats are compiled up front, so that a bad `--format` is a usage
 * error before anything is started, and events are only parsed when something needs a field.
 */
export function eventPrinter(options: PrintOptions): EventPrinter {
  const chosen = [options.json && '--json', options.raw && '--raw', options.format !== undefined && '--format'].filter(Boolean);
  if (chosen.length > 1) throw usageError(`${chosen.join(' and ')} exclude each other`);
  const format = compileOrUsage(options.format, options.formats);
  const perStream = new Map<string, Formatter>();
  for (const [stream, name] of Object.entries(STREAM_FORMATS)) {
    perStream.set(stream, compileFormat(name, options.formats));
  }
  const notice = compileFormat('{{text}}', {});
  const unknownStream = compileFormat('raw', {});

  const render = (key: string, json: string): string => {
    if (options.raw) return key + ' ' + json + '\n';
    if (options.json) return json + '\n';
    if (format) return format(key, json);
    if (key === NOTICE_KEY) return notice(key, json);
    const dot = key.indexOf('.');
    return (perStream.get(dot < 0 ? key : key.slice(0, dot)) ?? unknownStream)(key, json);
  };
  const needsEvent = options.nodeId !== undefined || options.color;
  if (!needsEvent) return render;

  return (key, json) => {
    const event = parseEventObject(json);
    if (options.nodeId !== undefined && event?.node_id !== options.nodeId) return null;
    const line = render(key, json);
    if (!options.color) return line;
    const level = key === NOTICE_KEY ? 'WARN' : levelOf(event);
    if (level === 'ERROR') return RED + line.slice(0, -1) + RESET + '\n';
    if (level === 'WARN') return YELLOW + line.slice(0, -1) + RESET + '\n';
    return line;
  };
}

function compileOrUsage(format: string | undefined, formats: Record<string, string>): Formatter | null {
  if (format === undefined) return null;
  try {
    return compileFormat(format, formats);
  } catch (err) {
    throw usageError(`--format: ${(err as Error).message.replace(/^drain URI: /, '')}`);
  }
}

/** The event's level: its severity field (events, syslog) or, failing that, a word of its text. */
function levelOf(event: Record<string, unknown> | undefined): 'ERROR' | 'WARN' | null {
  if (!event) return null;
  const syslog = event.syslog as Record<string, unknown> | undefined;
  const severity = String(event.severity ?? syslog?.severity ?? '').toUpperCase();
  if (/^(ERR|ERROR|CRIT|CRITICAL|ALERT|EMERG|FATAL|[0-3])$/.test(severity)) return 'ERROR';
  if (/^(WARN|WARNING|4)$/.test(severity)) return 'WARN';
  const text = typeof event.text === 'string' ? event.text : '';
  if (/\b(ERROR|FATAL|CRITICAL)\b/.test(text)) return 'ERROR';
  if (/\bWARN(ING)?\b/.test(text)) return 'WARN';
  return null;
}
