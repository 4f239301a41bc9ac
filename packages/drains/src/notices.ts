import { humanTime, noticeJson } from '@logyard/bus';
import type { Gap } from './buffer.js';

/**
 * The words each drop reason is told with (docs/drains.md). `uri_changed`: events held for a
 * target of another kind (or for a URI that is unusable) when the drain's URI changed.
 */
const REASON_TEXT: Record<string, string> = {
  buffer_full: 'buffer full',
  core_stopped: 'core stopped',
  uri_changed: 'URI changed',
  disk_full: 'disk full',
  corrupt: 'corrupt',
};

/** `logyard: dropped N events for drain NAME since <human_time> (reason)`. */
export function dropNoticeText(drain: string, gap: Gap): string {
  return `logyard: dropped ${gap.count} events for drain ${drain} since ${humanTime(gap.since)} (${REASON_TEXT[gap.reason] ?? gap.reason.replace(/_/g, ' ')})`;
}

/**
 * The in-band drop notice of docs/drains.md. Besides `text`, it carries `name`, `type` and
 * `desc` so that the built-in templates (systail, event) show it readably too.
 */
export function dropNoticeJson(drain: string, nodeId: string, gap: Gap): string {
  const text = dropNoticeText(drain, gap);
  return noticeJson(text, nodeId, { name: 'logyard', type: 'notice', desc: text, drain, reason: gap.reason, dropped: gap.count });
}
