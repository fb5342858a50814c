// Photos: downscaled on the phone to about 1600 px JPEG before they are stored, kept in
// IndexedDB by their SHA-256 (the record holds only the hash) until the server has them.
import { get, put } from './db.js';

export const MAX_SIDE = 1600;

/** The size a photo is drawn at so that its longer side is at most `max`. */
export function fitWithin(width, height, max = MAX_SIDE) {
  const scale = Math.min(1, max / Math.max(width, height));
  return { width: Math.round(width * scale), height: Math.round(height * scale) };
}

export async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
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
  const sha256 = await sha256Hex(blob);
  if (!(await get('blobs', sha256))) await put('blobs', { sha256, blob, uploaded: false, width: size.width, height: size.height });
  return sha256;
}

/** An object URL for a stored photo, or null. */
export async function photoUrl(sha256) {
  const stored = await get('blobs', sha256);
  return stored ? URL.createObjectURL(stored.blob) : null;
}
