import * as promClient from 'prom-client';
import { createDoctorMetrics, createDoctorSampler, type DoctorOptions } from '../../src/doctor/index.js';
import { createGuard, registerGuardMetrics, type Guard } from '../../src/guard/index.js';

/** What a guard's prom-client registry serves (after `use(guard)`, e.g. some admits). */
export async function guardExposition(use: (guard: Guard) => void = () => {}): Promise<string> {
  const guard = createGuard();
  try {
    const registry = new promClient.Registry();
    registerGuardMetrics(guard, promClient, { registry });
    use(guard);
    return await registry.metrics();
  } finally {
    guard.close();
  }
}

/** What `doctor --prometheus` serves after one sample with `options` (none: no sample at all). */
export async function doctorExposition(options?: Partial<DoctorOptions>): Promise<string> {
  const doctor = createDoctorMetrics();
  if (options) doctor.update(await createDoctorSampler(options).sample());
  return doctor.registry.metrics();
}
