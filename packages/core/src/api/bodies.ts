import { z } from 'zod';
import { ApiError } from './http.js';

/**
 * The body of `PUT /v1/drains/NAME` (docs/tenants.md). Checked by zod, the one schema library of
 * the API: the shape, the types and the sizes; what a URI means is the drain parser's to say.
 */
const PutDrainBody = z
  .object({
    uri: z.string().min(1, 'must not be empty').max(4096, 'must be at most 4096 characters'),
    filters: z.array(z.string().max(255, 'must be at most 255 characters')).max(64, 'must be at most 64 filters').optional(),
  })
  .strict();

export type PutDrain = z.infer<typeof PutDrainBody>;

/** The body, or a 400 naming the first field at fault (`uri`, `filters[2]`, `body`). */
export function readPutDrain(body: unknown): PutDrain {
  const result = PutDrainBody.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : fieldName(issue.path) || 'body';
  const message = issue.code === 'unrecognized_keys' ? 'unknown field (expected uri, filters)' : issue.message;
  throw new ApiError(400, `${field}: ${message}`, field);
}

function fieldName(path: ReadonlyArray<PropertyKey>): string {
  return path.map((part, i) => (typeof part === 'number' ? `[${part}]` : `${i > 0 ? '.' : ''}${String(part)}`)).join('');
}
