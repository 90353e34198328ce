//go:build linux

package proc

// WrapReexec is Wrap without setpriv: the re-execution of this binary.
func WrapReexec(dir, path string) (string, error) { return wrap(dir, path, "") }

// SetprivPath is setpriv's path, "" when Wrap re-executes instead.
var SetprivPath = setprivPath
