import { didYouMean, wireLine } from '@logyard/bus';
import { ByteTemplate } from './byte-template.js';
import { DrainUriError } from './errors.js';
import { TopLevelFields } from './event-fields.js';

/** Turns one event into one output line, trailing '\n' included. */
export type Formatter = (key: string, json: string) => string;

/** Named formats every node knows; config `formats:` and the store may override them. */
export const BUILTIN_FORMATS: Readonly<Record<string, string>> = {
  systail: '{{name}}@{{node_id}}: {{text}}',
  apptail: '{{human_time}} {{source}}.{{instance_index}}: {{text}}',
  event: '{{type}}@{{node_id}}: {{desc}}',
};

/** How a problem with a format name that is not known begins (the store may know it, where the caller did not look). */
export const UNKNOWN_FORMAT = 'unknown format';

/** `{{key}}` is the event's key, not a field of the event. */
const KEY_PLACEHOLDER = 'key';

const jsonLine: Formatter = (_key, json) => json + '\n';
const rawLine: Formatter = (key, json) => wireLine(key, json) + '\n';

/**
 * What a scheme adds around each formatted line (syslog: the RFC 5424 header and framing), from
 * top-level fields of the event that are read in the same pass as the format's own.
 */
export interface LineFrame {
  /** The top-level fields `build` reads, by index into this list. */
  fields: readonly string[];
  build(key: string, line: string, event: EventReader): string;
}

/**
 * Why `format` cannot be used (unknown name, broken template), or null when it can.
 * `formats` are the named formats of config and store.
 */
export function formatProblem(format: string, formats: Record<string, string>): string | null {
  const built = buildFormatter(format, formats);
  return typeof built === 'function' ? null : built.problem;
}

/**
 * Compiles a format (json, raw, a named format or an inline template) once per drain, with the
 * scheme's frame around each line when it has one. Throws DrainUriError with the problem
 * formatProblem reports.
 */
export function compileFormat(format: string, formats: Record<string, string>, frame?: LineFrame): Formatter {
  const built = buildFormatter(format, formats, frame);
  if (typeof built !== 'function') throw new DrainUriError(`drain URI: ${built.problem}`);
  return built;
}

function buildFormatter(format: string, formats: Record<string, string>, frame?: LineFrame): Formatter | { problem: string } {
  if (format === 'json') return framed(jsonLine, frame);
  if (format === 'raw') return framed(rawLine, frame);
  const template = templateOf(format, formats);
  if (template === undefined) {
    const known = new Set(['json', 'raw', ...Object.keys(BUILTIN_FORMATS), ...Object.keys(formats)]);
    const hint = didYouMean(format, known);
    return { problem: `${UNKNOWN_FORMAT} "${format}" (${hint || `known: ${[...known].join(', ')}`})` };
  }
  const scanned = scanTemplate(template);
  if ('problem' in scanned) {
    const what = template === format ? `format template "${format}"` : `format "${format}" ("${template}")`;
    return { problem: `${what} ${scanned.problem}` };
  }
  return compileTemplate(scanned.literals, scanned.fields, frame);
}

/**
 * The bytes path (ByteTemplate) of a template whose placeholders are all `{{key}}` or top-level
 * fields; null for json, raw, a format that cannot be used, or a template with a nested field.
 */
export function compileByteTemplate(format: string, formats: Record<string, string>): ByteTemplate | null {
  if (format === 'json' || format === 'raw') return null;
  const template = templateOf(format, formats);
  if (template === undefined) return null;
  const scanned = scanTemplate(template);
  if ('problem' in scanned || scanned.fields.some((path) => path !== null && path.length > 1)) return null;
  return new ByteTemplate(scanned.literals, scanned.fields.map((path) => (path === null ? null : path[0])), compileFormat(format, formats));
}

/** A format that reads no fields, with the frame (which reads its own) around it. */
function framed(line: Formatter, frame: LineFrame | undefined): Formatter {
  if (!frame) return line;
  const reader = new EventReader(frame.fields);
  return (key, json) => {
    reader.read(json);
    return frame.build(key, line(key, json), reader);
  };
}

