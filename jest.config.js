/** Jest projects: unit specs next to the code, e2e suites against real services, fault suites. */
const { pathsToModuleNameMapper } = require('ts-jest');
const { compilerOptions } = require('./tsconfig.json');

const base = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  rootDir: __dirname,
  moduleNameMapper: pathsToModuleNameMapper(compilerOptions.paths, { prefix: '<rootDir>/' }),
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
};

module.exports = {
  testTimeout: 60000,
  // A worker that ran half the e2e suites holds a large heap (each suite boots its own Nest apps;
  // 1.2–1.8 GB measured): Node took 0.5–0.7 s to tear it down after the worker had finished and
  // released everything, over Jest's default of 0.5 s, which then kills it and warns "failed to
  // exit gracefully".
  workerGracefulExitTimeout: 3000,
  projects: [
    {
      ...base,
      displayName: 'unit',
      testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts'],
    },
    {
      ...base,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts', '<rootDir>/test/security/**/*.e2e-spec.ts'],
      // TEST_REDIS=cluster / TEST_MYSQL=replica: the run's servers (test/helpers/global-setup.ts).
      globalSetup: '<rootDir>/test/helpers/global-setup.ts',
      globalTeardown: '<rootDir>/test/helpers/global-teardown.ts',
      testTimeout: 60000,
    },
    {
      ...base,
      displayName: 'faults',
      testMatch: ['<rootDir>/test/faults/**/*.fault-spec.ts'],
      testTimeout: 600000,
    },
  ],
};
