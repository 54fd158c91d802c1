// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The dependency direction of docs/ARCHITECTURE.md, enforced: each library may import only the
 * libraries listed for it (all lower in the stack), never its own barrel (`@app/<self>` from
 * inside: import the file), and never an app.
 */
const LIB_DEPENDENCIES = {
  core: [],
  cache: ['core'],
  storage: ['core'],
  events: ['core', 'cache'],
  account: ['core', 'cache', 'storage', 'events'],
  video: ['core', 'cache', 'storage', 'events', 'account'],
  like: ['core', 'cache', 'storage', 'events', 'account', 'video'],
  comment: ['core', 'cache', 'storage', 'events', 'account', 'video'],
  social: ['core', 'cache', 'storage', 'events', 'account', 'video'],
  message: ['core', 'cache', 'storage', 'events', 'account', 'video'],
  notification: ['core', 'cache', 'storage', 'events', 'account', 'video', 'like', 'comment', 'social'],
  feed: ['core', 'cache', 'storage', 'events', 'account', 'video', 'like', 'comment', 'social'],
  schema: [], // every other library (below)
};
const LIBS = Object.keys(LIB_DEPENDENCIES);
LIB_DEPENDENCIES.schema = LIBS.filter((l) => l !== 'schema');

const layering = LIBS.map((lib) => ({
  files: [`libs/${lib}/src/**/*.ts`],
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          {
            group: LIBS.filter((l) => !LIB_DEPENDENCIES[lib].includes(l)).map((l) => `@app/${l}`),
            message: `libs/${lib} may import only ${LIB_DEPENDENCIES[lib].map((l) => '@app/' + l).join(', ') || 'no other library'} (docs/ARCHITECTURE.md, "Dependencies point one way"); its own files by relative path.`,
          },
          { group: ['**/apps/**'], message: 'a library never imports an app' },
        ],
      },
    ],
  },
}));

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'test-artifacts/**',
      'apps/web/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-extraneous-class': 'off',
    },
  },
  {
    files: ['test/**/*.ts', '**/*.spec.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  ...layering,
);
