export type { AuthResult, AuthEventLookup } from './types';
export { AUTH_EVENT_TYPES } from './types';
export * from './check-auth';
export * from './selection';
export { PowerLevels, parsePowerLevel, parsePowerLevelsContent, roomCreators, NAMED_LEVELS } from './power-levels';
export type { NamedLevel, PowerLevelsContent } from './power-levels';
export { roomIdFromCreateEventId } from './rules/create';
export { joinAuthorisingServer } from './rules/member';
export { thirdPartyInvitePublicKeys, thirdPartyInviteSignatureMatches } from './third-party-invite';
