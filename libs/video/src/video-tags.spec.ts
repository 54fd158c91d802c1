import { decodeTags, encodeTags, normalizeTagName, parseTags } from './video-tags';

describe('parseTags', () => {
  it('takes #tokens of title then description, in order of first appearance, without duplicates', () => {
    expect(parseTags('Day one #Travel #food', 'more #travel and #sea_side #food')).toEqual([
      'travel',
      'food',
      'sea_side',
    ]);
  });

  it('letters of any script with their marks, digits and _; stops at anything else', () => {
    expect(parseTags('#東京 #Straße #हिन्दी #café! #2024 #a-b #x.y', '')).toEqual([
      '東京',
      'straße',
      'हिन्दी',
      'café',
      '2024',
      'a',
      'x',
    ]);
  });

  it('normalises with NFKC (full-width # and letters, ligatures, decomposed accents) and lower-cases', () => {
    expect(parseTags('＃ＴＡＧ', '#ﬁsh #Cafe\u0301 #ⅫX')).toEqual(['tag', 'fish', 'café', 'xiix']);
    expect(parseTags('#CAFÉ', '#café')).toEqual(['café']);
  });

  it('a # glued to a word, a bare #, and a run over 50 characters are not tags', () => {
    expect(parseTags('mail#me a#b # ## #', 'https://x.com/page#anchor')).toEqual([]);
    expect(parseTags(`#${'a'.repeat(51)}`, `#${'b'.repeat(50)}`)).toEqual(['b'.repeat(50)]);
    expect(parseTags('##double', '')).toEqual(['double']);
  });

  it('keeps at most 10', () => {
    const text = Array.from({ length: 15 }, (_, i) => `#t${i}`).join(' ');
    expect(parseTags(text, '#late')).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`));
  });

  it('none is []', () => {
    expect(parseTags('no tags here', '')).toEqual([]);
  });
});

describe('normalizeTagName', () => {
  it('accepts the name with or without #, normalised like parseTags', () => {
    expect(normalizeTagName('#Travel')).toBe('travel');
    expect(normalizeTagName('  ＴＲＡＶＥＬ ')).toBe('travel');
    expect(normalizeTagName('#Cafe\u0301')).toBe('café');
  });

  it("'' when it is empty or only #s, null when no tag can have that name", () => {
    expect(normalizeTagName('#')).toBe('');
    expect(normalizeTagName('##')).toBe('');
    expect(normalizeTagName(' ＃＃ ')).toBe('');
    expect(normalizeTagName('   ')).toBe('');
    expect(normalizeTagName('two words')).toBeNull();
    expect(normalizeTagName('##x')).toBeNull();
    expect(normalizeTagName('a'.repeat(51))).toBeNull();
  });
});

describe('encodeTags / decodeTags', () => {
  it('round-trips; empty is [] both ways', () => {
    expect(decodeTags(encodeTags(['a', '東京', 'c_d']))).toEqual(['a', '東京', 'c_d']);
    expect(encodeTags([])).toBe('');
    expect(decodeTags('')).toEqual([]);
    expect(decodeTags(null)).toEqual([]);
  });
});
