import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * SQL of this library is written with @app/core's helpers, so both dialects get the right text:
 * `lockClause(dialect, 'update')` for a row lock (SQLite has none), `placeholders(n)` for an
 * `IN (?, ?, …)` list.
 */
describe('libs/storage SQL', () => {
  const sources = readdirSync(__dirname)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
    .map((f) => ({ file: f, text: readFileSync(join(__dirname, f), 'utf8') }));

  it('has no hand-written lock suffix nor placeholder list', () => {
    const found = sources.flatMap(({ file, text }) =>
      [/FOR UPDATE|LOCK IN SHARE MODE/, /\.map\(\(\) => '\?'\)/]
        .filter((re) => re.test(text))
        .map((re) => `${file}: ${re.source}`),
    );
    expect(found).toEqual([]);
  });
});
