import { cursorProbe } from './count-index';
import { indexMember } from './id-index';

describe('cursorProbe', () => {
  it.each([1, 2, 9, 10, 99, 100, 123_456, 999_999_999])(
    'sorts strictly between the members of id - 1 and id (%i), so the keyset after it is (count = c, id < i)',
    (id) => {
      const probe = cursorProbe(id);
      expect(probe > indexMember(id - 1)).toBe(true);
      expect(probe < indexMember(id)).toBe(true);
      // Never equal to a real member: the probe cannot replace an entry.
      expect(probe).not.toBe(indexMember(id - 1));
    },
  );

  it('orders as the ids do against every member around it', () => {
    const members = [0, 1, 7, 8, 9, 10, 11, 1000].map(indexMember);
    const probe = cursorProbe(10);
    expect(members.filter((m) => m < probe)).toEqual([0, 1, 7, 8, 9].map(indexMember));
  });
});
