/** Entry point of the admin CLI: `npm run admin -- <command> [options]`. */
import 'reflect-metadata';
import { runAdmin } from './cli';

if (require.main === module) {
  runAdmin(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
