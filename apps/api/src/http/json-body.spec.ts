import { isJsonContentType, JSON_MAX_DEPTH, JSON_MAX_VALUES, jsonShapeProblem } from './json-body';

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

  it('refuses more values than the cap', () => {
    expect(jsonShapeProblem(`[${'0,'.repeat(JSON_MAX_VALUES + 1)}0]`)).toMatch(/more than/);
    expect(jsonShapeProblem(`[${'0,'.repeat(JSON_MAX_VALUES - 1)}0]`)).toBeNull();
  });

  it('ignores brackets and commas inside strings, escaped quotes included', () => {
    expect(jsonShapeProblem(JSON.stringify({ a: '['.repeat(1000) + ','.repeat(10_000) }))).toBeNull();
    expect(jsonShapeProblem('{"a":"\\"[[[[","b":1}')).toBeNull();
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
