import fc from 'fast-check';

/**
 * Events for the property tests of the template paths: random and adversarial JSON texts
 * (duplicate keys, escaped keys, nested objects, broken edits) and the templates to run on them.
 */

/** Names that the generated events use, so templates often hit them; odd ones included. */
export const NAMES = ['text', 'name', 'node_id', 'info', 'a', '__proto__', 'constructor', 'te"xt', 'x\\y', 'é', ''];
export const name = fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 3 }));
export const template = fc
  .array(
    fc.tuple(
      fc.string({ maxLength: 3 }).filter((s) => !s.includes('{') && !s.includes('}')),
      fc.oneof(
        fc.constant('key'),
        name.filter((n) => n.trim() !== '' && !n.includes('}') && !n.includes('{') && !n.includes('.') && n.trim() === n),
        fc.constantFrom('info.pid', 'info.tags.0', 'text.length', 'a.b.c'),
      ),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((parts) => parts.map(([literal, field]) => `${literal}{{${field}}}`).join(''));

export const scalar = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.double(), fc.integer(), fc.boolean(), fc.constant(null));
export const eventObject = fc.dictionary(name, fc.oneof(scalar, fc.jsonValue({ maxDepth: 3 })), { maxKeys: 8 });

/** JSON texts of events: compact or indented, sometimes with a duplicate key appended. */
export const eventJson = fc.oneof(
  eventObject.map((o) => JSON.stringify(o)),
  fc.tuple(eventObject, fc.constantFrom(0, 1, '\t', ' \n')).map(([o, indent]) => JSON.stringify(o, null, indent as number | string)),
  fc.tuple(eventObject, name, scalar).map(([o, n, v]) => {
    const json = JSON.stringify(o);
    const extra = `${JSON.stringify(n)}:${JSON.stringify(v)}`;
    return json === '{}' ? `{${extra}}` : `${json.slice(0, -1)},${extra}}`;
  }),
  // Keys written with escapes that JSON.parse decodes to a plain name.
  fc.tuple(fc.constantFrom('te\\u0078t', 'n\\u0061me', '\\u0074ext'), scalar).map(([k, v]) => `{"text":"first","${k}":${JSON.stringify(v) ?? 'null'}}`),
);

/** Small edits that often break the JSON: the fast path must then agree that fields are empty. */
export const TOKENS = ['"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\n', '\0', '\u001f', '\\u00', '\\x', 'tru', 'nul', '-', '01', '1e', '.5', '"text":', 'é', '\uD800'];
export const mutated = fc
  .tuple(eventJson, fc.array(fc.tuple(fc.nat(), fc.nat(4), fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 2 }))), { minLength: 1, maxLength: 3 }))
  .map(([json, edits]) => {
    let s = json;
    for (const [at, remove, insert] of edits) {
      const i = at % (s.length + 1);
      s = s.slice(0, i) + insert + s.slice(i + remove);
    }
    return s;
  });

export const anyJsonText = fc.oneof(eventJson, mutated, fc.json(), fc.string(), fc.string({ unit: 'binary' }));
