import { describe, expect, it } from 'vitest';
import { closedAfterEach, eventJson, listenForLines, makeDrain, NODE_ID, waitFor, waitForState } from './helpers.js';

const lineServer = closedAfterEach(listenForLines);

const HUMAN_TIME = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d`;

describe('rate and burst', () => {
  it('cut a flooding key with in-band notices while a quiet key loses nothing', async () => {
    const server = await lineServer();
    // One token a second: the loop below ends long before the flood's bucket could refill.
    const drain = makeDrain('limited', `tcp://127.0.0.1:${server.port}?rate=1&burst=10&format=raw`);
    drain.start();
    await waitForState(drain, 'RUNNING');
    for (let i = 0; i < 100; i++) {
      drain.push('apptail.flood', eventJson(`flood ${i}`));
      if (i % 25 === 0) drain.push('apptail.quiet', eventJson(`quiet ${i / 25}`));
    }
    // The end notice comes once the flood's bucket has a token again (about a second).
    await waitFor('the end-of-drops notice', () => server.lines.some((line) => line.includes('logyard: dropped')), undefined, drain);

    const seen = server.lines.map((line) => {
      const space = line.indexOf(' ');
      return { key: line.slice(0, space), event: JSON.parse(line.slice(space + 1)) };
    });
    const texts = seen.map(({ event }) => event.text);
    expect(texts.slice(0, 12)).toEqual([
      'flood 0', 'quiet 0', ...Array.from({ length: 9 }, (_, i) => `flood ${i + 1}`),
      'logyard: beginning to drop events from apptail.flood (rate limit 1/s)',
    ]);
    expect(texts.filter((text) => text.startsWith('quiet'))).toEqual(['quiet 0', 'quiet 1', 'quiet 2', 'quiet 3']);
    expect(texts.filter((text) => text.startsWith('flood'))).toHaveLength(10);
    const notices = seen.filter(({ key }) => key === 'logyard.notice');
    expect(notices).toHaveLength(2);
    expect(notices[1].event.text).toMatch(new RegExp(`^logyard: dropped 90 events from apptail\\.flood since ${HUMAN_TIME} \\(rate limit 1/s\\)$`));
    expect(notices[1].event).toMatchObject({ node_id: NODE_ID, drain: 'limited', reason: 'rate_limit', limited_key: 'apptail.flood', dropped: 90 });
    expect(drain.status()).toMatchObject({ sent: 14, dropped: { buffer_full: 0, rate_limit: 90 } });
  });

  it('lets a key pass again once its bucket refills, after telling the count', async () => {
    const server = await lineServer();
    const drain = makeDrain('refill', `tcp://127.0.0.1:${server.port}?rate=2&burst=1&format={{text}}`);
    drain.start();
    drain.push('systail.app', eventJson('first'));
    drain.push('systail.app', eventJson('cut'));
    await waitFor('the begin notice', () => server.lines.length === 2, undefined, drain);
    // Half a second later the bucket holds a token again: the next event passes after the count.
    await new Promise((resolve) => setTimeout(resolve, 600));
    drain.push('systail.app', eventJson('second'));
    await waitFor('the second event', () => server.lines.length === 4, undefined, drain);
    expect(server.lines[0]).toBe('first');
    expect(server.lines[1]).toBe('logyard: beginning to drop events from systail.app (rate limit 2/s)');
    expect(server.lines[2]).toMatch(new RegExp(`^logyard: dropped 1 events from systail\\.app since ${HUMAN_TIME} \\(rate limit 2/s\\)$`));
    expect(server.lines[3]).toBe('second');
    expect(drain.status().dropped).toEqual({ buffer_full: 0, rate_limit: 1 });
  });

  it('drains without rate count no rate_limit drops', () => {
    expect(makeDrain('plain', 'tcp://127.0.0.1:9?filter=a').status().dropped).toEqual({ buffer_full: 0 });
  });
});
