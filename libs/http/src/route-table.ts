/**
 * The routes an HTTP application serves, kept to tell "no such endpoint" (404) from "this
 * endpoint does not take that method" (405), both M_UNRECOGNIZED.
 */

interface RoutePattern {
  pattern: string;
  regexp: RegExp;
  methods: Set<string>;
}

function escapeLiteral(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Compiles a Fastify route pattern (`/rooms/:roomId/send/:type/:txnId`, `/media/*`, `:id(^\\d+$)`) to a RegExp. */
export function compileRoutePattern(pattern: string): RegExp {
  let source = '';
  let index = 0;
  while (index < pattern.length) {
    const char = pattern[index];
    if (char === ':' && pattern[index + 1] === ':') {
      source += ':';
      index += 2;
    } else if (char === ':') {
      index += 1;
      while (index < pattern.length && /[A-Za-z0-9_]/.test(pattern[index])) index += 1;
      if (pattern[index] === '(') {
        let depth = 0;
        const start = index;
        for (; index < pattern.length; index += 1) {
          if (pattern[index] === '\\') index += 1;
          else if (pattern[index] === '(') depth += 1;
          else if (pattern[index] === ')' && --depth === 0) break;
        }
        source += `(?:${pattern.slice(start + 1, index).replace(/^\^/, '').replace(/\$$/, '')})`;
        index += 1;
      } else source += '[^/]+';
    } else if (char === '*') {
      source += '.*';
      index += 1;
    } else {
      source += escapeLiteral(char);
      index += 1;
    }
  }
  return new RegExp(`^${source}$`);
}

export class RouteTable {
  private readonly routes = new Map<string, RoutePattern>();

  /** Records that `pattern` serves `methods`. */
  add(pattern: string, methods: string | readonly string[]): void {
    let route = this.routes.get(pattern);
    if (!route) {
      route = { pattern, regexp: compileRoutePattern(pattern), methods: new Set() };
      this.routes.set(pattern, route);
    }
    for (const method of typeof methods === 'string' ? [methods] : methods) route.methods.add(method.toUpperCase());
  }

  /** The methods served for a request path (without query string), sorted; empty when no route matches. */
  allowedMethods(path: string): string[] {
    const methods = new Set<string>();
    for (const route of this.routes.values()) {
      if (route.regexp.test(path)) for (const method of route.methods) methods.add(method);
    }
    return [...methods].sort();
  }
}
