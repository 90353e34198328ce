package restore

// SetHook makes f run at point (e.g. "after:config.apply") in e's runs;
// its error fails the step there.
func SetHook(e *Engine, point string, f func() error) {
	if e.hooks == nil {
		e.hooks = map[string]func() error{}
	}
	e.hooks[point] = f
}

// SetDirHook makes f run with a directory at point ("pitr.unpacked":
// the base backup just unpacked; "pitr.verified": after pg_verifybackup).
func SetDirHook(e *Engine, point string, f func(dir string) error) {
	if e.dirHooks == nil {
		e.dirHooks = map[string]func(string) error{}
	}
	e.dirHooks[point] = f
}

// SetReplayBatch makes Redis replays send pipelines of at most keys keys
// or bytes bytes until the test ends.
func SetReplayBatch(t interface{ Cleanup(func()) }, keys, bytes int) {
	k, b := replayBatchKeys, replayBatchBytes
	replayBatchKeys, replayBatchBytes = keys, bytes
	t.Cleanup(func() { replayBatchKeys, replayBatchBytes = k, b })
}
