/** A command failed in a way the operator can fix: the message is printed and the command exits with `exitCode`. */
export class CommandFailure extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CommandFailure';
  }
}
