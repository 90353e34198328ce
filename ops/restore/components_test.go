package restore

import (
	"slices"
	"testing"

	"github.com/opsdeck/opsdeck/ops/backup"
)

// Every backup component that says it is restorable is restored by a full
// restore and by its own kind, and nothing else is.
func TestRestoresTheRestorableComponents(t *testing.T) {
	var want []string
	for _, c := range backup.SetComponents() {
		if !c.Restorable() {
			if _, err := componentsOf(c.Name()); err == nil {
				t.Errorf("%s is not restorable, yet a restore of it is planned", c.Name())
			}
			continue
		}
		want = append(want, c.Name())
		got, err := componentsOf(c.Name())
		if err != nil || !slices.Equal(got, []string{c.Name()}) {
			t.Errorf("componentsOf(%q) = %v, %v; want [%s]", c.Name(), got, err, c.Name())
		}
	}
	full, err := componentsOf(Full)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	full = slices.Sorted(slices.Values(full))
	if !slices.Equal(full, want) {
		t.Errorf("a full restore restores %v; the restorable components are %v", full, want)
	}
}
