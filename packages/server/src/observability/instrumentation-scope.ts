/**
 * The name and version OpenTelemetry tracers and meters are created with (the instrumentation
 * scope). The version is `@earshot/server`'s, kept equal to its package.json by a test.
 */
export const INSTRUMENTATION_SCOPE = { name: '@earshot/server', version: '0.1.0' } as const;
