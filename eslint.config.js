// ESLint flat config (CONTRIBUTING.md § Lint): typescript-eslint's recommended rules over the TypeScript
// sources, plus the few this codebase relies on. Type-aware rules (no-floating-promises) use the
// project's tsconfig.json. Run with `npm run lint`.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', 'dashboard/vendor/**', 'build/**', '.tools/**', 'test-engines/**', 'examples/**'],
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // One import statement per module (type and value imports may share it or not).
      'no-duplicate-imports': ['error', { includeExports: false, allowSeparateTypeImports: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // A promise nobody awaits loses its rejection: await it, return it, or mark it `void` with a catch.
      // node:test's describe/it return promises that the runner tracks itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] },
          ],
        },
      ],
      // `any` needs a reason: an inline disable with one.
      '@typescript-eslint/no-explicit-any': 'error',
      // Empty functions are callbacks on purpose (`() => {}` listeners, no-op loggers).
      '@typescript-eslint/no-empty-function': 'off',
      // Namespaces merge types with values (errors registry); allowed as declarations only.
      '@typescript-eslint/no-namespace': ['error', { allowDeclarations: true }],
    },
  },
  {
    // Tests read the wire's JSON answers loosely (that is what they check); the sources may not.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
