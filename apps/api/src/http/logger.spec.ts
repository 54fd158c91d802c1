import pino from 'pino';
import { Writable } from 'node:stream';
import { lazyChildLogger, PinoNestLogger, redactUrl, REDACTED_PATHS } from './logger';

function capture(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(chunk.toString());
      done();
    },
  });
  const logger = pino({ level: 'debug', redact: { paths: REDACTED_PATHS, censor: '[redacted]' } }, stream);
  return {
    logger,
    lines: () =>
      out
        .join('')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('logging (issue 12, request logging)', () => {
  it('redactUrl hides token query parameters, whatever their place', () => {
    expect(redactUrl('/notification/stream?token=abc.def.ghi')).toBe('/notification/stream?token=[redacted]');
    expect(redactUrl('/x?a=1&access_token=s&refresh_token=t#f')).toBe(
      '/x?a=1&access_token=[redacted]&refresh_token=[redacted]#f',
    );
    expect(redactUrl('/healthz')).toBe('/healthz');
  });

  it('pino redacts authorization headers and token or password fields', () => {
    const { logger, lines } = capture();
    logger.info(
      { req: { headers: { authorization: 'Bearer SECRET' } }, token: 'SECRET', body: { password: 'SECRET' } },
      'x',
    );
    expect(JSON.stringify(lines())).not.toContain('SECRET');
  });

  it('PinoNestLogger maps Nest calls: context last, a stack for errors, levels honoured', () => {
    const { logger, lines } = capture();
    const nest = new PinoNestLogger(logger);
    nest.log('started', 'NestFactory');
    nest.error('failed', 'Error: boom\n    at x', 'Db');
    nest.warn({ a: 1 }, 'Ctx');
    nest.verbose('hidden at debug', 'Ctx');
    nest.error(new Error('thrown'));
    expect(lines()).toEqual([
      expect.objectContaining({ level: 30, msg: 'started', context: 'NestFactory' }),
      expect.objectContaining({ level: 50, msg: 'failed', context: 'Db', stack: 'Error: boom\n    at x' }),
      expect.objectContaining({ level: 40, a: 1, context: 'Ctx' }),
      expect.objectContaining({ level: 50, msg: 'thrown' }),
    ]);
  });

  it('lazyChildLogger makes the request logger only when it logs, with the bindings, level and redaction', () => {
    const { logger, lines } = capture();
    const childSpy = jest.spyOn(logger, 'child');
    const quiet = lazyChildLogger(logger, { reqId: 'r1' }, { level: 'info' });
    expect(quiet.level).toBe('info');
    expect(childSpy).not.toHaveBeenCalled();

    const req = lazyChildLogger(logger, { reqId: 'r2' }, { level: 'info' });
    req.debug('below the level');
    req.info({ token: 'SECRET' }, 'hello');
    req.child({ sub: 1 }).warn('nested');
    // Once for the request (its nested child inherits the spy); never for the quiet one.
    expect(childSpy.mock.calls.map((c) => c[0])).toEqual([{ reqId: 'r2' }, { sub: 1 }]);
    expect(lines()).toEqual([
      expect.objectContaining({ level: 30, reqId: 'r2', msg: 'hello', token: '[redacted]' }),
      expect.objectContaining({ level: 40, reqId: 'r2', sub: 1, msg: 'nested' }),
    ]);
  });
});
