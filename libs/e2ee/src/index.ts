/**
 * End-to-end encryption support: device keys, one-time and fallback keys, device list
 * changes, to-device messages, cross-signing keys and key backup. The server stores and
 * routes keys and messages it cannot read.
 */
export * from './errors';
export * from './json-text';
export * from './device-keys.service';
export * from './to-device.service';
export * from './dehydrated-device.service';
export * from './keys-query.service';
export * from './cross-signing';
export * from './e2ee.module';
export * from './backup';
export * from './federation';
