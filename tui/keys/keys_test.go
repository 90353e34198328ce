package keys

import (
	"fmt"
	"reflect"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// Every binding of the map has keys and help text: help is generated from
// the map alone.
func TestEveryBindingIsDocumented(t *testing.T) {
	n := 0
	var walk func(path string, v reflect.Value)
	walk = func(path string, v reflect.Value) {
		switch b := v.Interface().(type) {
		case key.Binding:
			n++
			if len(b.Keys()) == 0 || b.Help().Key == "" || b.Help().Desc == "" {
				t.Errorf("%s: keys %q help %+v", path, b.Keys(), b.Help())
			}
			return
		case []key.Binding:
			for i, x := range b {
				walk(fmt.Sprintf("%s[%d]", path, i), reflect.ValueOf(x))
			}
			return
		}
		if v.Kind() == reflect.Struct {
			for i := range v.NumField() {
				walk(path+"."+v.Type().Field(i).Name, v.Field(i))
			}
		}
	}
	walk("KeyMap", reflect.ValueOf(Default()))
	if n < 80 {
		t.Errorf("walked only %d bindings", n)
	}
}

func TestEnabledAndIndex(t *testing.T) {
	km := Default()
	kb := km.Backups
	kb.Prune.SetEnabled(false)
	if got := Enabled(kb.TakeBackup, kb.Prune, kb.Verify); len(got) != 2 || got[1].Help().Key != "v" {
		t.Errorf("Enabled: %v", got)
	}
	three := tea.KeyPressMsg{Code: '3', Text: "3"}
	if i := Index(three, kb.Components); i != 2 {
		t.Errorf("3 is component %d", i)
	}
	if i := Index(tea.KeyPressMsg{Code: 'x', Text: "x"}, kb.Components); i != -1 {
		t.Errorf("x is component %d", i)
	}
}

// A step's description keeps the shared binding's keys.
func TestStepBindingsShareKeys(t *testing.T) {
	km := Default()
	for name, pair := range map[string][2]key.Binding{
		"restore options": {km.Restore.Options, km.Enter},
		"restore undo":    {km.Restore.UndoEdit, km.Back},
		"restore before":  {km.Restore.JustBefore, km.Enter},
		"restore table":   {km.Restore.ToggleTable, km.Toggle},
		"backups start":   {km.Backups.Start, km.Enter},
		"runbooks close":  {km.Runbooks.Close, km.Back},
		"metrics enlarge": {km.Metrics.Enlarge, km.Enter},
	} {
		if !reflect.DeepEqual(pair[0].Keys(), pair[1].Keys()) || pair[0].Help().Key != pair[1].Help().Key {
			t.Errorf("%s: %q/%q, want %q/%q", name, pair[0].Keys(), pair[0].Help().Key, pair[1].Keys(), pair[1].Help().Key)
		}
	}
}
