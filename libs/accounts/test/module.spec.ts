import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  AccountDataService,
  ACCOUNTS,
  Accounts,
  AccountsModule,
  DATABASE_POOL,
  DeviceService,
  FilterService,
  ProfileService,
  RegistrationTokenService,
  SharedSecretRegistrationService,
  UserInteractiveAuthService,
  UserService,
} from './imports';
import { openTestDatabase, SERVER_NAME, TestDatabase } from './harness';

describe('AccountsModule', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await openTestDatabase();
  });

  afterAll(async () => {
    await db.close();
  });

  function poolModule() {
    @Global()
    @Module({ providers: [{ provide: DATABASE_POOL, useValue: db.pool }], exports: [DATABASE_POOL] })
    class PoolModule {}
    return PoolModule;
  }

  it('provides every service on the pool and seeds the configured registration token', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        poolModule(),
        AccountsModule.forRoot({
          serverName: SERVER_NAME,
          passwordHashing: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
          registrationToken: 'from-config',
        }),
      ],
    }).compile();
    const app = await moduleRef.init();
    try {
      const users = app.get(UserService);
      const devices = app.get(DeviceService);
      expect(app.get<Accounts>(ACCOUNTS).users).toBe(users);
      for (const service of [UserInteractiveAuthService, RegistrationTokenService, SharedSecretRegistrationService, ProfileService, AccountDataService, FilterService]) {
        expect(app.get(service)).toBeInstanceOf(service);
      }
      expect(await app.get(RegistrationTokenService).isValid('from-config')).toBe(true);
      const { userId } = await users.register({ localpart: 'moduser', password: 'pw' });
      const login = await users.login({ user: 'moduser', password: 'pw' });
      expect(await devices.authenticate(login.access_token)).toMatchObject({ userId });
      devices.recordLastSeen({ userId, deviceId: login.device_id }, '127.0.0.1');
    } finally {
      await app.close();
    }
    // Shutting down wrote the buffered "last seen".
    const reader = await Test.createTestingModule({
      imports: [poolModule(), AccountsModule.forRoot({ serverName: SERVER_NAME })],
    }).compile();
    const devices = reader.get(DeviceService);
    const [device] = await devices.listDevices(`@moduser:${SERVER_NAME}`);
    expect(device.last_seen_ip).toBe('127.0.0.1');
    await reader.close();
  });

  it('takes its options from a factory', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        poolModule(),
        AccountsModule.forRootAsync({ useFactory: async () => ({ serverName: 'factory.example.org' }) }),
      ],
    }).compile();
    expect(moduleRef.get(UserService).userIdFor('x')).toBe('@x:factory.example.org');
    await moduleRef.close();
  });
});
