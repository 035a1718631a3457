import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { registerApp } from './app.js';
import { registerCauses } from './causes.js';
import { registerLab } from './lab.js';
import { registerDoctor } from './doctor.js';
import { registerLoad } from './load.js';
import { registerMixin } from './mixin.js';
import { registerReport } from './report.js';
import { registerProxy } from './proxy.js';

/** A subcommand: adds itself to the program. Add one here only when it works. */
export type RegisterCommand = (program: Command, ctx: CliContext) => void;

export const COMMANDS: readonly RegisterCommand[] = [
  registerApp,
  registerCauses,
  registerLab,
  registerDoctor,
  registerLoad,
  registerReport,
  registerMixin,
  registerProxy,
];
