/**
 * Reads a few top-level fields of an event's JSON without JSON.parse of the whole event: a
 * `{{text}}` template needs one string, and building every event into objects and strings (the
 * nested `syslog` field, the times) was most of a drain's work per event.
 *
 * One regular expression checks the whole text against the JSON grammar (irregexp runs it as
 * native code, far faster than a loop over characters in JavaScript), so the scan only answers
 * where JSON.parse would have given an object. What it does not take (a top-level value that is
 * not an object, whitespace between tokens (JSON.stringify writes none), containers nested more
 * than two levels below the top, keys with escapes, any grammar error) it declines, and the
 * caller parses in full. Its answers are therefore those of the full parse, or none.
 */

/** Keys with escapes are declined: comparing them with a field name would need decoding them. */
const KEY = '"[^"\\\\\\x00-\\x1f]*"';
const STRING = '"[^"\\\\\\x00-\\x1f]*(?:\\\\(?:["\\\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\\\\x00-\\x1f]*)*"';
const NUMBER = '-?(?:0|[1-9]\\d*)(?:\\.\\d+)?(?:[eE][+-]?\\d+)?';
const SCALAR = `(?:${STRING}|${NUMBER}|true|false|null)`;
const members = (key: string, value: string): string => `(?:${key}:${value}(?:,${key}:${value})*)?`;
const container = (value: string): string => `(?:\\{${members(STRING, value)}\\}|\\[(?:${value}(?:,${value})*)?\\])`;
/** Objects and arrays down to two levels below the event (`info: {tags: [...]}`); deeper ones are parsed in full. */
const NESTED = container(`(?:${SCALAR}|${container(SCALAR)})`);
const EVENT_OBJECT = new RegExp(`^\\{${members(KEY, `(?:${SCALAR}|${NESTED})`)}\\}$`);
/** Skips a container inside an event that EVENT_OBJECT already vouched for. */
const NESTED_AT = new RegExp(NESTED, 'y');

const QUOTE = 34;
const COMMA = 44;
const LEFT_BRACKET = 91;
const RIGHT_BRACKET = 93;
const LEFT_BRACE = 123;
const RIGHT_BRACE = 125;

const ABSENT = 0;
/** A string without escapes: its characters are the value. */
const PLAIN_STRING = 1;
/** Anything else: JSON.parse of its text is the value. */
const JSON_TEXT = 2;

export class TopLevelFields {
  private readonly names: readonly string[];
  /** The names with the quote that ends them as keys. */
  private readonly namesWithQuote: readonly string[];
  /** Per name: kind, start and end of its value in the last JSON scanned. */
  private readonly found: Int32Array;
  private json = '';
  private readonly strings = new StringEnds();

  constructor(names: readonly string[]) {
    this.names = names;
    this.namesWithQuote = names.map((name) => name + '"');
    this.found = new Int32Array(names.length * 3);
  }

  /**
   * Scans `json`; true when it is a JSON object whose fields `value` now gives, false when the
   * scan cannot vouch for it and the caller must use JSON.parse.
   */
  scan(json: string): boolean {
    if (!EVENT_OBJECT.test(json)) return false;
    this.found.fill(ABSENT);
    this.json = json;
    // The text is valid from here on: the walk only has to find where the top-level values are.
    const strings = this.strings;
    strings.reset(json);
    let unseen = this.names.length;
    let i = 1;
    while (json.charCodeAt(i) === QUOTE) {
      const keyEnd = strings.end(i);
      const slot = this.slotOf(json, i, keyEnd);
      const start = keyEnd + 1;
      const c = json.charCodeAt(start);
      let end: number;
      let kind = JSON_TEXT;
      if (c === QUOTE) {
        end = strings.end(start);
        if (!strings.hadEscape) kind = PLAIN_STRING;
      } else if (c === LEFT_BRACE || c === LEFT_BRACKET) {
        NESTED_AT.lastIndex = start;
        NESTED_AT.test(json);
        end = NESTED_AT.lastIndex;
      } else {
        end = scalarEnd(json, start);
      }
      if (slot >= 0) {
        // A later duplicate overwrites an earlier one, as in JSON.parse.
        const firstTime = this.found[slot] === ABSENT;
        this.found[slot] = kind;
        this.found[slot + 1] = start;
        this.found[slot + 2] = end;
        if (firstTime && --unseen === 0 && !this.anyNameAfter(end)) return true;
      }
      if (json.charCodeAt(end) !== COMMA) break;
      i = end + 1;
    }
    return true;
  }

  /** The value of field `index` (of the names given) in the last JSON scanned; undefined when absent. */
  value(index: number): unknown {
    const slot = index * 3;
    const kind = this.found[slot];
    if (kind === ABSENT) return undefined;
    const start = this.found[slot + 1];
    const end = this.found[slot + 2];
    if (kind === PLAIN_STRING) return this.json.slice(start + 1, end - 1);
    return JSON.parse(this.json.slice(start, end));
  }

  /**
   * Whether a name occurs as a quoted string after `from`: when none does, no later key can
   * override what was found (keys with escapes were declined), and the rest need not be walked.
   * The search is for `name"`, then the quote before it is checked: indexOf is many times faster
   * with a pattern that does not start with a character as frequent in JSON as the quote.
   */
  private anyNameAfter(from: number): boolean {
    const json = this.json;
    for (const nameQuote of this.namesWithQuote) {
      for (let at = json.indexOf(nameQuote, from + 1); at >= 0; at = json.indexOf(nameQuote, at + 1)) {
        if (json.charCodeAt(at - 1) === QUOTE) return true;
      }
    }
    return false;
  }

  /** The slot of the key `json[quote, afterQuote)` (without escapes) when it is one of the names; -1 when not. */
  private slotOf(json: string, quote: number, afterQuote: number): number {
    const length = afterQuote - quote - 2;
    const names = this.names;
    for (let n = 0; n < names.length; n++) {
      const name = names[n];
      if (name.length === length && json.startsWith(name, quote + 1)) return n * 3;
    }
    return -1;
  }
}

/** Ends of the strings of a valid JSON text, found with indexOf rather than character by character. */
class StringEnds {
  /** Whether the last string passed has a backslash escape. */
  hadEscape = false;
  private json = '';
  private nextBackslash = -1;

  reset(json: string): void {
    this.json = json;
    this.nextBackslash = json.indexOf('\\');
  }

  /** Past the closing quote of the string that opens at `quote`. */
  end(quote: number): number {
    const json = this.json;
    let from = quote + 1;
    let close = -1;
    this.hadEscape = false;
    for (;;) {
      // Looked for again only when an escape skipped past it: a string of many escapes stays linear.
      if (close < from) close = json.indexOf('"', from);
      if (this.nextBackslash >= 0 && this.nextBackslash < from) this.nextBackslash = json.indexOf('\\', from);
      const backslash = this.nextBackslash;
      if (backslash < 0 || backslash > close) return close + 1;
      this.hadEscape = true;
      // Past the escaped character: an escaped quote does not close; \uXXXX has no quote in it.
      from = backslash + 2;
    }
  }
}

/** Past a number or literal of a valid compact JSON text: it runs to a separator. */
function scalarEnd(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (c === COMMA || c === RIGHT_BRACE || c === RIGHT_BRACKET || Number.isNaN(c)) return i;
    i++;
  }
}
