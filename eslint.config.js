import neostandard from 'neostandard'

/**
 * The style js-libp2p and Helia are written in: standard, for TypeScript.
 * `void promise` as a statement marks a promise deliberately not awaited
 * (as ts-standard allows), and `_` a value deliberately unused; generated
 * protobuf codecs are left as protons wrote them.
 */
export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'node_modules/**', 'src/protocol/pb/**'] }),
  {
    files: ['**/*.ts'],
    rules: {
      'no-void': ['error', { allowAsStatement: true }],
      // `for await (const _ of it)` counts or drains
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', caughtErrors: 'none', ignoreRestSiblings: true, varsIgnorePattern: '^_' }]
    }
  },
  {
    // the web page's script runs in a browser
    files: ['webui/**/*.js'],
    languageOptions: { globals: { document: 'readonly', window: 'readonly', fetch: 'readonly', Node: 'readonly', EventSource: 'readonly', confirm: 'readonly', URL: 'readonly' } }
  }
]
