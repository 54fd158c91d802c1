import { keyOfMediaUrl, mediaUrlOf } from './media-urls';
import { storageKeyOfUrl } from './upload-references';

const KEY = 'videos/2026/11/0123456789abcdef0123456789abcdef.webm';

describe('media URLs', () => {
  const plain = { publicBaseUrl: null, mediaBaseUrl: null };
  const pub = { publicBaseUrl: 'https://api.example.com', mediaBaseUrl: null };
  const cdn = { publicBaseUrl: 'https://api.example.com', mediaBaseUrl: 'https://cdn.example.com/media' };

  it('are /static/<key>, absolute under PUBLIC_BASE_URL, or <MEDIA_BASE_URL>/<key> when a CDN is in front', () => {
    expect(mediaUrlOf(plain, KEY)).toBe(`/static/${KEY}`);
    expect(mediaUrlOf(pub, KEY)).toBe(`https://api.example.com/static/${KEY}`);
    expect(mediaUrlOf(cdn, KEY)).toBe(`https://cdn.example.com/media/${KEY}`);
  });

  it('give their key back in every form the config allows, and nothing else', () => {
    for (const config of [plain, pub, cdn]) {
      expect(keyOfMediaUrl(config, mediaUrlOf(config, KEY))).toBe(KEY);
      expect(keyOfMediaUrl(config, `/static/${KEY}`)).toBe(KEY);
    }
    expect(keyOfMediaUrl(cdn, `https://api.example.com/static/${KEY}`)).toBe(KEY);
    expect(keyOfMediaUrl(pub, `https://cdn.example.com/media/${KEY}`)).toBeNull();
    expect(keyOfMediaUrl(cdn, `https://cdn.example.com/media/../${KEY}`)).toBeNull();
    expect(keyOfMediaUrl(cdn, `https://cdn.example.com/mediax/${KEY}`)).toBeNull();
    expect(keyOfMediaUrl(plain, '/static/parts/abc/0x1.part')).toBeNull();
    expect(keyOfMediaUrl(plain, `/static/${KEY}?x=1`)).toBeNull();
  });

  it('reference matching finds the key at the end of any of them, whatever the host', () => {
    for (const url of [
      `/static/${KEY}`,
      `http://localhost:8080/static/${KEY}`,
      `https://cdn.example.com/media/${KEY}`,
      `https://other-cdn.example.net/${KEY}`,
    ]) {
      expect(storageKeyOfUrl(url)).toBe(KEY);
    }
    expect(storageKeyOfUrl(`https://cdn.example.com/${KEY}.txt`)).toBeNull();
    expect(storageKeyOfUrl('https://cdn.example.com/videos/2026/11/short.webm')).toBeNull();
    expect(storageKeyOfUrl('')).toBeNull();
  });
});
