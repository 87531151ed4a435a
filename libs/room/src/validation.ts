/** Checks of command input that give typed refusals (M_BAD_JSON / M_INVALID_PARAM). */
import { isValidRoomId, isValidUserId, type JsonObject, type JsonValue } from '@hs/protocol';
import { badJson, invalidParam, notFound } from './errors';

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function requireUserId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isValidUserId(value)) throw invalidParam(`${field} is not a valid user id`);
  return value;
}

/** An unknown or malformed room id is a room this server does not know. */
export function requireRoomId(value: unknown): string {
  if (typeof value !== 'string' || !isValidRoomId(value)) throw notFound(`${String(value)} is not a known room`);
  return value;
}

export function requireObject(value: unknown, field: string): JsonObject {
  if (!isJsonObject(value)) throw badJson(`${field} must be a JSON object`);
  return value;
}

export function optionalString(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badJson(`${field} must be a string`);
  return value;
}

/** A reason given with a membership change or redaction, kept in the event content. */
export function withReason(content: JsonObject, reason: unknown): JsonObject {
  const text = optionalString(reason, 'reason');
  return text === undefined ? content : { ...content, reason: text };
}

export function isJsonValue(value: unknown): value is JsonValue {
  return value === null || ['string', 'number', 'boolean', 'object'].includes(typeof value);
}
