import type { JournalEvent } from './event.js';

/** A line joined from pieces is published once it reaches this size, even without its last piece. */
const MAX_JOINED_CHARS = 512 * 1024;

/**
 * Docker's journald log driver cuts lines longer than 16 KiB into several entries, each but the
 * last marked CONTAINER_PARTIAL_MESSAGE=true. The pieces of a container's line are joined here
 * into one event, as apptail joins docker-json's partial records.
 */
export class PartialLines {
  private readonly pending = new Map<string, { event: JournalEvent; text: string }>();

  /** Whether a line is being joined (its pieces are read, its event not published yet). */
  get joining(): boolean {
    return this.pending.size > 0;
  }

  /**
   * The event to publish for this entry's event: null while its line goes on; the event with
   * the joined text at the line's last piece.
   */
  join(event: JournalEvent, partial: boolean): JournalEvent | null {
    const text = event.fields.text as string;
    const before = this.pending.get(event.key);
    if (!partial && before === undefined) return event;
    const joined = (before?.text ?? '') + text;
    if (!partial || joined.length >= MAX_JOINED_CHARS) {
      this.pending.delete(event.key);
      return { ...event, fields: { ...event.fields, text: joined } };
    }
    this.pending.set(event.key, { event, text: joined });
    return null;
  }

  /** The lines cut short (the client stops before their last piece), as far as they came. */
  takeAll(): JournalEvent[] {
    const events = [...this.pending.values()].map(({ event, text }) => ({ ...event, fields: { ...event.fields, text } }));
    this.pending.clear();
    return events;
  }
}
