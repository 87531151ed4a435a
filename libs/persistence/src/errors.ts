/** The SQLSTATE of a database error, whether thrown by `pg` directly or wrapped by slonik. */
export function sqlState(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
    current = (current as Error & { cause?: unknown }).cause;
  }
  return undefined;
}

/** The DETAIL field of a database error, when the server sent one. */
export function sqlDetail(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const detail = (current as Error & { detail?: unknown }).detail;
    if (typeof detail === 'string') return detail;
    current = (current as Error & { cause?: unknown }).cause;
  }
  return undefined;
}

/** The name of the constraint a database error is about (e.g. a unique violation), if any. */
export function sqlConstraint(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const constraint = (current as Error & { constraint?: unknown }).constraint;
    if (typeof constraint === 'string') return constraint;
    current = (current as Error & { cause?: unknown }).cause;
  }
  return undefined;
}
