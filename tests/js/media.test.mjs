import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FileTooLarge, formatSize, storeFile } from '../../pwa/js/blobs.js';

test('sizes read as people read them', () => {
  assert.equal(formatSize(300), '1 KB');
  assert.equal(formatSize(8_009), '8 KB');
  assert.equal(formatSize(999_499), '999 KB');
  assert.equal(formatSize(10_000_001), '10.0 MB');
  assert.equal(formatSize(12_345_678), '12.3 MB');
});

test('a file past its question type\'s bound is refused before it is read or stored', async () => {
  const huge = { size: 10_000_001, name: 'to.pdf', type: 'application/pdf', arrayBuffer: () => assert.fail('read') };
  await assert.rejects(storeFile(huge, 'file'), (error) => error instanceof FileTooLarge && error.max === 10_000_000);
  await assert.rejects(storeFile({ ...huge, size: 20_000_001 }, 'video'), FileTooLarge);
  await assert.rejects(storeFile({ ...huge, size: 10_000_001 }, 'audio'), FileTooLarge);
});
