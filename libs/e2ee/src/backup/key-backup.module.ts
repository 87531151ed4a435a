/** The Nest module of server-side key backups: provides KeyBackupService on the pool under DATABASE_POOL. */
import { DynamicModule, Module, ModuleMetadata } from '@nestjs/common';
import type { DatabasePool } from 'slonik';
import { KeyBackupService } from './key-backup.service';

/** Injection token of the slonik `DatabasePool` (the one the accounts layer uses too). */
export const KEY_BACKUP_DATABASE_POOL = 'DATABASE_POOL';

@Module({})
export class KeyBackupModule {
  /**
   * `imports` must provide DATABASE_POOL (or a global module does); `clock` stamps the
   * creation and deletion of versions.
   */
  static forRoot(imports: ModuleMetadata['imports'] = [], clock: () => number = Date.now): DynamicModule {
    return {
      module: KeyBackupModule,
      imports,
      providers: [
        {
          provide: KeyBackupService,
          useFactory: (pool: DatabasePool) => new KeyBackupService(pool, clock),
          inject: [KEY_BACKUP_DATABASE_POOL],
        },
      ],
      exports: [KeyBackupService],
    };
  }
}
