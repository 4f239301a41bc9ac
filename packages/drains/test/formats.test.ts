import { describe, expect, it } from 'vitest';
import { BUILTIN_FORMATS, compileFormat, DrainUriError } from '../src/index.js';

const event = {
  text: 'connection refused',
  node_id: '10.0.0.5',
  unix_time: 1700000000.5,
  human_time: '2023-11-14T22:13:20.500+00:00',
  name: 'nginx',
  info: { pid: 42, tags: ['a', 'b'], ok: true, nothing: null },
};
const json = JSON.stringify(event);

describe('compileFormat', () => {
  it('json: the event JSON and a newline', () => {
    expect(compileFormat('json', {})('systail.nginx.10.0.0.5', json)).toBe(json + '\n');
  });

  it('raw: key, space, event JSON and a newline', () => {
    expect(compileFormat('raw', {})('systail.nginx.10.0.0.5', json)).toBe(`systail.nginx.10.0.0.5 ${json}\n`);
  });

  it('templates: fields, nested fields, the key; missing fields are empty', () => {
    const format = compileFormat('[{{key}}] {{name}} pid={{info.pid}} {{ text }}|{{absent}}|{{info.pid.deeper}}|', {});
    expect(format('systail.nginx', json)).toBe('[systail.nginx] nginx pid=42 connection refused|||\n');
  });

  it('templates render non-string values as JSON', () => {
    const format = compileFormat('{{unix_time}} {{info.tags}} {{info.ok}} {{info.nothing}} {{info}}', {});
    expect(format('k', json)).toBe(`1700000000.5 ["a","b"] true null ${JSON.stringify(event.info)}\n`);
  });

  it('templates do not add a newline when the line already ends with one', () => {
    expect(compileFormat('{{text}}\n', {})('k', json)).toBe('connection refused\n');
    expect(compileFormat('{{text}}', {})('k', JSON.stringify({ text: 'multi\n' }))).toBe('multi\n');
  });

  it('templates render broken event JSON with empty fields instead of throwing', () => {
    const format = compileFormat('{{key}}: {{text}}', {});
    expect(format('app.x', '{not json')).toBe('app.x: \n');
    expect(format('app.x', '[1,2]')).toBe('app.x: \n');
  });

  it('built-in defaults: systail, apptail, event', () => {
    expect(BUILTIN_FORMATS).toEqual({
      systail: '{{name}}@{{node_id}}: {{text}}',
      apptail: '{{human_time}} {{source}}.{{instance_index}}: {{text}}',
      event: '{{type}}@{{node_id}}: {{desc}}',
    });
    expect(compileFormat('systail', {})('systail.nginx.10.0.0.5', json)).toBe('nginx@10.0.0.5: connection refused\n');
    const appLine = JSON.stringify({ ...event, source: 'stderr', instance_index: 2, text: 'boom' });
    expect(compileFormat('apptail', {})('apptail.x', appLine)).toBe('2023-11-14T22:13:20.500+00:00 stderr.2: boom\n');
    const eventLine = JSON.stringify({ ...event, type: 'nginx_error', desc: 'upstream down' });
    expect(compileFormat('event', {})('event.nginx_error', eventLine)).toBe('nginx_error@10.0.0.5: upstream down\n');
  });

  it('named formats from config or store, which may override a built-in one', () => {
    const formats = { short: '{{name}}: {{text}}', systail: '<{{name}}> {{text}}' };
    expect(compileFormat('short', formats)('k', json)).toBe('nginx: connection refused\n');
    expect(compileFormat('systail', formats)('k', json)).toBe('<nginx> connection refused\n');
  });

  it('an unknown name or a broken named template is a DrainUriError naming it', () => {
    expect(() => compileFormat('fancy', {})).toThrow(DrainUriError);
    expect(() => compileFormat('fancy', {})).toThrow('drain URI: unknown format "fancy" (known: json, raw, systail, apptail, event)');
    expect(() => compileFormat('short', { short: '{{name' })).toThrow('drain URI: format "short" ("{{name") has an unclosed "{{" at offset 0');
  });
});

describe('templates of top-level fields read them without parsing the whole event', () => {
  const text = compileFormat('{{text}}', {});

  it('takes the text of the events publishers write, escapes decoded', () => {
    expect(text('k', json)).toBe('connection refused\n');
    expect(text('k', JSON.stringify({ text: 'say "hi"\\ \t é \u2028 \uD800', syslog: { a: '}' } }))).toBe('say "hi"\\ \t é \u2028 \uD800\n');
  });

  it('a later duplicate key wins, as in JSON.parse', () => {
    expect(text('k', '{"text":"first","n":1,"text":"second"}')).toBe('second\n');
    expect(text('k', '{"text":"first","te\\u0078t":"escaped key"}')).toBe('escaped key\n');
  });

  it('renders non-string fields as JSON, numbers as JSON.stringify writes them', () => {
    const format = compileFormat('{{unix_time}}|{{info}}|{{flag}}', {});
    expect(format('k', '{"unix_time": 1.50e2, "info": {"b": [1, "x"]}, "flag": false}')).toBe('150|{"b":[1,"x"]}|false\n');
  });

  it('anything that is not a valid JSON object renders empty fields, as before', () => {
    for (const broken of ['{"text":"a"', '{"text":"a",}', '{"text":"a"} x', '{"text":"a\u0001"}', '{"text":"\\q"}', '{"text":01}', '["text"]', '"text"']) {
      expect(text('k', broken)).toBe('\n');
    }
  });

  it('deeply nested events still render (parsed in full)', () => {
    const deep = { text: 'deep', info: { a: { b: { c: [1, [2, [3]]] } } } };
    expect(compileFormat('{{text}} {{info.a.b}}', {})('k', JSON.stringify(deep))).toBe('deep {"c":[1,[2,[3]]]}\n');
  });
});
