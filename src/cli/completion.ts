import type { Command } from 'commander';
import { BerthError } from '../errors.js';

/** Subcommands and options of each command path, e.g. "" -> top level, "container" -> its subcommands. */
function describe(program: Command): Map<string, { commands: string[]; options: string[] }> {
  const table = new Map<string, { commands: string[]; options: string[] }>();
  const walk = (cmd: Command, path: string): void => {
    const options = cmd.options.flatMap((o) => [o.short, o.long].filter((x): x is string => typeof x === 'string'));
    table.set(path, { commands: cmd.commands.map((c) => c.name()), options: [...options, '--help'] });
    for (const sub of cmd.commands) walk(sub, path === '' ? sub.name() : `${path} ${sub.name()}`);
  };
  walk(program, '');
  return table;
}

/** A bash or zsh completion script for the command tree. */
export function completionScript(program: Command, shell: string): string {
  const table = describe(program);
  const globals = table.get('')!.options;
  const cases = [...table]
    .map(([path, { commands, options }]) => {
      const words = [...commands, ...options, ...(path === '' ? [] : globals)].join(' ');
      return `    "${path}") __VAR__="${words}" ;;`;
    })
    .join('\n');
  const template = `  local path="" w
  for w in "\${line[@]:1:$((cur_index-1))}"; do
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
  esac`;
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
