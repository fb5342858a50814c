// XLSForm's audit question on the phone: a log of the volunteer's moves through the form, kept
// with the draft (record.audit) and written at finalize as ODK Collect's audit.csv (event, node,
// start, end in milliseconds since 1970 UTC; old-value and new-value with track-changes=true),
// which travels as the record's file, as a photo does. Bounded: past MAX_AUDIT_EVENTS events or
// MAX_AUDIT_BYTES of CSV the log stops with a last 'log full' row, and the
// record is finalized and sent all the same. No DOM here: node --test runs it.

// schemas/media.py: MAX_AUDIT_EVENTS and MAX_AUDIT_LOG_BYTES, held equal by
// tests/unit/test_audit_log.py (within the server's bound on the file, ANSWER_MAX_BYTES.audit).
export const MAX_AUDIT_EVENTS = 5000;
export const MAX_AUDIT_BYTES = 1000000;
export const LOG_FULL = 'log full';

/** The form's audit question (outside repeats, as pyxform puts it in meta), or null. */
export function auditNode(form) {
  for (const node of form.nodes.values()) if (node.type === 'audit' && !node.repeats.length) return node;
  return null;
}

/** Whether the audit row asks for old and new values (`track-changes=true`). */
export function tracksChanges(node) {
  return /(?:^|\s)track-changes\s*=\s*['"]?true['"]?(?:\s|$)/i.test(String(node?.row?.parameters || ''));
}

/**
 * The XPath ODK writes in the node column for a question's path on the phone
 * (`members[1].name` → `/data/members[2]/name`): its groups and repeats, positions from 1.
 */
export function nodePath(form, path) {
  const indexes = {};
  for (const [, name, index] of String(path).matchAll(/([^.[\]]+)\[(\d+)\]/g)) indexes[name] = Number(index);
  const key = String(path).replace(/^.*\./, '').replace(/\[\d+\]$/, '');
  const parts = [];
  for (let node = form.nodes.get(key); node && node !== form.root; node = node.parent) {
    const written = String(node.row.name || node.name).trim();
    parts.unshift(node.kind === 'repeat' && key !== node.name && node.name in indexes ? `${written}[${indexes[node.name] + 1}]` : written);
  }
  return `/data/${parts.length ? parts.join('/') : key}`;
}

/** An answer as ODK writes it in the log: a list's names space-separated. */
function answerText(value) {
  if (value === undefined || value === null) return '';
  return Array.isArray(value) ? value.join(' ') : String(value);
}

/** A CSV cell, quoted when it holds a comma, a quote or a line break. */
function cell(text) {
  const s = String(text ?? '');
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The log of one record. `state` is what is kept with the draft ({events, full}); every method
 * changes it in place, so saving the record saves the log.
 */
export class AuditLog {
  constructor(state, { track = false, max = MAX_AUDIT_EVENTS } = {}) {
    this.state = state && Array.isArray(state.events) ? state : { events: [], full: false };
    this.track = track;
    this.max = max;
    this.open = null; // the question entered and not yet left
  }

  #add(event) {
    const { events } = this.state;
    if (this.state.full) return null;
    if (events.length >= this.max - 1) {
      // The last place is the marker's: the log says it stopped, never just ends.
      this.state.full = true;
      events.push({ event: LOG_FULL, node: '', start: event.start, end: null });
      return null;
    }
    events.push(event);
    return event;
  }

  /** form start, form resume, form save, form exit, form finalize … at `now` (ms). */
  mark(event, now) {
    this.#add({ event, node: '', start: now, end: null });
  }

  /**
   * The volunteer came to the question at `path` (`node`: its XPath), holding `value`. A
   * question still open is closed first, as left unchanged (call leave() with its answer before).
   */
  enter(path, node, value, now) {
    if (this.open?.path === path) return;
    this.leave(undefined, now);
    const event = this.#add({ event: 'question', node, start: now, end: null });
    this.open = event ? { path, event, before: answerText(value) } : null;
  }

  /** The open question was left, its answer now `value` (undefined: taken as unchanged). */
  leave(value, now) {
    if (!this.open) return;
    const { event, before } = this.open;
    this.open = null;
    event.end = now;
    const after = value === undefined ? before : answerText(value);
    if (this.track && after !== before) {
      event.old = before;
      event.new = after;
    }
  }

  /** The path of the question open now, or null. */
  get openPath() { return this.open?.path ?? null; }

  /** audit.csv: ODK's columns, within MAX_AUDIT_BYTES (the marker row last when cut). */
  csv() {
    const encoder = new TextEncoder();
    const head = this.track ? 'event,node,start,end,old-value,new-value\n' : 'event,node,start,end\n';
    const row = (e) => {
      const cells = [e.event, e.node, e.start ?? '', e.end ?? ''];
      if (this.track) cells.push(e.old ?? '', e.new ?? '');
      return `${cells.map(cell).join(',')}\n`;
    };
    let out = head;
    let bytes = encoder.encode(head).length;
    const events = this.state.events;
    for (let i = 0; i < events.length; i++) {
      const line = row(events[i]);
      const size = encoder.encode(line).length;
      const marker = row({ event: LOG_FULL, node: '', start: events[i].start, end: null });
      // Room is kept for the marker after each row, unless this is the marker itself.
      const room = events[i].event === LOG_FULL ? 0 : encoder.encode(marker).length;
      if (bytes + size + room > MAX_AUDIT_BYTES) {
        out += marker;
        break;
      }
      out += line;
      bytes += size;
    }
    return out;
  }
}

/** The answer at a question's path on the phone (`members[1].name`), or undefined. */
export function valueAt(data, path) {
  let scope = data;
  for (const part of String(path).split('.')) {
    const m = /^(.*)\[(\d+)\]$/.exec(part);
    scope = m ? scope?.[m[1]]?.[Number(m[2])] : scope?.[part];
  }
  return scope;
}
