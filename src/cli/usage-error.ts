// A command line the command cannot run: a missing or malformed flag, an unknown command.
import { codedErrorClass } from './coded-error';

export class UsageError extends codedErrorClass('USAGE') {}
