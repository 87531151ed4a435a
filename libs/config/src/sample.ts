/**
 * Writes configuration files from the schema: the documented sample (homeserver.sample.yaml),
 * a working config for `generate-config`, and the key reference of docs/configuration.md.
 */
import YAML from 'yaml';
import { ConfigKey, ConfigNode, describeConfig, envVarName } from './describe';

/** Values to write instead of defaults, nested like the file (e.g. `{ database: { url } }`). */
export interface ConfigValues {
  [key: string]: unknown;
}

function scalar(value: unknown): string {
  // Lists in flow style (`[a, b]`), so that they stay on the key's line.
  if (Array.isArray(value)) return `[${value.map((item) => scalar(item)).join(', ')}]`;
  return YAML.stringify(value, { lineWidth: 0 }).trimEnd();
}

function lookup(values: ConfigValues, path: readonly string[]): { found: boolean; value?: unknown } {
  let current: unknown = values;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null || !(segment in current)) return { found: false };
    current = (current as Record<string, unknown>)[segment];
  }
  return { found: true, value: current };
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

function renderNodes(nodes: ConfigNode[], values: ConfigValues, indent: string, out: string[]): void {
  nodes.forEach((node, index) => {
    if (index > 0 || indent === '') out.push('');
    for (const line of wrap(node.doc, 88 - indent.length)) out.push(`${indent}# ${line}`);
    const name = node.path[node.path.length - 1];
    if (node.kind === 'section') {
      out.push(`${indent}${name}:`);
      renderNodes(node.children, values, `${indent}  `, out);
      return;
    }
    const given = lookup(values, node.path);
    if (given.found && given.value !== undefined) out.push(`${indent}${name}: ${scalar(given.value)}`);
    else if (node.hasDefault) out.push(`${indent}${name}: ${scalar(node.default)}`);
    else if (node.optional) out.push(`${indent}# ${name}: ${scalar(node.example ?? '')}`);
    else out.push(`${indent}${name}: ${scalar(node.example ?? '')}`);
  });
}

const HEADER = [
  '# Homeserver configuration.',
  '#',
  '# Every key is listed with its documentation and default value; only server_name is',
  '# required. Relative paths resolve against the folder of this file. Any key can be',
  '# overridden by an environment variable: HS_ followed by the key in upper case, with',
  '# `__` between nested keys (HS_SERVER_NAME, HS_DATABASE__URL, HS_CLIENT_LISTENER__PORT).',
];

/**
 * The configuration file as YAML with every key documented: `values` take the place of
 * defaults; keys without a value or default are written commented out with an example.
 */
export function renderConfigYaml(values: ConfigValues = {}): string {
  const out = [...HEADER];
  renderNodes(describeConfig(), values, '', out);
  return `${out.join('\n')}\n`;
}

/** The content of homeserver.sample.yaml. */
export function generateSampleConfig(): string {
  return renderConfigYaml();
}

function defaultText(entry: ConfigKey): string {
  if (entry.hasDefault) return `\`${scalar(entry.default)}\``;
  if (entry.optional) return 'not set';
  return 'required';
}

/** The key reference of docs/configuration.md: one table row per key. */
export function renderConfigReference(): string {
  const rows: string[] = ['| Key | Environment variable | Default | Meaning |', '|---|---|---|---|'];
  const visit = (nodes: ConfigNode[]) => {
    for (const node of nodes) {
      const name = node.path.join('.');
      if (node.kind === 'section') {
        rows.push(`| **${name}** | | | ${node.doc} |`);
        visit(node.children);
        continue;
      }
      const allowed = node.options ? ` One of: ${node.options.map((option) => `\`${option}\``).join(', ')}.` : '';
      const path = node.isPath ? ' A relative path resolves against the config file\'s folder.' : '';
      const nullable = node.nullable ? ' May be `null` (an empty environment variable means `null`).' : '';
      rows.push(
        `| \`${name}\` | \`${envVarName(node.path)}\` | ${defaultText(node)} | ${node.doc.replace(/\|/g, '\\|')}${allowed}${path}${nullable} |`,
      );
    }
  };
  visit(describeConfig());
  return `${rows.join('\n')}\n`;
}
