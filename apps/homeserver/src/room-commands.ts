/**
 * Room ownership across processes (docs/scale-out.md). When the server runs as several
 * processes, a command that writes to a room goes to the bus's `room-commands` topic keyed by
 * the room id; the processes with the `room-writer` role consume it as one group, so the
 * partition assignment makes exactly one process the writer of a room at a time, and a room
 * moves to another writer when its process stops or dies. The writer executes the command as
 * the single process would and publishes the answer (result or Matrix error) to
 * `room-replies`, keyed by the process that asked. The event store's expected revision stays
 * the final guard.
 *
 * The commands go through Nest's CommandBus: `execute` is wrapped on each of the
 * application's instances (a module that imports CqrsModule has one of its own; the library
 * has no hook for this), once, here.
 */
import { randomUUID } from 'node:crypto';
import { BUS_TOPICS, type Bus, type BusMessage } from '@hs/bus';
import {
  BanFromRoom,
  ForgetRoom,
  InviteToRoom,
  JoinRoom,
  KickFromRoom,
  KnockOnRoom,
  LeaveRoom,
  RecordReceipt,
  RedactEvent,
  RemoteRefusalError,
  RoomCommandError,
  SendRoomEvent,
  SetRoomAlias,
  SetRoomBlocked,
  SetRoomNetworkVisibility,
  SetRoomVisibility,
  ShutDownRoom,
  UnbanFromRoom,
  UpgradeRoom,
  type RoomErrcode,
} from '@hs/room';
import type { CommandBus, ICommand } from '@nestjs/cqrs';
import type { Logger } from 'pino';

/** The commands that write to one room named in the command, by class name. */
const ROOM_COMMANDS: Record<string, new (...args: never[]) => ICommand> = {
  SendRoomEvent,
  RedactEvent,
  InviteToRoom,
  JoinRoom,
  KnockOnRoom,
  LeaveRoom,
  KickFromRoom,
  BanFromRoom,
  UnbanFromRoom,
  ForgetRoom,
  SetRoomBlocked,
  ShutDownRoom,
  SetRoomAlias,
  SetRoomVisibility,
  SetRoomNetworkVisibility,
  UpgradeRoom,
  RecordReceipt,
};

/** The consumer group of the room writers. */
export const ROOM_WRITERS_GROUP = 'room-writers';

/**
 * How long a process waits for the writer's answer. A room whose writer died waits for the
 * group to notice (the session timeout) and for the next writer to run the command.
 */
export const ROOM_COMMAND_TIMEOUT_MS = 60_000;

/** The room a command writes to, when it names one by id; null for the others (run where they are). */
export function roomOfCommand(command: ICommand): string | null {
  const name = command.constructor.name;
  if (ROOM_COMMANDS[name] !== command.constructor) return null;
  const fields = command as unknown as { roomId?: unknown; roomIdOrAlias?: unknown };
  const roomId = typeof fields.roomId === 'string' ? fields.roomId : fields.roomIdOrAlias;
  return typeof roomId === 'string' && roomId.startsWith('!') ? roomId : null;
}

interface CommandMessage {
  id: string;
  replyTo: string;
  name: string;
  data: Record<string, unknown>;
  /** When it was sent (ms): a writer skips what its sender has given up on. */
  sentAt: number;
}

type SerializedError =
  | { kind: 'room'; errcode: RoomErrcode; reason: string; rule?: string; status: number; extra?: Record<string, unknown> }
  | { kind: 'remote'; errcode: string; reason: string; status: number }
  | { kind: 'other'; message: string };

interface ReplyMessage {
  id: string;
  result?: unknown;
  error?: SerializedError;
}

function serializeError(error: unknown): SerializedError {
  if (error instanceof RoomCommandError) {
    return {
      kind: 'room',
      errcode: error.errcode,
      reason: error.reason,
      status: error.httpStatus,
      ...(error.rule !== undefined ? { rule: error.rule } : {}),
      ...(error.extra !== undefined ? { extra: { ...error.extra } } : {}),
    };
  }
  if (error instanceof RemoteRefusalError) return { kind: 'remote', errcode: error.errcode, reason: error.reason, status: error.httpStatus };
  return { kind: 'other', message: error instanceof Error ? error.message : String(error) };
}

function deserializeError(error: SerializedError): Error {
  if (error.kind === 'room') return new RoomCommandError(error.errcode, error.reason, error.rule, error.status, error.extra);
  if (error.kind === 'remote') return new RemoteRefusalError(error.errcode, error.reason, error.status);
  return new Error(`the room writer failed: ${error.message}`);
}

function isCommandMessage(value: unknown): value is CommandMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as Partial<CommandMessage>;
  return (
    typeof message.id === 'string' &&
    typeof message.replyTo === 'string' &&
    typeof message.name === 'string' &&
    typeof message.sentAt === 'number' &&
    typeof message.data === 'object' &&
    message.data !== null
  );
}

