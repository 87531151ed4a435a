/** Typed refusals of the write side (an errcode and an HTTP status) as Matrix errors of the federation API. */
import { MatrixError } from '@hs/http';

interface CodedError {
  errcode: string;
  httpStatus: number;
  message: string;
  extra?: Readonly<Record<string, unknown>>;
}

function isCoded(error: unknown): error is CodedError {
  return error instanceof Error && typeof (error as Partial<CodedError>).errcode === 'string' && typeof (error as Partial<CodedError>).httpStatus === 'number';
}

/** Runs `work` and rethrows typed refusals as Matrix errors. */
export async function answering<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isCoded(error)) throw new MatrixError(error.httpStatus, error.errcode, error.message, error.extra ?? {});
    throw error;
  }
}
