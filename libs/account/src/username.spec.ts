import {
  isValidUsername,
  legacyUsernameKey,
  normalizeUsername,
  usernameKey,
  usernameSkeleton,
  USERNAME_SKELETON_MAX,
} from './username';

const valid = (raw: string): boolean => isValidUsername(normalizeUsername(raw));

describe('usernames (SPEC §1, issue 12 #8)', () => {
  it('accepts letters of any script, marks after a letter, digits, _ . - and 32 characters', () => {
    for (const u of ['alice', 'Łukasz_東京.x-1', 'Ωμέγα', 'नमस्ते', 'a'.repeat(32), '1st', 'e\u0301te']) {
      expect({ u, ok: valid(u) }).toEqual({ u, ok: true });
    }
  });

  it('refuses invisible characters, variation selectors, a mark or punctuation first, and 33 characters', () => {
    for (const u of [
      'alice\u034f',
      'ALICE\ufe0f',
      'a\u200db',
      'a\u200bb',
      '\u00adab',
      '\u0301\u0301',
      '_abc',
      '.abc',
      '-abc',
      'a'.repeat(33),
      'a b',
      '',
    ]) {
      expect({ u, ok: valid(u) }).toEqual({ u, ok: false });
    }
  });

  it('normalises with NFKC: full-width and ligature forms become their plain letters', () => {
    expect(normalizeUsername(' ｆｕｌｌ１ ')).toBe('full1');
    expect(normalizeUsername('ﬁne')).toBe('fine');
    expect(usernameKey('ＡＬＩＣＥ')).toBe('alice');
    // Accounts made before NFKC keep their NFC key for look-ups.
    expect(legacyUsernameKey('ＡＬＩＣＥ')).toBe('ａｌｉｃｅ');
  });

  it('gives look-alikes one skeleton: other scripts, widths, digits and case tricks', () => {
    const alice = usernameSkeleton('alice');
    for (const u of ['\u0430lice', 'ａｌｉｃｅ', 'AIice', 'aIice', 'Alice'])
      expect({ u, s: usernameSkeleton(u) }).toEqual({ u, s: alice });
    const mallory = usernameSkeleton('mallory');
    for (const u of ['rnallory', 'MALL0RY', 'ma11ory', 'ｍａｌｌｏｒｙ'])
      expect({ u, s: usernameSkeleton(u) }).toEqual({ u, s: mallory });
    expect(usernameSkeleton('bob')).not.toBe(alice);
    expect(usernameSkeleton('alicia')).not.toBe(alice);
  });

  it('a skeleton fits its column', () => {
    expect(usernameSkeleton('꽦'.repeat(32)).length).toBeLessThanOrEqual(USERNAME_SKELETON_MAX);
  });
});
