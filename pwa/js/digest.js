/**
 * MD5 (RFC 1321), SHA-1 and SHA-2 (FIPS 180-4) for the expression engine's digest().
 *
 * The browser's crypto.subtle.digest answers only asynchronously, and an expression is worked
 * out synchronously while the volunteer types, so the hashes are written here from their
 * specifications. SHA-384/512 work on 64-bit words held as BigInt: digests are short texts
 * (an ID number, a name), never files.
 * @module digest
 */

const rotl32 = (x, n) => ((x << n) | (x >>> (32 - n))) >>> 0;
const rotr32 = (x, n) => ((x >>> n) | (x << (32 - n))) >>> 0;

// The message padded to whole blocks, its bit length written at the end (big- or little-endian).
function pad(bytes, blockSize, lengthBytes, littleEndian) {
  const total = Math.ceil((bytes.length + 1 + lengthBytes) / blockSize) * blockSize;
  const out = new Uint8Array(total);
  out.set(bytes);
  out[bytes.length] = 0x80;
  let bits = BigInt(bytes.length) * 8n;
  for (let i = 0; i < lengthBytes; i++) {
    const at = littleEndian ? total - lengthBytes + i : total - 1 - i;
    out[at] = Number(bits & 0xffn);
    bits >>= 8n;
  }
  return out;
}

const wordsToBytes = (words, littleEndian) => {
  const out = new Uint8Array(words.length * 4);
  words.forEach((w, i) => {
    for (let b = 0; b < 4; b++) {
      out[i * 4 + b] = (w >>> (littleEndian ? 8 * b : 24 - 8 * b)) & 0xff;
    }
  });
  return out;
};

const MD5_SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const MD5_K = Array.from({ length: 64 },
  (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0);

function md5(bytes) {
  const data = pad(bytes, 64, 8, true);
  let [a0, b0, c0, d0] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
  for (let off = 0; off < data.length; off += 64) {
    const m = new Uint32Array(16);
    for (let i = 0; i < 16; i++) {
      const at = off + i * 4;
      m[i] = (data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24)) >>> 0;
    }
    let [a, b, c, d] = [a0, b0, c0, d0];
    for (let i = 0; i < 64; i++) {
      const round = i >> 4;
      let f;
      let g;
      if (round === 0) { f = (b & c) | (~b & d); g = i; }
      else if (round === 1) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
      else if (round === 2) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
      else { f = c ^ (b | ~d); g = (7 * i) % 16; }
      const sum = (a + (f >>> 0) + MD5_K[i] + m[g]) >>> 0;
      [a, d, c] = [d, c, b];
      b = (b + rotl32(sum, MD5_SHIFTS[round * 4 + (i % 4)])) >>> 0;
    }
    a0 = (a0 + a) >>> 0; b0 = (b0 + b) >>> 0; c0 = (c0 + c) >>> 0; d0 = (d0 + d) >>> 0;
  }
  return wordsToBytes([a0, b0, c0, d0], true);
}

const readWordsBE = (data, off, count) => {
  const w = new Uint32Array(count);
  for (let i = 0; i < 16; i++) {
    const at = off + i * 4;
    w[i] = ((data[at] << 24) | (data[at + 1] << 16) | (data[at + 2] << 8) | data[at + 3]) >>> 0;
  }
  return w;
};

