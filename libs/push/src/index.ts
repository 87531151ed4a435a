/** Push notifications: pushers, GET /notifications, and delivery to push gateways. */
export * from './errors';
export * from './gateway';
export * from './push.service';
export * from './delivery';
export * from './push.module';
