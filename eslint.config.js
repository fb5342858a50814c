// ESLint (flat config) for the collector (pwa/) and its Node tests (tests/js/). Lint only: no
// formatting rules. Lives at the repository root, never inside pwa/, which the server publishes
// file by file (server/pwa.py).
import js from '@eslint/js';
import globals from 'globals';

export default [
  js.configs.recommended,
  {
    // The app: ES modules loaded by the browser as they are (no bundler).
    files: ['pwa/js/**/*.js'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: { ...globals.browser },
    },
  },
  {
    // The staff site's scripts: browser modules too (the form preview imports the collector's).
    files: ['server/static/**/*.js'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: { ...globals.browser },
    },
  },
  {
    // The service worker: a classic script, not a module. The server writes
    // `const PRECACHE = {...};` above the file's first line when it serves it (server/pwa.py).
    files: ['pwa/sw.js'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'script',
      globals: { ...globals.serviceworker, PRECACHE: 'readonly' },
    },
  },
  {
    // Tests and the CLIs pytest runs: Node ES modules.
    files: ['tests/js/**/*.mjs'],
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: { ...globals.node },
    },
  },
];
