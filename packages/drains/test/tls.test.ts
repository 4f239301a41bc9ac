import { describe, expect, it } from 'vitest';
import { closedAfterEach, eventJson, listenForLines, makeDrain, waitFor, waitForState, type LineServer } from './helpers.js';
import { useTestCerts } from './tls-certs.js';

const certs = useTestCerts();
const listen = closedAfterEach(listenForLines);
const tlsLineServer = (): Promise<LineServer> => listen(0, certs().server);

describe('tls drain', () => {
  it('is tcp over TLS: lines in the drain format, verified against ca=', async () => {
    const server = await tlsLineServer();
    const drain = makeDrain('secure-lines', `tls://localhost:${server.port}?ca=${certs().caFile}&format=raw`);
    drain.start();
    for (let i = 0; i < 1500; i++) drain.push('systail.app', eventJson(`line ${i}`));
    await waitFor('all lines', () => server.lines.length === 1500, undefined, drain);
    expect(server.lines[0]).toMatch(/^systail\.app \{"text":"line 0",/);
    expect(server.lines.map((line) => JSON.parse(line.slice('systail.app '.length)).text)).toEqual(Array.from({ length: 1500 }, (_, i) => `line ${i}`));
    expect(drain.status()).toMatchObject({ state: 'RUNNING', sent: 1500 });
  });

  it('verifies by default: a certificate from an unknown CA keeps the drain RETRYING with the reason', async () => {
    const server = await tlsLineServer();
    const drain = makeDrain('unknown-ca', `tls://127.0.0.1:${server.port}`);
    drain.start();
    drain.push('systail.app', eventJson('kept back'));
    const status = await waitForState(drain, 'RETRYING');
    expect(status.error).toBe(
      `TLS certificate of 127.0.0.1:${server.port} rejected: unable to verify the first certificate (give ca=/path/to/ca.pem to trust its CA, or insecure=true)`,
    );
    expect(status.buffered).toBe(1);
    expect(server.lines).toEqual([]);
  });
});
