// Vigie in a real Chromium: run by scripts/test-browser against `vigie serve --demo`.
import { admin } from "./admin.mjs";
import { cooperation } from "./cooperation.mjs";
import { run } from "./lib.mjs";
import { lifecycle } from "./lifecycle.mjs";
import { registry } from "./registry.mjs";
import { story } from "./story.mjs";

// VIGIE_ONLY=text runs the tests whose name contains it (a quick loop while working).
const only = process.env.VIGIE_ONLY;
await run([...registry, ...story, ...lifecycle, ...admin, ...cooperation].filter(([name]) => !only || name.includes(only)));