export interface RoomCommandRouting {
  /** Ends consuming (a writer) and answering; commands still waiting fail. */
  stop(): Promise<void>;
}

/**
 * Sends this process's room commands to the room writers through the bus, and, with
 * `writer`, consumes the commands of the rooms this process is given and runs them here.
 */
export async function routeRoomCommands(
  bus: Bus,
  commandBuses: readonly CommandBus[],
  options: { writer: boolean; logger: Logger; timeoutMs?: number },
): Promise<RoomCommandRouting> {
  const { logger } = options;
  const timeoutMs = options.timeoutMs ?? ROOM_COMMAND_TIMEOUT_MS;
  if (commandBuses.length === 0) throw new Error('no command bus to route room commands from');
  type Execute = (command: ICommand) => Promise<unknown>;
  const originals = commandBuses.map((commandBus) => commandBus.execute.bind(commandBus) as Execute);
  // Every instance knows every handler: the first one runs the commands given to this process.
  const runHere = originals[0];
  const pending = new Map<string, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();

  const stopReplies = await bus.subscribe<ReplyMessage>(BUS_TOPICS.roomReplies, (message: BusMessage<ReplyMessage>) => {
    if (message.key !== bus.processId) return;
    const reply = message.value;
    const waiting = typeof reply?.id === 'string' ? pending.get(reply.id) : undefined;
    // An answer nobody waits for: given up on, or a command run twice after its writer died.
    if (!waiting) return;
    pending.delete(reply.id);
    clearTimeout(waiting.timer);
    if (reply.error) waiting.reject(deserializeError(reply.error));
    else waiting.resolve(reply.result);
  });

  let stopCommands: (() => Promise<void>) | undefined;
  if (options.writer) {
    stopCommands = await bus.consume<CommandMessage>(BUS_TOPICS.roomCommands, ROOM_WRITERS_GROUP, async (message) => {
      const value: unknown = message.value;
      if (!isCommandMessage(value)) {
        logger.warn({ origin: message.origin }, 'a room command that is not valid was ignored');
        return;
      }
      if (Date.now() - value.sentAt > timeoutMs) {
        logger.warn({ command: value.name, room_id: message.key }, 'a room command its sender has given up on was not run');
        return;
      }
      const type = ROOM_COMMANDS[value.name];
      let reply: ReplyMessage;
      if (!type) reply = { id: value.id, error: { kind: 'other', message: `unknown room command ${value.name}` } };
      else {
        const command = Object.assign(Object.create(type.prototype as object) as ICommand, value.data);
        try {
          reply = { id: value.id, result: (await runHere(command)) ?? null };
        } catch (error) {
          reply = { id: value.id, error: serializeError(error) };
        }
      }
      await bus.publish(BUS_TOPICS.roomReplies, value.replyTo, reply);
    });
  }

  const route = (command: ICommand, local: Execute): Promise<unknown> => {
    const roomId = roomOfCommand(command);
    if (roomId === null) return local(command);
    // This process is the room's writer: the command runs here, as the bus would bring it here.
    if (options.writer && bus.holds(BUS_TOPICS.roomCommands, ROOM_WRITERS_GROUP, roomId)) return runHere(command);
    const id = randomUUID();
    const message: CommandMessage = { id, replyTo: bus.processId, name: command.constructor.name, data: { ...(command as object) } as Record<string, unknown>, sentAt: Date.now() };
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new RoomCommandError('M_UNKNOWN', `the writer of room ${roomId} did not answer within ${timeoutMs} ms`, undefined, 504));
      }, timeoutMs);
      pending.set(id, { resolve, reject, timer });
      bus.publish(BUS_TOPICS.roomCommands, roomId, message).catch((error: unknown) => {
        pending.delete(id);
        clearTimeout(timer);
        logger.warn({ err: error, room_id: roomId }, 'a room command could not be sent to the room writers');
        reject(new RoomCommandError('M_UNKNOWN', 'the room writers cannot be reached', undefined, 503));
      });
    });
  };
  commandBuses.forEach((commandBus, i) => {
    (commandBus as { execute: Execute }).execute = (command) => route(command, originals[i]);
  });

  return {
    async stop() {
      commandBuses.forEach((commandBus, i) => {
        (commandBus as { execute: Execute }).execute = originals[i];
      });
      await stopCommands?.();
      await stopReplies();
      for (const [id, waiting] of pending) {
        clearTimeout(waiting.timer);
        waiting.reject(new RoomCommandError('M_UNKNOWN', 'the server is shutting down', undefined, 503));
        pending.delete(id);
      }
    },
  };
}
