import pino from 'pino';
import { REDACTED, redactSecretsInText, redactUrl, redactingChildLogger, redactingLoggerOptions, serializeError } from './log-redaction';

describe('log redaction', () => {
  it('replaces the values of secret query parameters and keeps the rest of the URL', () => {
    expect(redactUrl('/_matrix/client/v3/sync')).toBe('/_matrix/client/v3/sync');
    expect(redactUrl('/sync?access_token=abc')).toBe(`/sync?access_token=${REDACTED}`);
    expect(redactUrl('/sync?since=s1&access_token=abc&timeout=0')).toBe(`/sync?since=s1&access_token=${REDACTED}&timeout=0`);
    expect(redactUrl('/x?access%5Ftoken=abc&ACCESS_TOKEN=def&access_token')).toBe(`/x?access%5Ftoken=${REDACTED}&ACCESS_TOKEN=${REDACTED}&access_token=${REDACTED}`);
    expect(redactUrl('/validity?token=t1')).toBe(`/validity?token=${REDACTED}`);
    expect(redactUrl('/x?bad=%E0%A4%A&access_token=abc')).toBe(`/x?bad=%E0%A4%A&access_token=${REDACTED}`);
  });

  it('cuts secrets out of text: name=value, JSON members and bearer tokens', () => {
    expect(redactSecretsInText('Route GET:/sync?access_token=abc&x=1 not found')).toBe(`Route GET:/sync?access_token=${REDACTED}&x=1 not found`);
    expect(redactSecretsInText('{"user":"a","password":"p\\"w","new_password": "q"}')).toBe(`{"user":"a","password":"${REDACTED}","new_password": "${REDACTED}"}`);
    expect(redactSecretsInText('authorization: Bearer syt_abc')).toBe(`authorization: Bearer ${REDACTED}`);
    expect(redactSecretsInText('nothing to see')).toBe('nothing to see');
  });

  it('serializes errors without the data they carry and without secrets in their text', () => {
    const cause = Object.assign(new Error('inner with access_token=abc'), { values: ['hash'] });
    const error = Object.assign(new Error('outer', { cause }), { values: ['secret value'], row: { password: 'x' }, code: 'E1', password: 'pw' });
    const serialized = JSON.stringify(serializeError(error));
    expect(serialized).toContain('outer');
    expect(serialized).toContain('E1');
    for (const secret of ['secret value', 'abc', '"pw"', 'hash']) expect(serialized).not.toContain(secret);
  });

  it('a logger with these options writes no secret, however a line carries it', () => {
    const lines: string[] = [];
    const logger = pino(redactingLoggerOptions('trace'), { write: (line: string) => void lines.push(line) });
    const request = { method: 'GET', url: '/sync?access_token=tok1', host: 'h', ip: '127.0.0.1', socket: { remotePort: 1 }, headers: { authorization: 'Bearer tok2' } };
    logger.info({ req: request }, 'incoming request');
    logger.info({ headers: { authorization: 'Bearer tok3' }, password: 'pw1', body: { auth: { password: 'pw2' }, new_password: 'pw3' } }, 'fields');
    logger.error({ err: Object.assign(new Error('failed: password=pw4'), { values: ['tok5'] }) }, 'error');
    logger.warn('message with ?access_token=tok6 and Bearer tok7');
    const child = logger.child({ component: 'c' });
    child.info({ token: 'tok8', registration_token: 'tok9', mac: 'mac1', nonce: 'nonce1' }, 'child');
    expect(lines).toHaveLength(5);
    const text = lines.join('\n');
    for (const secret of ['tok1', 'tok2', 'tok3', 'pw1', 'pw2', 'pw3', 'pw4', 'tok5', 'tok6', 'tok7', 'tok8', 'tok9', 'mac1', 'nonce1']) {
      expect({ secret, found: text.includes(secret) }).toEqual({ secret, found: false });
    }
    expect(JSON.parse(lines[0]).req).toEqual({ method: 'GET', url: `/sync?access_token=${REDACTED}`, host: 'h', remoteAddress: '127.0.0.1', remotePort: 1 });
  });

  it('a redacting child of any logger serializes requests and errors the same way', () => {
    const lines: string[] = [];
    const logger = redactingChildLogger(pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }));
    logger.info({ req: { method: 'GET', url: '/x?access_token=tok1' }, password: 'pw1' }, 'line');
    logger.error({ err: Object.assign(new Error('e'), { values: ['tok2'] }) }, 'error');
    const text = lines.join('\n');
    for (const secret of ['tok1', 'pw1', 'tok2']) expect(text).not.toContain(secret);
  });
});
