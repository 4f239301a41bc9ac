import type { Command, Option } from 'commander';
import { configOf, withStore } from '../context.js';
import { usageError } from '../errors.js';

/** Arguments completed with names from the store (or files, or fixed words), by command path. */
const ARGUMENT_KINDS: Record<string, string> = {
  'drain delete': 'drains',
  'drain status': 'drains',
  'buffer check': 'drains',
  recent: 'drains',
  'format delete': 'stored-formats',
  'tenant delete': 'tenants',
  'tenant rotate': 'tenants',
  'config check': 'files',
  completion: 'words:bash zsh',
};
/** zsh runs the bash function through its bash completion layer (bashcompinit). */
const ZSH_PRELUDE = `#compdef logyard
(( $+functions[compdef] )) || { autoload -U +X compinit && compinit; }
autoload -U +X bashcompinit && bashcompinit
`;

/** Option values completed the same way, by long flag. */
const OPTION_KINDS: Record<string, string> = { '--format': 'formats', '--config': 'files', '--rules': 'files' };

export function registerCompletionCommands(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script: source <(logyard completion bash), or in ~/.zshrc: source <(logyard completion zsh)')
    .argument('<shell>', 'bash or zsh')
    .action((shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh') throw usageError(`completion: unknown shell "${shell}" (expected bash or zsh)`);
      const bash = bashScript(program);
      process.stdout.write(shell === 'bash' ? bash : `${ZSH_PRELUDE}${bash}`);
    });
  // What the completion function asks while completing: names from the store, one a line.
  program
    .command('__complete', { hidden: true })
    .argument('<kind>', 'drains, formats, stored-formats or tenants')
    .action(async (kind: string, _opts: unknown, cmd: Command) => {
      try {
        const config = configOf(cmd);
        const names = await withStore(config, async (store) => {
          if (kind === 'drains') return [...Object.keys(config.builtinDrains), ...(await store.listDrains()).filter((d) => !d.temporary).map((d) => d.name).filter((n) => !n.startsWith('tmp.'))];
          if (kind === 'tenants') return (await store.listTenants()).map((t) => t.name);
          const stored = Object.keys(await store.listFormats());
          return kind === 'stored-formats' ? stored : ['json', 'raw', 'systail', 'apptail', 'event', ...Object.keys(config.formats), ...stored];
        });
        process.stdout.write([...new Set(names)].sort().map((n) => `${n}\n`).join(''));
      } catch {
        // Completing must never print an error into the user's command line.
      }
    });
}

interface CommandInfo {
  path: string;
  subcommands: string[];
  flags: string[];
  valueFlags: string[];
}

function describe(cmd: Command, path: string): CommandInfo[] {
  const visible = cmd.createHelp().visibleCommands(cmd).filter((c) => c.name() !== 'help');
  const options = cmd.options as readonly Option[];
  const flags = [...options.flatMap((o) => [o.short, o.long]), '--help'].filter((f): f is string => !!f);
  const valueFlags = options.filter((o) => o.required || o.optional).flatMap((o) => [o.short, o.long]).filter((f): f is string => !!f);
  const self: CommandInfo = { path, subcommands: visible.map((c) => c.name()), flags, valueFlags };
  return [self, ...visible.flatMap((c) => describe(c, path ? `${path} ${c.name()}` : c.name()))];
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** A bash completion function generated from the commands themselves, so it never falls behind. */
function bashScript(program: Command): string {
  const infos = describe(program, '');
  // One assignment per key through a variable: bash's `([key]=value ...)` does not parse in
  // zsh -n, and zsh keeps quotes written inside a subscript as part of the key.
  const assign = (name: string, entries: Array<[string, string]>): string =>
    entries.map(([k, v]) => `_logyard_k=${quote(k)}; ${name}[$_logyard_k]=${quote(v)}`).join('\n');
  const table = (name: string, pick: (i: CommandInfo) => string[]): string =>
    assign(name, infos.map((i) => [i.path || '.', pick(i).join(' ')]));
  const kinds = (name: string, map: Record<string, string>): string => assign(name, Object.entries(map));
  return `# logyard completion for bash: source <(logyard completion bash)
declare -gA _logyard_sub _logyard_flags _logyard_value_flags _logyard_arg_kinds _logyard_value_kinds
${table('_logyard_sub', (i) => i.subcommands)}
${table('_logyard_flags', (i) => i.flags)}
${table('_logyard_value_flags', (i) => i.valueFlags)}
${kinds('_logyard_arg_kinds', ARGUMENT_KINDS)}
${kinds('_logyard_value_kinds', OPTION_KINDS)}
unset _logyard_k

_logyard_complete_kind() {
  # In zsh: bash's 0-based arrays (and word splitting) inside these functions.
  [[ -n \${ZSH_VERSION-} ]] && emulate -L ksh
  local kind=$1 cur=$2
  shift 2
  case "$kind" in
    drains|formats|stored-formats|tenants) COMPREPLY=($(compgen -W "$("\${COMP_WORDS[0]}" "$@" __complete "$kind" 2>/dev/null)" -- "$cur")) ;;
    files) COMPREPLY=($(compgen -f -- "$cur")) ;;
    words:*) COMPREPLY=($(compgen -W "\${kind#words:}" -- "$cur")) ;;
  esac
}

_logyard() {
  [[ -n \${ZSH_VERSION-} ]] && emulate -L ksh
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local words_path="" global=() word i
  local globals=" \${_logyard_value_flags[.]} "
  # The command path so far (not in "path": zsh ties that to PATH); global options and their
  # values go along to __complete.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    if [[ $globals == *" $word "* ]]; then
      global+=("$word" "\${COMP_WORDS[i+1]}")
      ((i++))
      continue
    fi
    [[ $word == -* ]] && continue
    local key=\${words_path:-.}
    if [[ " \${_logyard_sub[$key]} " == *" $word "* ]]; then words_path="\${words_path:+$words_path }$word"; else break; fi
  done
  local key=\${words_path:-.}
  # The value of an option: its kind, else nothing to offer.
  if [[ " \${_logyard_value_flags[$key]} \${_logyard_value_flags[.]} " == *" $prev "* ]]; then
    local long=$prev
    [[ $prev == -c ]] && long=--config
    _logyard_complete_kind "\${_logyard_value_kinds[$long]}" "$cur" "\${global[@]}"
    return 0
  fi
  if [[ $cur == -* ]]; then
    local flags=\${_logyard_flags[$key]}
    # Global options go anywhere; at the top they are the command's own already.
    [[ $key == . ]] || flags+=" \${_logyard_flags[.]/--help/}"
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ -n \${_logyard_sub[$key]} ]]; then
    COMPREPLY=($(compgen -W "\${_logyard_sub[$key]}" -- "$cur"))
  elif [[ -n \${_logyard_arg_kinds[$key]} ]]; then
    _logyard_complete_kind "\${_logyard_arg_kinds[$key]}" "$cur" "\${global[@]}"
  fi
  return 0
}
complete -o default -F _logyard logyard
`;
}
