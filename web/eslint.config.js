// Lints the pages' scripts (ES modules served from crates/vigie-server/assets; the service
// worker is a classic script; vendored Leaflet is left as shipped) and the browser tests.
// Run from the repository's root (see package.json): the paths are from there.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["crates/vigie-server/assets/vendor/**"] },
  { ...js.configs.recommended },
  {
    files: ["crates/vigie-server/assets/*.js"],
    languageOptions: {
      sourceType: "module",
      // Leaflet is loaded before the modules as a classic script.
      globals: { ...globals.browser, L: "readonly" },
    },
  },
  {
    files: ["crates/vigie-server/assets/sw.js"],
    languageOptions: { sourceType: "script", globals: globals.serviceworker },
  },
  {
    files: ["web/tests/**/*.mjs"],
    // The functions given to page.evaluate run in the browser.
    languageOptions: { sourceType: "module", globals: { ...globals.node, ...globals.browser } },
  },
];
