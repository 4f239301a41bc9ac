import type { LogyardConfig } from './config.js';

/**
 * The named formats a drain on this node can use: the store's, with the config's winning (a
 * node's own file overrides the cluster's shared definitions). The core, `format`, `drain add`
 * and `config check` all see formats this way.
 */
export function nodeFormats(config: Pick<LogyardConfig, 'formats'>, storeFormats: Record<string, string>): Record<string, string> {
  return { ...storeFormats, ...config.formats };
}
