/** The body shapes of POST /user/keys/query and /user/keys/claim (user_keys.yaml). */
import { isValidUserId } from '@hs/protocol';
import { z } from 'zod';
import { text } from '../params';

/** Most users one request may name. */
export const MAX_KEY_REQUEST_USERS = 1000;
/** Most devices it may name per user. */
export const MAX_KEY_REQUEST_DEVICES = 1000;

/** An object keyed by user ids, at most {@link MAX_KEY_REQUEST_USERS}. */
export function byUserId<T extends z.ZodTypeAny>(value: T) {
  return z
    .record(value)
    .refine((users) => Object.keys(users).every((userId) => isValidUserId(userId)), 'every key must be a user id')
    .refine((users) => Object.keys(users).length <= MAX_KEY_REQUEST_USERS, `at most ${MAX_KEY_REQUEST_USERS} users`);
}

export const keysQueryRequest = z.object({ device_keys: byUserId(z.array(text).max(MAX_KEY_REQUEST_DEVICES)) });

export const keysClaimRequest = z.object({
  one_time_keys: byUserId(
    z.record(text).refine((devices) => Object.keys(devices).length <= MAX_KEY_REQUEST_DEVICES, `at most ${MAX_KEY_REQUEST_DEVICES} devices`),
  ),
});
