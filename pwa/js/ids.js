// The ids the phone makes (a visit's record and each revision of it, a household met on the
// lane): UUIDs of version 7 (RFC 9562), the first 48 bits the time the id was made, in
// milliseconds, the other 74 random. The server takes any UUID; these sort by when they were
// made, so a day's visits land side by side in the server's indexes instead of each on a
// page of its own anywhere in them: a batch writes fewer pages (README, Performance). The time
// they hold is when the phone made them, by its clock (a record's: the visit's start, already
// in its meta as started_at); a wrong clock only places the id elsewhere in the order, never
// makes two the same.

/** A new id: `now` in milliseconds (the phone's clock), `random` fills 10 bytes. */
export function uuid(now = Date.now(), random = (bytes) => crypto.getRandomValues(bytes)) {
  const b = new Uint8Array(16);
  random(b.subarray(6));
  let ms = Math.max(0, Math.floor(now));
  for (let i = 5; i >= 0; i -= 1) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
