/** The Nest module of server administration: the audit log, reports and room shutdowns. */
import { DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { EventStore, Projector } from '@hs/eventstore';
import type { Database } from '@hs/persistence';
import type { CommonQueryMethods } from 'slonik';
import { AuditLog } from './audit-log';
import { ProjectionRebuilds } from './projection-rebuilds';
import { EventReports } from './event-reports';
import { RoomShutdowns } from './room-shutdowns';

export interface AdminModuleOptions {
  store: EventStore;
  pool: CommonQueryMethods;
  serverName: string;
  clock?: () => number;
  /** The homeserver's version (GET /_synapse/admin/v1/server_version). */
  serverVersion: string;
  /** What online rebuilds need: the database and fresh instances of the server's projectors. */
  projections?: { db: Database; projectors: readonly Projector[] };
}

/** Injection token of the homeserver's version string. */
export const ADMIN_SERVER_VERSION = 'hs:admin:server-version';

/** Lets the room shutdowns in progress finish before the database closes. */
@Injectable()
class AdminLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(RoomShutdowns) private readonly shutdowns: RoomShutdowns,
    @Inject(ProjectionRebuilds) private readonly rebuilds: ProjectionRebuilds,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.shutdowns.settle(), this.rebuilds.close()]);
  }
}

@Module({})
export class AdminModule {
  static forRoot(options: AdminModuleOptions): DynamicModule {
    const clock = options.clock ?? Date.now;
    const audit = new AuditLog(options.store, clock);
    const rebuilds = new ProjectionRebuilds({ audit, store: options.store, clock, ...(options.projections ? { projections: options.projections } : {}) });
    return {
      module: AdminModule,
      providers: [
        { provide: AuditLog, useValue: audit },
        { provide: ProjectionRebuilds, useValue: rebuilds },
        { provide: EventReports, useValue: new EventReports(options.store, clock) },
        { provide: RoomShutdowns, useValue: new RoomShutdowns({ pool: options.pool, serverName: options.serverName, clock }) },
        { provide: ADMIN_SERVER_VERSION, useValue: options.serverVersion },
        AdminLifecycle,
      ],
      exports: [AuditLog, EventReports, RoomShutdowns, ProjectionRebuilds, ADMIN_SERVER_VERSION],
    };
  }
}
