import type { Command } from 'commander';
import { BerthError } from '../errors.js';

/** Subcommands and options of each command path, e.g. "" -> top level, "container" -> its subcommands. */
function describe(program: Command): Map<string, { commands: string[]; options: string[] }> {
  const table = new Map<string, { commands: string[]; options: string[] }>();
  const walk = (cmd: Command, path: string): void => {
    const options = cmd.options.flatMap((o) => [o.short, o.long].filter((x): x is string => typeof x === 'string'));
    const visible = cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
    table.set(path, { commands: visible.map((c) => c.name()), options: [...new Set([...options, '--help'])] });
    for (const sub of visible) {
      // An alias (pod ls, container list) completes as its command does.
      for (const name of [sub.name(), ...sub.aliases()]) walk(sub, path === '' ? name : `${path} ${name}`);
    }
  };
  walk(program, '');
  return table;
}

/** The names each command's arguments complete with (`berth __complete KIND`). */
const ARGUMENT_KINDS: Readonly<Record<string, string>> = {
  rm: 'containers',
  inspect: 'containers pods volumes',
  'container inspect': 'containers',
  'container rm': 'containers',
  'container remove': 'containers',
  'container rename': 'containers',
  'network connect': 'containers',
  'network disconnect': 'containers',
  'pod inspect': 'pods',
  'pod rm': 'pods',
  'pod remove': 'pods',
  'volume inspect': 'volumes',
  'volume rm': 'volumes',
  'volume remove': 'volumes',
  'workspace select': 'workspaces',
  'workspace delete': 'workspaces',
  'state unlock': 'locks',
  'force-unlock': 'locks',
};

/** A bash or zsh completion script for the command tree. */
export function completionScript(program: Command, shell: string): string {
  const table = describe(program);
  const globals = table.get('')!.options;
  const cases = [...table]
    .map(([path, { commands, options }]) => {
      const words = [...new Set([...commands, ...options, ...(path === '' ? [] : globals)])].join(' ');
      const kinds = ARGUMENT_KINDS[path];
      return `    "${path}") __VAR__="${words}"${kinds ? ` kinds="${kinds}"` : ''} ;;`;
    })
    .join('\n');
  const template = `  local path="" w prev="" store="" kinds="" k
  for w in "\${line[@]:1:$((cur_index-1))}"; do
    if [ "$prev" = "--store" ]; then store="$w"; prev=""; continue; fi
    prev="$w"
    case "$w" in -*) continue ;; esac
    if [ -z "$path" ]; then cand="$w"; else cand="$path $w"; fi
    case "$cand" in
${[...table.keys()]
  .filter((p) => p !== '')
  .map((p) => `      "${p}") path="$cand" ;;`)
  .join('\n')}
    esac
  done
  local __VAR__=""
  case "$path" in
${cases}
  esac
  # Names from the store (read-only: completion never creates a store).
  case "$cur" in -*) kinds="" ;; esac
  for k in $kinds; do
    __VAR__="$__VAR__ $(berth \${store:+--store "$store"} __complete "$k" 2>/dev/null)"
  done`;
  const body = (variable: string): string => template.replaceAll('__VAR__', variable);
  if (shell === 'bash') {
    return `# berth bash completion: eval "$(berth completion bash)"
_berth() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" cur_index=$COMP_CWORD cand
  local -a line=("\${COMP_WORDS[@]}")
${body('words')}
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _berth berth
`;
  }
  if (shell === 'zsh') {
    return `#compdef berth
# berth zsh completion: eval "$(berth completion zsh)"
_berth() {
  local cur_index=$((CURRENT-1)) cand
  local -a line=("\${words[@]}")
  setopt localoptions ksharrays
${body('cands')}
  compadd -- \${=cands}
}
compdef _berth berth
`;
  }
  throw new BerthError('INVALID_ARGUMENT', `no completion for shell ${JSON.stringify(shell)}; use bash or zsh`);
}
