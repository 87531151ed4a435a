/** Checks that an endpoint acting on `{userId}` is called by that user. */
import { MatrixError } from '@hs/http';
import type { AuthenticatedUser } from './authenticated-user';

/** 403 M_FORBIDDEN unless `userId` is the authenticated user. */
export function assertSameUser(user: AuthenticatedUser, userId: string, action: string): void {
  if (user.userId !== userId) throw MatrixError.forbidden(`Cannot ${action} for other users`);
}