function sha1(bytes) {
  const data = pad(bytes, 64, 8, false);
  const h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  for (let off = 0; off < data.length; off += 64) {
    const w = readWordsBE(data, off, 80);
    for (let t = 16; t < 80; t++) w[t] = rotl32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    let [a, b, c, d, e] = h;
    for (let t = 0; t < 80; t++) {
      let f;
      let k;
      if (t < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
      else if (t < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
      else if (t < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
      else { f = b ^ c ^ d; k = 0xca62c1d6; }
      const temp = (rotl32(a, 5) + (f >>> 0) + e + k + w[t]) >>> 0;
      [e, d, c, b, a] = [d, c, rotl32(b, 30), a, temp];
    }
    [a, b, c, d, e].forEach((v, i) => { h[i] = (h[i] + v) >>> 0; });
  }
  return wordsToBytes(h, false);
}

// The first 32 bits of the fractional parts of the cube roots of the first 64 primes.
const PRIMES = [];
for (let n = 2; PRIMES.length < 80; n++) {
  if (PRIMES.every((p) => n % p !== 0)) PRIMES.push(n);
}
const SHA256_K = PRIMES.slice(0, 64).map((p) => {
  const root = Math.cbrt(p);
  return Math.floor((root - Math.floor(root)) * 2 ** 32) >>> 0;
});
const SHA256_H = PRIMES.slice(0, 8).map((p) => {
  const root = Math.sqrt(p);
  return Math.floor((root - Math.floor(root)) * 2 ** 32) >>> 0;
});

function sha256(bytes) {
  const data = pad(bytes, 64, 8, false);
  const h = SHA256_H.slice();
  for (let off = 0; off < data.length; off += 64) {
    const w = readWordsBE(data, off, 64);
    for (let t = 16; t < 64; t++) {
      const s0 = rotr32(w[t - 15], 7) ^ rotr32(w[t - 15], 18) ^ (w[t - 15] >>> 3);
      const s1 = rotr32(w[t - 2], 17) ^ rotr32(w[t - 2], 19) ^ (w[t - 2] >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let t = 0; t < 64; t++) {
      const s1 = rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25);
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + (s1 >>> 0) + (ch >>> 0) + SHA256_K[t] + w[t]) >>> 0;
      const s0 = rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22);
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = ((s0 >>> 0) + (maj >>> 0)) >>> 0;
      [hh, g, f, e, d, c, b, a] = [g, f, e, (d + t1) >>> 0, c, b, a, (t1 + t2) >>> 0];
    }
    [a, b, c, d, e, f, g, hh].forEach((v, i) => { h[i] = (h[i] + v) >>> 0; });
  }
  return wordsToBytes(h, false);
}

// SHA-512's constants are the first 64 bits of the same fractional parts, worked out exactly
// with integer roots (a double holds only 53 bits).
const M64 = (1n << 64n) - 1n;

function fractionBits(p, degree) {
  // floor(frac(p ** (1/degree)) * 2**64) = floor((p * 2**(64*degree)) ** (1/degree)) mod 2**64
  const target = BigInt(p) << BigInt(64 * degree);
  let lo = 0n;
  let hi = 1n << 72n;
  while (lo < hi) {
    const mid = (lo + hi + 1n) >> 1n;
    if (mid ** BigInt(degree) <= target) lo = mid; else hi = mid - 1n;
  }
  return lo & M64;
}

let sha512Constants = null;

function sha512Constants64() {
  if (sha512Constants === null) {
    sha512Constants = {
      k: PRIMES.map((p) => fractionBits(p, 3)),
      h512: PRIMES.slice(0, 8).map((p) => fractionBits(p, 2)),
      h384: PRIMES.slice(8, 16).map((p) => fractionBits(p, 2)),
    };
  }
  return sha512Constants;
}

const rotr64 = (x, n) => ((x >> n) | (x << (64n - n))) & M64;

function sha512(bytes, initial, outWords) {
  const { k } = sha512Constants64();
  const data = pad(bytes, 128, 16, false);
  const h = initial.slice();
  for (let off = 0; off < data.length; off += 128) {
    const w = new Array(80);
    for (let i = 0; i < 16; i++) {
      let v = 0n;
      for (let b = 0; b < 8; b++) v = (v << 8n) | BigInt(data[off + i * 8 + b]);
      w[i] = v;
    }
    for (let t = 16; t < 80; t++) {
      const s0 = rotr64(w[t - 15], 1n) ^ rotr64(w[t - 15], 8n) ^ (w[t - 15] >> 7n);
      const s1 = rotr64(w[t - 2], 19n) ^ rotr64(w[t - 2], 61n) ^ (w[t - 2] >> 6n);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) & M64;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let t = 0; t < 80; t++) {
      const s1 = rotr64(e, 14n) ^ rotr64(e, 18n) ^ rotr64(e, 41n);
      const ch = (e & f) ^ (~e & M64 & g);
      const t1 = (hh + s1 + ch + k[t] + w[t]) & M64;
      const s0 = rotr64(a, 28n) ^ rotr64(a, 34n) ^ rotr64(a, 39n);
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (s0 + maj) & M64;
      [hh, g, f, e, d, c, b, a] = [g, f, e, (d + t1) & M64, c, b, a, (t1 + t2) & M64];
    }
    [a, b, c, d, e, f, g, hh].forEach((v, i) => { h[i] = (h[i] + v) & M64; });
  }
  const out = new Uint8Array(outWords * 8);
  for (let i = 0; i < outWords; i++) {
    for (let b = 0; b < 8; b++) out[i * 8 + b] = Number((h[i] >> BigInt(56 - 8 * b)) & 0xffn);
  }
  return out;
}

const ALGORITHMS = {
  'md5': md5,
  'sha-1': sha1,
  'sha-256': sha256,
  'sha-384': (bytes) => sha512(bytes, sha512Constants64().h384, 6),
  'sha-512': (bytes) => sha512(bytes, sha512Constants64().h512, 8),
};

const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const toBase64 = (bytes) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(''));

/**
 * digest(): the hash of text's UTF-8 bytes, as base64 or hex; '' for an unknown algorithm or
 * encoding (names in any case).
 * @param {string} text
 * @param {string} algorithm MD5, SHA-1, SHA-256, SHA-384 or SHA-512
 * @param {string} [encoding] base64 (the default) or hex
 * @returns {string}
 */
export function digest(text, algorithm, encoding = 'base64') {
  const name = algorithm.toLowerCase();
  const how = encoding.toLowerCase();
  if (!Object.hasOwn(ALGORITHMS, name) || (how !== 'base64' && how !== 'hex')) return '';
  const raw = ALGORITHMS[name](new TextEncoder().encode(text));
  return how === 'hex' ? toHex(raw) : toBase64(raw);
}
