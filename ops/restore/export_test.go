package restore

// SetHook makes f run at point (e.g. "after:config.apply") in e's runs;
// its error fails the step there.
func SetHook(e *Engine, point string, f func() error) {
	if e.hooks == nil {
		e.hooks = map[string]func() error{}
	}
	e.hooks[point] = f
}

// SetReplayBatch makes Redis replays send pipelines of at most keys keys
// or bytes bytes until the test ends.
func SetReplayBatch(t interface{ Cleanup(func()) }, keys, bytes int) {
	k, b := replayBatchKeys, replayBatchBytes
	replayBatchKeys, replayBatchBytes = keys, bytes
	t.Cleanup(func() { replayBatchKeys, replayBatchBytes = k, b })
}
