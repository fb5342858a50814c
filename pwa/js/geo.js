// The answers of ODK's line and shape questions (geotrace, geoshape) and their points: the
// JavaScript twin of schemas/geo.py, held equal by schemas/geo_cases.json. No DOM here.

export const MAX_GEO_POINTS = 1000;
export const MAX_GEO_LENGTH = 100000;
const MAX_ALTITUDE = 100000;
const MAX_ACCURACY = 1000000;
export const GEO_TYPES = new Set(['geotrace', 'geoshape']);
export const LEAST_POINTS = { geotrace: 2, geoshape: 4 };

// Plain decimal numbers only, and XML's own white space, as schemas/geo.py reads them.
const NUMBER = '[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?';
const POINT = new RegExp(`^[ \\t\\r\\n]*(${NUMBER})[ \\t\\r\\n]+(${NUMBER})`
  + `(?:[ \\t\\r\\n]+(${NUMBER})(?:[ \\t\\r\\n]+(${NUMBER}))?)?[ \\t\\r\\n]*$`);
const SPACE = /^[ \t\r\n]+|[ \t\r\n]+$/g;

/** Length in code points, as Python counts it (only a long text is counted the slow way). */
function codePoints(text) {
  return text.length > MAX_GEO_LENGTH ? [...text].length : text.length;
}

/** `[lat, lon, alt, acc]` of one point's text (alt, acc null when left out), or null. */
export function readPoint(text) {
  const found = POINT.exec(String(text));
  if (!found) return null;
  const [lat, lon] = [Number(found[1]), Number(found[2])];
  const alt = found[3] === undefined ? null : Number(found[3]);
  const acc = found[4] === undefined ? null : Number(found[4]);
  if (![lat, lon, alt ?? 0, acc ?? 0].every(Number.isFinite)) return null;
  if (!(lat >= -90 && lat <= 90 && lon >= -180 && lon <= 180)) return null;
  if (alt !== null && Math.abs(alt) > MAX_ALTITUDE) return null;
  if (acc !== null && !(acc >= 0 && acc <= MAX_ACCURACY)) return null;
  return [lat, lon, alt, acc];
}

/** Every point of a ";"-separated answer, or null (not a point, or too many). */
export function readPoints(value) {
  if (typeof value !== 'string' || codePoints(value) > MAX_GEO_LENGTH) return null;
  const texts = value.split(';');
  if (texts.length > MAX_GEO_POINTS) return null;
  const points = texts.map(readPoint);
  return points.some((p) => p === null) ? null : points;
}

/** not_geotrace / not_geoshape, too_many_points, shape_not_closed, or null: geo.py's rule. */
export function geoProblem(kind, value) {
  if (typeof value === 'string' && codePoints(value) <= MAX_GEO_LENGTH
      && value.split(';').length > MAX_GEO_POINTS) return 'too_many_points';
  const points = readPoints(value);
  if (points === null || points.length < LEAST_POINTS[kind]) return `not_${kind}`;
  const [first, last] = [points[0], points[points.length - 1]];
  if (kind === 'geoshape' && (first[0] !== last[0] || first[1] !== last[1])) return 'shape_not_closed';
  return null;
}

/** The point texts of an answer as the volunteer took them: a shape without its closing point. */
export function pointTexts(kind, value) {
  const texts = String(value || '').split(';').map((t) => t.replace(SPACE, '')).filter(Boolean);
  if (kind === 'geoshape' && texts.length > 1) {
    const [first, last] = [readPoint(texts[0]), readPoint(texts[texts.length - 1])];
    if (first && last && first[0] === last[0] && first[1] === last[1]) texts.pop();
  }
  return texts;
}

/**
 * The answer of the points taken: a line as they are, a shape closed with its first point
 * (the volunteer never walks back to repeat it). Too few points are kept all the same (a
 * draft loses nothing); the check says how many more are needed.
 */
export function answerOf(kind, texts) {
  return (kind === 'geoshape' && texts.length > 1 ? [...texts, texts[0]] : texts).join(';');
}
