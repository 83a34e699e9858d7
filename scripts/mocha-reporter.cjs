// mocha's spec reporter, plus one plain closing line ("N passed, N failed,
// N skipped") that CI reads in any language. The suite runs with one retry
// (the end-to-end tests share a 2-core machine with real VMs and namespaces);
// every test that needed it is named at the end, so a flaky test stays visible.
const Mocha = require('mocha');
const { EVENT_RUN_END, EVENT_TEST_RETRY } = Mocha.Runner.constants;

class RoamReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const retried = [];
    runner.on(EVENT_TEST_RETRY, (test, err) => {
      retried.push(`${test.fullTitle()} — first attempt: ${String(err && err.message).split('\n')[0].slice(0, 200)}`);
    });
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || {};
      if (retried.length) {
        process.stdout.write(`\n${retried.length} test(s) needed a retry (the first attempt's error is shown):\n`);
        for (const r of retried) process.stdout.write(`  - ${r}\n`);
      }
      process.stdout.write(`\n${s.passes || 0} passed, ${s.failures || 0} failed, ${s.pending || 0} skipped\n`);
    });
  }
}
module.exports = RoamReporter;