/**
 * What a format stands for with these named formats: `json`, `raw`, or the template, so that a
 * drain can tell whether a change of the named formats changes its output. Undefined: unknown.
 */
export function resolveFormat(format: string, formats: Record<string, string>): string | undefined {
  return format === 'json' || format === 'raw' ? format : templateOf(format, formats);
}

function templateOf(format: string, formats: Record<string, string>): string | undefined {
  if (Object.hasOwn(formats, format)) return formats[format];
  if (Object.hasOwn(BUILTIN_FORMATS, format)) return BUILTIN_FORMATS[format];
  if (format.includes('{{')) return format;
  return undefined;
}

/** A field path such as ['info', 'pid'] for `{{info.pid}}`, or null for `{{key}}`. */
type FieldPath = string[] | null;

interface ScannedTemplate {
  /** Text around the placeholders: always one more than `fields`. */
  literals: string[];
  fields: FieldPath[];
}

function scanTemplate(template: string): ScannedTemplate | { problem: string } {
  const literals: string[] = [];
  const fields: FieldPath[] = [];
  let pos = 0;
  for (;;) {
    const open = template.indexOf('{{', pos);
    if (open < 0) break;
    const close = template.indexOf('}}', open + 2);
    if (close < 0) return { problem: `has an unclosed "{{" at offset ${open}` };
    const name = template.slice(open + 2, close).trim();
    if (name === '') return { problem: `has an empty "{{}}" at offset ${open}` };
    literals.push(template.slice(pos, open));
    fields.push(name === KEY_PLACEHOLDER ? null : name.split('.'));
    pos = close + 2;
  }
  literals.push(template.slice(pos));
  return { literals, fields };
}

function compileTemplate(literals: string[], fields: FieldPath[], frame: LineFrame | undefined): Formatter {
  // Templates that only use {{key}} never need the event parsed.
  const usesEventFields = frame !== undefined || fields.some((path) => path !== null);
  // The frame's fields first (its indices stay as it gave them), then the template's.
  const topNames = [...new Set([...(frame?.fields ?? []), ...fields.flatMap((path) => (path === null ? [] : [path[0]]))])];
  const reader = new EventReader(topNames);
  const slots = fields.map((path) => (path === null ? -1 : topNames.indexOf(path[0])));
  return (key, json) => {
    if (usesEventFields) reader.read(json);
    let line = literals[0];
    for (let i = 0; i < fields.length; i++) {
      const path = fields[i];
      const value = path === null ? key : lookup(reader.field(slots[i]), path, 1);
      line += renderValue(value) + literals[i + 1];
    }
    if (line.charCodeAt(line.length - 1) !== 10) line += '\n';
    return frame ? frame.build(key, line, reader) : line;
  };
}

/**
 * Reads named top-level fields of one event at a time. Fields are read straight from the JSON,
 * which is much cheaper than JSON.parse of the whole event; the full parse is the fallback when
 * the scan declines (and its answers are the same).
 */
export class EventReader {
  private readonly scanner: TopLevelFields;
  private scanned = false;
  private event: Record<string, unknown> | undefined;

  constructor(private readonly names: readonly string[]) {
    this.scanner = new TopLevelFields(names);
  }

  read(json: string): void {
    this.scanned = this.scanner.scan(json);
    this.event = this.scanned ? undefined : parseEventObject(json);
  }

  /** The value of field `index` (of the names given) in the event last read; undefined when absent. */
  field(index: number): unknown {
    if (this.scanned) return this.scanner.value(index);
    const event = this.event;
    const name = this.names[index];
    return event !== undefined && Object.hasOwn(event, name) ? event[name] : undefined;
  }
}

/** The event as an object, or undefined when the JSON is broken or not an object (its fields then render empty). */
export function parseEventObject(json: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The value at `path[from..]` below `value`; undefined when some step is missing. */
function lookup(value: unknown, path: string[], from: number): unknown {
  for (let i = from; i < path.length; i++) {
    const segment = path[i];
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

function renderValue(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return '';
  return JSON.stringify(value);
}
