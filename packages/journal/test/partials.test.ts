import { describe, expect, it } from 'vitest';
import { PartialLines } from '../src/partials.js';
import type { JournalEvent } from '../src/event.js';

const event = (key: string, text: string): JournalEvent => ({ key, stream: key.slice(8), unit: 'docker.service', fields: { text, container_name: key.slice(8) } });

describe('PartialLines', () => {
  it('joins the pieces of each container apart and passes whole lines at once', () => {
    const p = new PartialLines();
    expect(p.join(event('journal.a', 'one '), true)).toBeNull();
    expect(p.join(event('journal.b', 'whole'), false)?.fields.text).toBe('whole');
    expect(p.join(event('journal.a', 'two '), true)).toBeNull();
    expect(p.joining).toBe(true);
    expect(p.join(event('journal.a', 'three'), false)).toMatchObject({ key: 'journal.a', fields: { text: 'one two three', container_name: 'a' } });
    expect(p.joining).toBe(false);
  });

  it('lets a line out once it is 512 KiB long, and gives up the lines cut short when asked', () => {
    const p = new PartialLines();
    const piece = 'x'.repeat(16 * 1024);
    let out: JournalEvent | null = null;
    let pieces = 0;
    while (!out) {
      out = p.join(event('journal.big', piece), true);
      pieces++;
    }
    expect(pieces).toBe(32);
    expect(out.fields.text).toHaveLength(512 * 1024);
    p.join(event('journal.cut', 'half a line'), true);
    expect(p.takeAll().map((e) => [e.key, e.fields.text])).toEqual([['journal.cut', 'half a line']]);
    expect(p.joining).toBe(false);
  });
});
