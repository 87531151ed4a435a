/**
 * The admin CLI: `npm run admin -- <command>`. Commands: generate-config, generate-keys,
 * migrate, rebuild <projection>, create-user, audit-export, export, import, sample-config. Every data command takes --config FILE
 * (default ./homeserver.yaml).
 */
import { CONFIG_ERROR_EXIT_CODE, ConfigError, FilesExistError, generateConfigFiles, generateKeyFiles, generateSampleConfig, loadConfig } from '@hs/config';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { CommandFailure } from './errors';
import { runAuditExport } from './audit-export';
import { runCreateUser } from './create-user';
import { runExport } from './export';
import { runImport } from './import';
import { runMigrate } from './migrate';
import { runRebuild, UnknownProjectionError } from './rebuild';

export interface AdminIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const DEFAULT_CONFIG = 'homeserver.yaml';

function portOption(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 0 || port > 65535) throw new InvalidArgumentError('must be a port number (0-65535)');
  return port;
}

function buildProgram(io: AdminIo): Command {
  const write = (text: string) => io.stdout.write(`${text}\n`);
  const program = new Command('admin')
    .description('Administration of the homeserver')
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) })
    .showHelpAfterError();

  program
    .command('generate-config')
    .description('Write a working configuration file with a new signing key and a self-signed TLS certificate beside it')
    .requiredOption('--server-name <name>', 'server name (the domain part of user ids)')
    .option('--client-port <port>', 'port of the client listener', portOption, 8008)
    .option('--federation-port <port>', 'port of the federation listener', portOption, 8448)
    .option('--data-dir <dir>', 'folder of the embedded database, relative to the config file', 'data')
    .option('--database-url <url>', 'use PostgreSQL at this URL instead of the embedded database')
    .requiredOption('--out <file>', 'where to write the configuration file')
    .option('--force', 'overwrite existing files', false)
    .action(async (options: { serverName: string; clientPort: number; federationPort: number; dataDir: string; databaseUrl?: string; out: string; force: boolean }) => {
      const generated = await generateConfigFiles({
        serverName: options.serverName,
        out: options.out,
        clientPort: options.clientPort,
        federationPort: options.federationPort,
        dataDir: options.dataDir,
        databaseUrl: options.databaseUrl,
        force: options.force,
      });
      write(`Wrote ${generated.configPath}`);
      write(`Wrote signing key ${generated.keyId} to ${generated.signingKeyPath}`);
      write(`Wrote self-signed TLS certificate ${generated.tlsCertificatePath} and key ${generated.tlsPrivateKeyPath}`);
    });

  program
    .command('generate-keys')
    .description('Write a new signing key and self-signed TLS certificate at the paths the configuration names')
    .option('--config <file>', 'configuration file', DEFAULT_CONFIG)
    .option('--force', 'overwrite existing files', false)
    .action(async (options: { config: string; force: boolean }) => {
      const config = loadConfig(options.config, io.env);
      const keys = await generateKeyFiles(config, { force: options.force });
      write(`Wrote signing key ${keys.keyId} to ${keys.signingKeyPath}`);
      write(`Wrote self-signed TLS certificate ${keys.tlsCertificatePath} and key ${keys.tlsPrivateKeyPath}`);
    });

  program
    .command('migrate')
    .description('Apply pending database migrations')
    .option('--config <file>', 'configuration file', DEFAULT_CONFIG)
    .action(async (options: { config: string }) => {
      const config = loadConfig(options.config, io.env);
      const applied = await runMigrate(config, write);
      write(applied.length === 0 ? 'Database is up to date.' : `Applied ${applied.length} migration(s).`);
    });

  program
    .command('rebuild')
    .description('Rebuild a projection from the event store into fresh tables and swap them in')
    .argument('<projection>', 'name of the projection')
    .option('--config <file>', 'configuration file', DEFAULT_CONFIG)
    .action(async (projection: string, options: { config: string }) => {
      const config = loadConfig(options.config, io.env);
      const result = await runRebuild(config, projection, io.stderr);
      write(`Rebuilt ${projection}: generation ${result.generation}, ${result.events} event(s), checkpoint ${result.checkpoint}.`);
    });

  program
    .command('create-user')
    .description('Register an account on the running homeserver through shared-secret registration')
    .requiredOption('--user <localpart>', 'the new user\'s localpart (the part before the colon)')
    .requiredOption('--password <password>', 'the new user\'s password')
    .option('--admin', 'make the user a server admin', false)
    .option('--url <url>', 'base URL of the client API (default: the configured client listener)')
    .option('--config <file>', 'configuration file', DEFAULT_CONFIG)
    .action(async (options: { user: string; password: string; admin: boolean; url?: string; config: string }) => {
      const config = loadConfig(options.config, io.env);
      const created = await runCreateUser(config, { username: options.user, password: options.password, admin: options.admin, url: options.url });
      write(`Created ${created.userId}${options.admin ? ' (admin)' : ''}.`);
    });

  program
    .command('audit-export')
    .description('Write the audit log (admin and moderation actions) as NDJSON, oldest entry first')
    .option('--out <file>', 'write to this file instead of standard output')
    .option('--config <file>', 'configuration file', DEFAULT_CONFIG)
    .action(async (options: { out?: string; config: string }) => {
      const config = loadConfig(options.config, io.env);
      const count = await runAuditExport(config, options.out ?? io.stdout);
      io.stderr.write(`Exported ${count} audit entr${count === 1 ? 'y' : 'ies'}.\n`);
    });

  program
    .command('export')
    .description('Write the whole server, or one room with --room, as an export file (NDJSON, gzip-compressed with --gzip or a name ending in .gz)')
    .requiredOption('--out <file>', 'the export file to write')
    .option('--room <roomId>', 'export only this room\'s events and receipts')
    .option('--gzip', 'compress the file', false)
    .option('--config <file>', 'configuration file', DEFAULT_CONFIG)
    .action(async (options: { out: string; room?: string; gzip: boolean; config: string }) => {
      const config = loadConfig(options.config, io.env);
      const counts = await runExport(config, { out: options.out, roomId: options.room, gzip: options.gzip }, io.stderr);
      write(`Exported ${counts.events} event(s) and ${counts.rows} row(s) to ${options.out}.`);
    });

  program
    .command('import')
    .description('Load an export file into this empty server, then rebuild the room write model and every projection')
    .argument('<file>', 'the export file (plain or gzip-compressed)')
    .option('--config <file>', 'configuration file', DEFAULT_CONFIG)
    .action(async (file: string, options: { config: string }) => {
      const config = loadConfig(options.config, io.env);
      const summary = await runImport(config, file, io.stderr);
      write(`Imported ${summary.events} event(s) and ${summary.rows} row(s) (${summary.scope} export); rebuilt the room write model and ${summary.projections.length} projection(s): ${summary.projections.join(', ')}.`);
    });

  program
    .command('sample-config')
    .description('Print the documented sample configuration (homeserver.sample.yaml)')
    .action(() => {
      io.stdout.write(generateSampleConfig());
    });

  return program;
}

/** Runs one admin command; resolves with the exit code. */
export async function runAdmin(argv: readonly string[], io: AdminIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (error instanceof ConfigError) {
      io.stderr.write(`${error.message}\n`);
      return CONFIG_ERROR_EXIT_CODE;
    }
    if (error instanceof FilesExistError || error instanceof UnknownProjectionError || error instanceof CommandFailure) {
      io.stderr.write(`error: ${error.message}\n`);
      return 1;
    }
    io.stderr.write(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

