/** Server administration: the audit log, reports of events, rooms and users, room shutdowns. */
export { AuditLog, type AuditEntry, type AuditQuery, type AuditRecord } from './audit-log';
export { EventReports, type Report, type ReportQuery } from './event-reports';
export { RoomShutdowns, type DeletionStatus, type RoomDeletion, type ShutdownRequest, type ShutdownResult } from './room-shutdowns';
export { ProjectionRebuilds, RebuildRunning, UnknownProjection, type RebuildStatus } from './projection-rebuilds';
export { AdminModule, ADMIN_SERVER_VERSION, type AdminModuleOptions } from './admin.module';
