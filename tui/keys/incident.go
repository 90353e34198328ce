package keys

import "charm.land/bubbles/v2/key"

// Incident holds incident mode's keys: Open works on every tab (it goes to
// the Incident tab and asks for the level and title); the others are the
// Incident tab's. Levels picks P0–P3 in the opening form.
type Incident struct {
	Open, Note, Bundle, Close key.Binding
	Levels                    []key.Binding
}

func defaultIncident() Incident {
	in := Incident{
		Open:   key.NewBinding(key.WithKeys("i"), key.WithHelp("i", "open incident")),
		Note:   key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "add note")),
		Bundle: key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "diagnostic bundle")),
		Close:  key.NewBinding(key.WithKeys("C"), key.WithHelp("C", "close incident")),
	}
	for _, l := range []string{"0", "1", "2", "3"} {
		in.Levels = append(in.Levels, key.NewBinding(key.WithKeys(l), key.WithHelp(l, "P"+l)))
	}
	return in
}
