package version

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

func TestGet(t *testing.T) {
	old := [3]string{Version, Commit, Date}
	t.Cleanup(func() { Version, Commit, Date = old[0], old[1], old[2] })
	Version, Commit, Date = "v1.2.3-4-gabcdef0-dirty", "abcdef0123456789abcdef0123456789abcdef01", "2026-01-02T03:04:05Z"
	i := Get()
	if i.Version != Version || i.Commit != Commit || i.Date != Date {
		t.Errorf("Get() = %+v, want the -X values", i)
	}
	if i.GoVersion != runtime.Version() || i.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("Get() = %+v, want this Go and platform", i)
	}
	if String() != Version {
		t.Errorf("String() = %q", String())
	}
	b, err := json.Marshal(i)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"schema":"opsdeck.version/v1"`, `"version":`, `"commit":`, `"date":`, `"go_version":`, `"platform":`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON %s lacks %s", b, k)
		}
	}
}

func TestLine(t *testing.T) {
	i := Info{Version: "v1.2.3", Commit: "abcdef0123456789", Date: "2026-01-02T03:04:05Z", GoVersion: "go1.26.8", Platform: "linux/amd64"}
	if got, want := i.Line(), "v1.2.3 (commit abcdef012345, 2026-01-02T03:04:05Z, go1.26.8 linux/amd64)"; got != want {
		t.Errorf("Line() = %q, want %q", got, want)
	}
	i = Info{Version: "dev", GoVersion: "go1.26.8", Platform: "darwin/arm64"}
	if got, want := i.Line(), "dev (go1.26.8 darwin/arm64)"; got != want {
		t.Errorf("Line() = %q, want %q", got, want)
	}
}
