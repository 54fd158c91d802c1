import {
  isJsonContentType,
  JSON_MAX_DEPTH,
  JSON_MAX_VALUES,
  jsonShapeProblem,
  mayPoisonPrototype,
} from './json-body';

describe('jsonShapeProblem (issue 12 #2)', () => {
  it('passes ordinary bodies', () => {
    expect(jsonShapeProblem('{}')).toBeNull();
    expect(jsonShapeProblem('{"a":[1,2,{"b":"c"}],"d":"x"}')).toBeNull();
    expect(jsonShapeProblem(`${'['.repeat(JSON_MAX_DEPTH)}${']'.repeat(JSON_MAX_DEPTH)}`)).toBeNull();
  });

  it('refuses nesting deeper than the cap, however it is written', () => {
    expect(jsonShapeProblem(`${'['.repeat(JSON_MAX_DEPTH + 1)}`)).toMatch(/nested more than/);
    expect(jsonShapeProblem(`${'{"a":'.repeat(JSON_MAX_DEPTH + 1)}1`)).toMatch(/nested more than/);
  });

  it('refuses more values than the cap, counting every element and member exactly', () => {
    const zeros = (n: number): string => Array.from({ length: n }, () => '0').join(',');
    expect(jsonShapeProblem(`[${zeros(JSON_MAX_VALUES)}]`)).toBeNull();
    expect(jsonShapeProblem(`[${zeros(JSON_MAX_VALUES + 1)}]`)).toMatch(/more than 5000 values/);
    // One member holding an array: 1 + its elements.
    expect(jsonShapeProblem(`{"a":[${zeros(JSON_MAX_VALUES - 1)}]}`)).toBeNull();
    expect(jsonShapeProblem(`{"a":[${zeros(JSON_MAX_VALUES)}]}`)).toMatch(/more than/);
    // Empty containers hold nothing; whitespace does not matter.
    expect(
      jsonShapeProblem(`{ "a" : [ ] , "b" : { } , "c" : [ ${zeros(JSON_MAX_VALUES - 3)} ] }`),
    ).toBeNull();
    expect(jsonShapeProblem(`{ "a" : [ ] , "b" : { } , "c" : [ ${zeros(JSON_MAX_VALUES - 2)} ] }`)).toMatch(
      /more than/,
    );
    // Many small containers: each one's first item counts.
    expect(
      jsonShapeProblem(`[${Array.from({ length: JSON_MAX_VALUES / 2 }, () => '[0]').join(',')}]`),
    ).toBeNull();
    expect(
      jsonShapeProblem(`[${Array.from({ length: JSON_MAX_VALUES / 2 + 1 }, () => '[0]').join(',')}]`),
    ).toMatch(/more than/);
  });

  it('ignores brackets and commas inside strings, escaped quotes included', () => {
    expect(jsonShapeProblem(JSON.stringify({ a: '['.repeat(1000) + ','.repeat(10_000) }))).toBeNull();
    expect(jsonShapeProblem('{"a":"\\"[[[[","b":1}')).toBeNull();
  });
});

describe('mayPoisonPrototype', () => {
  it('flags the keys the parser refuses, and nothing else', () => {
    expect(mayPoisonPrototype('{"__proto__":{},"id":1}')).toBe(true);
    expect(mayPoisonPrototype('{"constructor":{"prototype":{}},"id":1}')).toBe(true);
    expect(mayPoisonPrototype('{"id":1,"limit":10}')).toBe(false);
  });
});

describe('isJsonContentType', () => {
  it('matches application/json with or without parameters, only', () => {
    expect(isJsonContentType('application/json')).toBe(true);
    expect(isJsonContentType('Application/JSON; charset=utf-8')).toBe(true);
    for (const t of [
      undefined,
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonx',
    ]) {
      expect(isJsonContentType(t)).toBe(false);
    }
  });
});
