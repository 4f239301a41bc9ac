/**
 * The in-band notice of rotated files removed unread (TailHandler.rotationGap), published by
 * systail and apptail in the file's own stream. `after` is a human time (RFC 3339).
 */
export function rotationGapNoticeText(file: string, after: string, files: number | undefined): string {
  const what = files === undefined ? 'rotated files were' : `${files} rotated file${files === 1 ? ' was' : 's were'}`;
  return `logyard: ${file} was rotated faster than it could be read: ${what} removed unread, lines written after ${after} are missing`;
}
