// Every test file runs in one bun process: settings made here hold for all of
// them from the start, instead of depending on which file ran first.
// In-process daemons and servers log only errors (their info lines would
// bury the test output); a test that reads log lines spawns weft with its
// own WEFT_LOG.
process.env.WEFT_LOG ??= "error";
