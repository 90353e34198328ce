package pgwal

import (
	"sort"
	"time"
)

// RelMap names the relation files of one database at a moment of the
// WAL: the records name a relation by its file (RelFileNode), and a
// dropped or truncated relation's file is no longer in the live catalog.
// opsdeck stores one with each base backup and more while streaming.
type RelMap struct {
	// LSN is where the WAL was when the map was read: every relation in
	// it existed there.
	LSN   LSN       `json:"lsn"`
	Taken time.Time `json:"taken"`
	// Database and DB are the database's name and OID.
	Database string `json:"database"`
	DB       uint32 `json:"db_oid"`
	// Relations are the database's relations with storage, pg_catalog's
	// included (mapped catalogs by their current file).
	Relations []RelEntry `json:"relations"`
}

// RelEntry is one relation of a map.
type RelEntry struct {
	File uint32 `json:"file"`
	OID  uint32 `json:"oid"`
	// Name is schema.name.
	Name string `json:"name"`
	// Kind is pg_class.relkind: r table, i index, t TOAST table, m
	// materialized view, S sequence, p/I partitioned (no storage).
	Kind string `json:"kind"`
	// Owner is the table an index or TOAST table belongs to (its OID).
	Owner uint32 `json:"owner,omitempty"`
	// Rows is pg_class.reltuples (an estimate; 0 unknown).
	Rows int64 `json:"rows,omitempty"`
}

// Catalog reports whether the relation is one of PostgreSQL's own.
func (e RelEntry) Catalog() bool {
	return len(e.Name) > 11 && e.Name[:11] == "pg_catalog."
}

// RelMaps are the maps of one database, in LSN order, to look files up in.
type RelMaps struct {
	maps  []*RelMap
	files []map[uint32]int // per map: file → index in Relations
	oids  []map[uint32]int // per map: OID → index in Relations
}

// NewRelMaps indexes maps (of one database, in any order).
func NewRelMaps(maps []*RelMap) *RelMaps {
	ms := append([]*RelMap(nil), maps...)
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].LSN < ms[j].LSN })
	r := &RelMaps{maps: ms}
	for _, m := range ms {
		f, o := make(map[uint32]int, len(m.Relations)), make(map[uint32]int, len(m.Relations))
		for i, e := range m.Relations {
			f[e.File], o[e.OID] = i, i
		}
		r.files, r.oids = append(r.files, f), append(r.oids, o)
	}
	return r
}

// Len is the number of maps.
func (r *RelMaps) Len() int { return len(r.maps) }

// DB is the maps' database OID (0 without maps).
func (r *RelMaps) DB() uint32 {
	if len(r.maps) == 0 {
		return 0
	}
	return r.maps[0].DB
}

// File names the relation whose file was file at lsn: from the newest map
// at or before lsn that has the file, else the oldest after it (a
// relation made after the map before it). The second result is the map's
// index, for Owner and After.
func (r *RelMaps) File(file uint32, lsn LSN) (RelEntry, int, bool) {
	at := sort.Search(len(r.maps), func(i int) bool { return r.maps[i].LSN > lsn })
	for i := at - 1; i >= 0; i-- {
		if j, ok := r.files[i][file]; ok {
			return r.maps[i].Relations[j], i, true
		}
	}
	for i := at; i < len(r.maps); i++ {
		if j, ok := r.files[i][file]; ok {
			return r.maps[i].Relations[j], i, true
		}
	}
	return RelEntry{}, -1, false
}

// Owner is the table e belongs to, through its TOAST table when e is a
// TOAST index, as map i knows it; e itself when it is no index or TOAST.
func (r *RelMaps) Owner(e RelEntry, i int) RelEntry {
	for range 2 {
		if e.Owner == 0 || i < 0 {
			return e
		}
		j, ok := r.oids[i][e.Owner]
		if !ok {
			return e
		}
		e = r.maps[i].Relations[j]
	}
	return e
}

// Later reports what the first map after lsn says of relation oid:
// whether it still exists and with which file. A relation that kept its
// OID past a commit that unlinked one of its files was truncated or
// rewritten, not dropped. known is false when no map is after lsn.
func (r *RelMaps) Later(oid uint32, lsn LSN) (file uint32, exists, known bool) {
	i := sort.Search(len(r.maps), func(i int) bool { return r.maps[i].LSN > lsn })
	if i == len(r.maps) {
		return 0, false, false
	}
	if j, ok := r.oids[i][oid]; ok {
		return r.maps[i].Relations[j].File, true, true
	}
	return 0, false, true
}

// OID names relation oid as the newest map knows it.
func (r *RelMaps) OID(oid uint32) (RelEntry, bool) {
	for i := len(r.maps) - 1; i >= 0; i-- {
		if j, ok := r.oids[i][oid]; ok {
			return r.maps[i].Relations[j], true
		}
	}
	return RelEntry{}, false
}
