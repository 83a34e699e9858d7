// Process entry of the `roam` command (bin/roam.js loads this from dist/).
import { run } from './main.js';

process.exitCode = await run(process.argv.slice(2));
