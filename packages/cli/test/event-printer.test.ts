import { describe, expect, it } from 'vitest';
import { eventPrinter } from '../src/output/event-printer.js';

const event = (fields: Record<string, unknown>): string => JSON.stringify({ node_id: 'n1', unix_time: 1, human_time: '2026-11-20T10:00:00.000+00:00', ...fields });

describe('how tail and recent print events', () => {
  it('uses each stream its own format, notices as their text, other keys as KEY JSON', () => {
    const print = eventPrinter({ formats: {}, color: false });
    expect(print('systail.kern.n1', event({ text: 'booted', name: 'kern' }))).toBe('kern@n1: booted\n');
    expect(print('apptail.a1', event({ text: 'hi', source: 'stderr', instance_index: 2 }))).toBe('2026-11-20T10:00:00.000+00:00 stderr.2: hi\n');
    expect(print('event.oom', event({ text: 'x', type: 'oom', desc: 'killed' }))).toBe('oom@n1: killed\n');
    expect(print('logyard.notice', event({ text: 'logyard: dropped 3 events for drain t since x (buffer full)' }))).toBe('logyard: dropped 3 events for drain t since x (buffer full)\n');
    const other = event({ text: 'order placed' });
    expect(print('app.orders', other)).toBe(`app.orders ${other}\n`);
  });

  it('lets a named format of config or store replace a stream format', () => {
    const print = eventPrinter({ formats: { systail: '[{{name}}] {{text}}' }, color: false });
    expect(print('systail.kern.n1', event({ text: 'booted', name: 'kern' }))).toBe('[kern] booted\n');
  });

  it('colours ERROR lines red and WARN lines yellow, by severity or by the text', () => {
    const print = eventPrinter({ formats: {}, color: true });
    expect(print('event.oom', event({ text: 'x', type: 'oom', desc: 'killed', severity: 'ERROR' }))).toBe('\x1b[31moom@n1: killed\x1b[0m\n');
    expect(print('systail.kern.n1', event({ text: 'WARNING: disk 91% full', name: 'kern' }))).toBe('\x1b[33mkern@n1: WARNING: disk 91% full\x1b[0m\n');
    expect(print('systail.kern.n1', event({ text: 'all good', name: 'kern' }))).toBe('kern@n1: all good\n');
  });

  it('keeps one node with nodeId', () => {
    const print = eventPrinter({ formats: {}, color: false, nodeId: 'n2', json: true });
    expect(print('systail.kern.n1', event({ text: 'a' }))).toBeNull();
    const mine = JSON.stringify({ text: 'b', node_id: 'n2' });
    expect(print('systail.kern.n2', mine)).toBe(mine + '\n');
  });

  it('refuses two output choices and an unknown format as usage errors', () => {
    expect(() => eventPrinter({ formats: {}, color: false, json: true, raw: true })).toThrow('--json and --raw exclude each other');
    expect(() => eventPrinter({ formats: {}, color: false, format: 'nope' })).toThrow(/^--format: unknown format "nope"/);
  });
});
