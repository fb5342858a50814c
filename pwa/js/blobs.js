// Photos, recordings, films and documents: kept in IndexedDB by their SHA-256 (the record
// holds only the hash) until the server has them. A photo is downscaled to about 1600 px
// JPEG first; any other file is kept as the phone made it, within its kind's bound. The
// files a form's labels show are kept here too, fetched once per version (`uploaded`).
import { get, put } from './db.js';

export const MAX_SIDE = 1600;
// As the server bounds them (schemas/media.py, held equal by tests/unit/test_media.py).
export const ANSWER_MAX_BYTES = { image: 5_000_000, audio: 10_000_000, video: 20_000_000, file: 10_000_000, audit: 5_000_000 };

export class FileTooLarge extends Error {
  constructor(size, max) { super('file too large'); this.size = size; this.max = max; }
}

/** "850 KB", "12.5 MB": a size as people read it. */
export function formatSize(bytes) {
  return bytes < 1_000_000 ? `${Math.max(1, Math.round(bytes / 1000))} KB` : `${(bytes / 1_000_000).toFixed(1)} MB`;
}

/** The size a photo is drawn at so that its longer side is at most `max`. */
export function fitWithin(width, height, max = MAX_SIDE) {
  const scale = Math.min(1, max / Math.max(width, height));
  return { width: Math.round(width * scale), height: Math.round(height * scale) };
}

export async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

async function keep(blob, extra) {
  const sha256 = await sha256Hex(blob);
  if (!(await get('blobs', sha256))) await put('blobs', { sha256, blob, uploaded: false, size: blob.size, ...extra });
  return sha256;
}

/** Downscale a camera file to JPEG, store it, and return its hash. */
export async function storePhoto(file) {
  const bitmap = await createImageBitmap(file);
  const size = fitWithin(bitmap.width, bitmap.height);
  const canvas = document.createElement('canvas');
  canvas.width = size.width;
  canvas.height = size.height;
  canvas.getContext('2d').drawImage(bitmap, 0, 0, size.width, size.height);
  bitmap.close?.();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.8));
  if (blob.size > ANSWER_MAX_BYTES.image) throw new FileTooLarge(blob.size, ANSWER_MAX_BYTES.image);
  return keep(blob, { width: size.width, height: size.height });
}

/** Store a recording, a film or a document as it is (`kind`: its question's type). */
export async function storeFile(file, kind) {
  const max = ANSWER_MAX_BYTES[kind] ?? ANSWER_MAX_BYTES.file;
  if (file.size > max) throw new FileTooLarge(file.size, max);
  // A plain Blob: some browsers keep a File in IndexedDB only as a reference to the disk.
  const blob = new Blob([await file.arrayBuffer()], { type: file.type || 'application/octet-stream' });
  return keep(blob, { name: String(file.name || '').slice(0, 255) });
}

/** What is stored for a hash: {sha256, blob, size, name?}, or undefined. */
export function stored(sha256) { return get('blobs', sha256); }

/** An object URL for a stored file, or null. */
export async function photoUrl(sha256) {
  const found = await get('blobs', sha256);
  return found ? URL.createObjectURL(found.blob) : null;
}
