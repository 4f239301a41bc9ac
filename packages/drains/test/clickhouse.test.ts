import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClickHouse } from '../../../test/setup/services.js';
import { closeDrains, eventJson, makeDrain, waitFor } from './helpers.js';

type ClickHouse = Awaited<ReturnType<typeof startClickHouse>>;

describe('http drain into a real ClickHouse', () => {
  let clickhouse: ClickHouse;
  beforeAll(async () => {
    clickhouse = await startClickHouse();
    await clickhouse.query('CREATE TABLE logs (text String, node_id String, unix_time Float64, name String) ENGINE = Log');
  }, 60_000);
  afterAll(async () => {
    await closeDrains();
    await clickhouse?.stop();
  });

  it('inserts every event through ?query=INSERT ... FORMAT JSONEachRow passed through unchanged', async () => {
    // Events carry fields the table has no column for (human_time): ClickHouse's own param skips them.
    const query = 'query=INSERT%20INTO%20logs%20FORMAT%20JSONEachRow&input_format_skip_unknown_fields=1';
    const drain = makeDrain('clickhouse', `http://127.0.0.1:${clickhouse.port}/?${query}&batch=20`);
    drain.start();
    for (let i = 0; i < 50; i++) drain.push('systail.nginx.n1', eventJson(`GET /${i} 200`, { name: 'nginx' }));
    await waitFor('50 events sent', () => drain.status().sent === 50, 30_000, drain);

    const rows = (await clickhouse.query('SELECT text, name, node_id FROM logs FORMAT TSV')).trimEnd().split('\n');
    expect(rows.sort()).toEqual(Array.from({ length: 50 }, (_, i) => `GET /${i} 200\tnginx\ttest-node`).sort());
    expect(drain.status()).toMatchObject({ state: 'RUNNING', sent: 50 });
  });

  it('a statement ClickHouse refuses makes the drain FATAL with its answer', async () => {
    const drain = makeDrain('missing-table', `http://127.0.0.1:${clickhouse.port}/?query=INSERT%20INTO%20nowhere%20FORMAT%20JSONEachRow`);
    drain.start();
    drain.push('systail.nginx.n1', eventJson('lost'));
    await waitFor('FATAL', () => drain.status().state === 'FATAL', 30_000, drain);
    // The message names the target without its query; ClickHouse's answer says what is wrong.
    expect(drain.status().error).toMatch(/^HTTP 404 Not Found from http:\/\/127\.0\.0\.1:\d+\/: Code: 60, .*Table default\.nowhere doesn't exist/);
  });
});
