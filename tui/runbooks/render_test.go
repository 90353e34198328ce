package runbooks

import "testing"

func TestPrepare(t *testing.T) {
	in := "1. Look for `Can't\n   save`, then scale the writers to zero if it flaps, so they do not\n   pile up: see [Postgres down](troubleshooting.md#postgres-down),\n   [here](#x) and [docs](https://example.com/a.md).\n\n```sh\necho '[a](b.md)'\nline one\nline two\n```\n\nA paragraph\nthat wraps.\n"
	want := "1. Look for `Can't save`, then scale the writers to zero if it flaps, so they do not pile up: see [Postgres down](#postgres-down), [here](#x) and [docs](https://example.com/a.md).\n\n```sh\necho '[a](b.md)'\nline one\nline two\n```\n\nA paragraph that wraps.\n"
	if got := prepare(in); got != want {
		t.Errorf("prepare =\n%q\nwant\n%q", got, want)
	}
}
