/** The progress bars of the admin CLI's long operations, on standard error (updated once a second when it is not a terminal). */
import { SingleBar } from 'cli-progress';

export function progressBar(stream: NodeJS.WritableStream, format: string): SingleBar {
  return new SingleBar({ stream, format, noTTYOutput: true, notTTYSchedule: 1000, hideCursor: true });
}
