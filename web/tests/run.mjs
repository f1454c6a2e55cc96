// Vigie in a real Chromium: run by scripts/test-browser against `vigie serve --demo`.
import { run } from "./lib.mjs";
import { registry } from "./registry.mjs";
import { story } from "./story.mjs";

await run([...registry, ...story]);
