/** The client-server API: controllers for /_matrix/client/*, the access-token guard and rate limits. */
export * from './prefixes';
export * from './config';
export * from './auth';
export * from './rate-limit';
export * from './client-api.module';
export * from './validation';
export { assertSameUser } from './auth/same-user';
export { requestIp } from './auth/request-ip';
export { serverCapabilities, type Capabilities } from './capabilities/capabilities.controller';
export { PushRulesService, PUSH_RULES_TYPE } from './push-rules/push-rules.service';
export { GuestAccessRevocation } from './rooms/guest-access';
export { effectivePushRules } from '@hs/protocol';
