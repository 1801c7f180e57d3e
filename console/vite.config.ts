import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// Two pages: the console (index.html, served at /console/) and the API reference
// (docs/index.html, served at /docs/). Both load their assets from /console/assets/.
export default defineConfig({
  base: '/console/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      input: {
        console: resolve(import.meta.dirname, 'index.html'),
        docs: resolve(import.meta.dirname, 'docs/index.html'),
      },
    },
  },
});
