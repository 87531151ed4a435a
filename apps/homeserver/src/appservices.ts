/**
 * Composition of application services: the sender reads the backend's event store and keeps
 * its positions in the backend's database; each service's sender user exists from start-up.
 */
import { AccountsError, UserService } from '@hs/accounts';
import { AppServiceSender, AppServiceSenderModule, type AppServiceClient, type AppServiceRegistry } from '@hs/appservice';
import { TypingStore } from '@hs/sync';
import type { DynamicModule } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import type { Backend } from './backend';

export function appServiceSenderModule(backend: Backend, appServices: { registry: AppServiceRegistry; client: AppServiceClient }, logger: Logger): DynamicModule {
  return AppServiceSenderModule.forRoot({ registry: appServices.registry, client: appServices.client, store: backend.store, pool: backend.db.pool, logger });
}

/** Registers the sender user of every application service that has none yet. */
export async function ensureAppServiceSenders(app: NestFastifyApplication, registry: AppServiceRegistry): Promise<void> {
  if (registry.services.length === 0) return;
  const users = app.get(UserService);
  for (const service of registry.services) {
    try {
      await users.register({ localpart: service.registration.senderLocalpart, kind: 'user', appService: true });
    } catch (error) {
      if (!(error instanceof AccountsError && error.errcode === 'M_USER_IN_USE')) throw error;
    }
  }
}

/**
 * Typing changes go to the services that asked for ephemeral events (read receipts reach them
 * from the event store). Returns the function that stops it.
 */
export function connectAppServiceTyping(app: NestFastifyApplication, registry: AppServiceRegistry): () => void {
  if (!registry.services.some((service) => service.registration.receiveEphemeral && service.registration.url !== null)) return () => undefined;
  const sender = app.get(AppServiceSender);
  const typing = app.get(TypingStore);
  return typing.onChange((roomId) => void sender.typingChanged(roomId, typing.typing(roomId)));
}
