/** Server-side key backups: the service, its errors and its Nest module. */
export * from './key-backup.service';
export * from './key-backup.module';
