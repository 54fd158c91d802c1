import { MAX_MENTION_NAMES, parseMentions } from './mentions';

describe('parseMentions', () => {
  it('finds @names with their lookup keys, case-folded and NFKC-normalised', () => {
    expect(parseMentions('hi @Bob and @ａｌｉｃｅ!')).toEqual([['bob'], ['alice']]);
  });

  it('offers the name without trailing sentence punctuation as a second choice', () => {
    expect(parseMentions('thanks @bob. and @carol-')).toEqual([
      ['bob.', 'bob'],
      ['carol-', 'carol'],
    ]);
    expect(parseMentions('@bob_')).toEqual([['bob_']]);
  });

  it('ignores an @ glued to a word (e-mail addresses) and bare or invalid @s', () => {
    expect(parseMentions('mail bob@example.com or @ or @.x or @_x')).toEqual([]);
  });

  it('ignores a run longer than a username rather than cutting it', () => {
    expect(parseMentions(`@${'a'.repeat(33)}`)).toEqual([]);
    expect(parseMentions(`@${'a'.repeat(32)}`)).toEqual([['a'.repeat(32)]]);
  });

  it('keeps letters of any script and their marks', () => {
    expect(parseMentions('@Zoë @José @世界')).toEqual([['zoë'], ['josé'], ['世界']]);
  });

  it('drops repeats (any case) and stops at the limit', () => {
    expect(parseMentions('@bob @BOB @bob')).toEqual([['bob']]);
    const many = Array.from({ length: MAX_MENTION_NAMES + 5 }, (_, i) => `@u${i}`).join(' ');
    expect(parseMentions(many)).toHaveLength(MAX_MENTION_NAMES);
  });
});
