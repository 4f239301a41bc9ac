import { describe, expect, it } from 'vitest';
import { redactSecrets, redactUri } from '../src/index.js';

describe('redactSecrets (what a target echoes in an error body)', () => {
  it.each([
    ['Authorization: Bearer abc.def-ghi', 'Authorization: Bearer ***'],
    ['authorization: Basic dXNlcjpwdw==', 'authorization: Basic ***'],
    ['{"password":"hunter2","user":"bob"}', '{"password":"***","user":"bob"}'],
    ["{'api_key': 'k-123', 'n': 1}", "{'api_key': '***', 'n': 1}"],
    ['bad request: token=abc&x=1', 'bad request: token=***&x=1'],
    ['X-Api-Key: 123 then more', 'X-Api-Key: *** then more'],
    ['db_password=p4ss; access_key=AKIA', 'db_password=***; access_key=***'],
    ['cannot reach https://bob:s3cr3t@db.example/x', 'cannot reach https://bob:***@db.example/x'],
    ['table logs does not exist', 'table logs does not exist'],
    ['unknown token', 'unknown token'],
  ])('%s', (text, shown) => {
    expect(redactSecrets(text)).toBe(shown);
  });
});

describe('redactUri', () => {
  it.each([
    ['redis://admin:s3cret@cache:6379/0?key=k', 'redis://admin:***@cache:6379/0?key=k'],
    ['redis://:s3cret@cache', 'redis://:***@cache'],
    ['redis://a:p@ss@cache', 'redis://a:***@cache'],
    ['redis://a:p/w@d@cache/1', 'redis://a:***@cache/1'],
    ['redis://admin@cache', 'redis://admin@cache'],
    ['tcp://h:514?filter=a', 'tcp://h:514?filter=a'],
    ['file:///var/log/a:b@c.log', 'file:///var/log/a:b@c.log'],
    ['what://u:pw@@?&', 'what://u:***@?&'],
    ['not a uri', 'not a uri'],
  ])('%s → %s', (uri, shown) => {
    expect(redactUri(uri)).toBe(shown);
  });

  it('hides the values of query params named like credentials (passed to an http target)', () => {
    expect(redactUri('http://h:8123/?query=INSERT%20INTO%20t&user=bob&password=s3cr3t&filter=a')).toBe(
      'http://h:8123/?query=INSERT%20INTO%20t&user=bob&password=***&filter=a',
    );
    expect(redactUri('https://u:pw@h/?api_key=k&token=t&key=list')).toBe('https://u:***@h/?api_key=***&token=***&key=list');
  });
});
