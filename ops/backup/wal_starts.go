package backup

// WALStarts returns where each base backup of sets needs the WAL from,
// oldest first: the sets whose base component succeeded.
func WALStarts(sets []Set) []WALStart {
	var out []WALStart
	for i := len(sets) - 1; i >= 0; i-- {
		if b, ok := walStartOf(sets[i]); ok {
			out = append(out, b)
		}
	}
	return out
}

// walStartOf is the WAL start of a set's base backup, when it has one
// that succeeded.
func walStartOf(s Set) (WALStart, bool) { return BaseStartOf(s.Manifest) }

// BaseStartOf returns where a recovery from the set's base backup starts
// and becomes consistent, false when the set holds no good base backup.
func BaseStartOf(m *Manifest) (WALStart, bool) {
	if m == nil {
		return WALStart{}, false
	}
	c, ok := m.Component(Base)
	if !ok || c.Base == nil || c.Status != StatusOK {
		return WALStart{}, false
	}
	return WALStart{
		ID: m.ID, SystemID: c.Base.SystemID, Timeline: c.Base.Timeline,
		Start: c.Base.StartLSN, Stop: c.Base.StopLSN, At: c.End,
	}, true
}
